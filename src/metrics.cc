#include "hotreload/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "hotreload/snapshot.h"
#include "name_text.h"

namespace hotreload {

namespace {

const std::shared_ptr<const std::vector<double>>& shared_default_bounds() {
  static const auto bounds = std::make_shared<const std::vector<double>>(std::vector<double>{
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
  return bounds;
}

}  // namespace

const std::vector<double>& DurationHistogram::default_bounds_seconds() {
  return *shared_default_bounds();
}

DurationHistogram::DurationHistogram()
    : bounds_(shared_default_bounds()), cumulative_(bounds_->size(), 0) {}

DurationHistogram::DurationHistogram(std::vector<double> upper_bounds_seconds)
    : bounds_(std::make_shared<const std::vector<double>>(std::move(upper_bounds_seconds))),
      cumulative_(bounds_->size(), 0) {
  if (!std::is_sorted(bounds_->begin(), bounds_->end()))
    throw std::invalid_argument("histogram bounds must be sorted ascending");
}

void DurationHistogram::observe(std::chrono::nanoseconds duration) {
  double seconds = std::chrono::duration<double>(duration).count();
  const std::vector<double>& bounds = *bounds_;
  for (std::size_t i = 0; i < bounds.size(); ++i)
    if (seconds <= bounds[i]) ++cumulative_[i];
  ++count_;
  sum_seconds_ += seconds;
}

void MetricsRecorder::record(const Decision& decision) {
  // A load has no duration to observe: only a snapshot's key count makes it worth an
  // entry (one per watched path would cost more than the watch itself).
  const bool worth_recording = decision.kind == DecisionKind::reloaded ||
                               (decision.kind == DecisionKind::loaded && decision.snapshot);
  if (!worth_recording) return;
  std::lock_guard lock(mu_);
  auto it = by_path_.find(decision.path);
  if (it == by_path_.end()) it = by_path_.try_emplace(std::string(decision.path)).first;
  if (decision.kind == DecisionKind::reloaded) it->second.durations.observe(decision.latency);
  if (decision.snapshot) it->second.snapshot_keys = decision.snapshot->keys.size();
}

std::function<void(const Decision&)> MetricsRecorder::observer() {
  return [this](const Decision& d) { record(d); };
}

WatchMetrics MetricsRecorder::collect(const Status& status) const {
  WatchMetrics m;
  m.path = status.path;
  m.volume = status.volume;
  // The initial load is a success too: it is what last_success_timestamp first reports.
  m.success_total = status.reloads + (status.hash ? 1 : 0);
  m.error_total = status.errors;
  if (status.last_reload)
    m.last_success_timestamp_seconds =
        std::chrono::duration<double>(status.last_reload->time_since_epoch()).count();
  if (status.hash) m.hash_hex = status.hash->hex();
  m.mode = status.mode;
  if (status.stalled_since)
    m.stalled_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                                      *status.stalled_since)
                            .count();
  std::lock_guard lock(mu_);
  auto it = by_path_.find(status.path);
  if (it != by_path_.end()) {
    m.reload_duration = it->second.durations;
    m.snapshot_keys = it->second.snapshot_keys;
  }
  return m;
}

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

bool is_valid_metric_prefix(std::string_view prefix) {
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = prefix[i];
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    bool digit = c >= '0' && c <= '9';
    if (!letter && !(digit && i > 0)) return false;
  }
  return true;
}

namespace {

// Prometheus floats: shortest round-trip form, with +Inf/-Inf/NaN spelled its way.
std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

std::string labels(const std::vector<std::pair<std::string, std::string>>& pairs) {
  if (pairs.empty()) return {};
  std::string out = "{";
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    if (i) out += ',';
    out += pairs[i].first;
    out += "=\"";
    // A label must be UTF-8, and a path need not be: names are written as in the logs.
    out += escape_label_value(escape_name(pairs[i].second));
    out += '"';
  }
  out += '}';
  return out;
}

// HELP text escapes only backslash and line feed.
std::string help_text(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out.push_back(c);
  }
  return out;
}

class Writer {
 public:
  explicit Writer(std::string_view prefix) : prefix_(prefix) {}

  void family(std::string_view name, std::string_view help, std::string_view type) {
    out_ += fmt::format("# HELP {}{} {}\n# TYPE {}{} {}\n", prefix_, name, help_text(help),
                        prefix_, name, type);
  }
  void sample(std::string_view name, const std::vector<std::pair<std::string, std::string>>& l,
              double value) {
    out_ += fmt::format("{}{}{} {}\n", prefix_, name, labels(l), number(value));
  }
  std::string take() { return std::move(out_); }

 private:
  std::string_view prefix_;
  std::string out_;
};

using Labels = std::vector<std::pair<std::string, std::string>>;

}  // namespace

std::string render_prometheus(const MetricsSnapshot& snapshot, std::string_view prefix) {
  if (!is_valid_metric_prefix(prefix))
    throw std::invalid_argument("invalid metric prefix \"" + std::string(prefix) +
                                "\": use letters, digits, '_' and ':', not starting with a digit");
  Writer w(prefix);
  const auto& watches = snapshot.watches;
  // Every sample of a watch: its path and volume, then the sample's own label, if any.
  auto labelled = [](const WatchMetrics& m, const char* name = nullptr, std::string value = {}) {
    Labels l{{"path", m.path}};
    if (!m.volume.empty()) l.emplace_back("volume", m.volume);
    if (name) l.emplace_back(name, std::move(value));
    return l;
  };

  w.family("success_total", "Contents accepted (the initial load and every reload).", "counter");
  for (const auto& m : watches) w.sample("success_total", labelled(m), double(m.success_total));

  w.family("error_total", "Failures: rejected contents, read errors, missing files.", "counter");
  for (const auto& m : watches) w.sample("error_total", labelled(m), double(m.error_total));

  w.family("last_success_timestamp_seconds",
           "Unix time at which the active content was accepted.", "gauge");
  for (const auto& m : watches)
    if (m.last_success_timestamp_seconds)
      w.sample("last_success_timestamp_seconds", labelled(m), *m.last_success_timestamp_seconds);

  w.family("content_hash_info",
           "SHA-256 of the active content, or of a directory's active snapshot (always 1).",
           "gauge");
  for (const auto& m : watches)
    if (m.hash_hex) w.sample("content_hash_info", labelled(m, "hash", *m.hash_hex), 1);

  w.family("mode_info", "How changes are detected: events (inotify) or poll (always 1).",
           "gauge");
  for (const auto& m : watches)
    w.sample("mode_info", labelled(m, "mode", std::string(to_string(m.mode))), 1);

  w.family("stalled_seconds",
           "How long a look has been stuck in a filesystem call (a volume whose server does "
           "not answer); 0 when none is.",
           "gauge");
  for (const auto& m : watches) w.sample("stalled_seconds", labelled(m), m.stalled_seconds);

  w.family("snapshot_keys", "Keys in the active snapshot of a watched directory.", "gauge");
  for (const auto& m : watches)
    if (m.snapshot_keys) w.sample("snapshot_keys", labelled(m), double(*m.snapshot_keys));

  w.family("reload_duration_seconds",
           "From the moment a change was noticed to the end of the callback.", "histogram");
  for (const auto& m : watches) {
    const DurationHistogram& h = m.reload_duration;
    for (std::size_t i = 0; i < h.upper_bounds_seconds().size(); ++i)
      w.sample("reload_duration_seconds_bucket", labelled(m, "le", number(h.upper_bounds_seconds()[i])),
               double(h.cumulative_counts()[i]));
    w.sample("reload_duration_seconds_bucket", labelled(m, "le", "+Inf"), double(h.count()));
    w.sample("reload_duration_seconds_sum", labelled(m), h.sum_seconds());
    w.sample("reload_duration_seconds_count", labelled(m), double(h.count()));
  }

  for (const MetricFamily& f : snapshot.extra) {
    w.family(f.name, f.help, f.type);
    for (const MetricSample& s : f.samples) w.sample(f.name, s.labels, s.value);
  }
  return w.take();
}

}  // namespace hotreload

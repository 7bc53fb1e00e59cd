// Metrics: what a service exposes about its watched files, in Prometheus text format.
//
// A MetricsRecorder listens to decisions (Options::on_decision) for what status() cannot
// tell — how long each reload took, how many keys a snapshot holds — and collect() joins
// that with Watcher::status() into a snapshot. render_prometheus() turns a snapshot into
// the text exposition format (version 0.0.4), so a service that embeds FileWatcher or
// VolumeWatcher serves the same metrics, under the same names, as the `hotreload watch`
// sidecar. Every sample carries path (the watched file or directory) and volume (the
// directory it belongs to):
//
//   hotreload_success_total                  counter: accepted contents (load + reloads)
//   hotreload_error_total                    counter: rejections, read errors, vanishings
//   hotreload_last_success_timestamp_seconds gauge: when the active content was accepted
//   hotreload_content_hash_info{hash}        gauge 1: the active content's (snapshot's) SHA-256
//   hotreload_mode_info{mode}                gauge 1: events or poll
//   hotreload_reload_duration_seconds        histogram: change noticed → callback done
//   hotreload_snapshot_keys                  gauge: keys in a watched directory's active
//                                            snapshot (VolumeWatcher only)
//
// One series per watch, never one per key: a directory may hold up to
// KeySelection::keys_max keys, and the keys themselves are in the log lines.
//
// The "hotreload_" prefix is a parameter, so existing dashboards keep their names.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hotreload/decision.h"
#include "hotreload/export.h"
#include "hotreload/file_watcher.h"
#include "hotreload/options.h"

namespace hotreload {

// A fixed-bucket histogram of durations, as Prometheus wants it: cumulative counts per
// upper bound, plus the count and sum of every observation.
class HOTRELOAD_EXPORT DurationHistogram {
 public:
  // 0.5 ms … 10 s: a reload is a read, a hash and a callback; anything above 10 s is stuck.
  static const std::vector<double>& default_bounds_seconds();

  // With the default bounds, shared by every histogram that uses them.
  DurationHistogram();
  explicit DurationHistogram(std::vector<double> upper_bounds_seconds);

  void observe(std::chrono::nanoseconds duration);

  const std::vector<double>& upper_bounds_seconds() const { return *bounds_; }
  // cumulative_counts()[i] = observations <= upper_bounds_seconds()[i].
  const std::vector<uint64_t>& cumulative_counts() const { return cumulative_; }
  uint64_t count() const { return count_; }
  double sum_seconds() const { return sum_seconds_; }

 private:
  std::shared_ptr<const std::vector<double>> bounds_;  // never null
  std::vector<uint64_t> cumulative_;
  uint64_t count_ = 0;
  double sum_seconds_ = 0;
};

// Everything exposed about one watched file or directory.
struct WatchMetrics {
  std::string path;
  std::string volume;  // the directory path belongs to (path itself for a VolumeWatcher)
  uint64_t success_total = 0;
  uint64_t error_total = 0;
  std::optional<double> last_success_timestamp_seconds;  // Unix time
  std::optional<std::string> hash_hex;                   // 64 hex digits
  ActiveMode mode = ActiveMode::events;
  DurationHistogram reload_duration;
  std::optional<std::size_t> snapshot_keys;  // a VolumeWatcher's active snapshot, once loaded
  // How long a look has been stuck inside a filesystem call (Status::stalled_since, on the
  // steady clock); 0 while the watch is not stalled.
  double stalled_seconds = 0;
};

// A metric family the caller adds beside the watch metrics (the CLI's action counters).
struct MetricSample {
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;
};
struct MetricFamily {
  std::string name;  // without the prefix, e.g. "action_failures_total"
  std::string help;
  std::string type;  // "counter" or "gauge"
  std::vector<MetricSample> samples;
};

struct MetricsSnapshot {
  std::vector<WatchMetrics> watches;
  std::vector<MetricFamily> extra;
};

// Collects what decisions alone reveal; thread-safe, and record() never blocks for long
// (one short lock), as Options::on_decision requires.
class HOTRELOAD_EXPORT MetricsRecorder {
 public:
  void record(const Decision& decision);
  // An on_decision callback that records into this recorder.
  std::function<void(const Decision&)> observer();

  // The metrics of one watch: its status joined with what its decisions recorded.
  WatchMetrics collect(const Status& status) const;

 private:
  struct Recorded {
    DurationHistogram durations{};
    std::optional<std::size_t> snapshot_keys;
  };
  mutable std::mutex mu_;
  std::map<std::string, Recorded, std::less<>> by_path_;
};

inline constexpr std::string_view kDefaultMetricsPrefix = "hotreload_";

// The Prometheus text exposition of a snapshot. A label value that is a name (a path) is
// first written as in the logs — a backslash doubled, a control byte or a byte that is not
// UTF-8 as \xHH, so the exposition stays UTF-8 and two paths never share a series — then
// escaped for the format (\\, \", \n).
HOTRELOAD_EXPORT std::string render_prometheus(const MetricsSnapshot& snapshot,
                                               std::string_view prefix = kDefaultMetricsPrefix);

// Escapes a label value for the text format: backslash, double quote and line feed.
HOTRELOAD_EXPORT std::string escape_label_value(std::string_view value);

// True if name is a valid metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*, or empty).
HOTRELOAD_EXPORT bool is_valid_metric_prefix(std::string_view prefix);

}  // namespace hotreload

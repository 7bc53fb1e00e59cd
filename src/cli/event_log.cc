#include "event_log.h"

#include <time.h>

#include <spdlog/details/log_msg.h>
#include <spdlog/details/null_mutex.h>
#include <spdlog/sinks/base_sink.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "duration.h"
#include "hotreload/errors.h"
#include "hotreload/snapshot.h"
#include "name_text.h"

namespace hotreload::cli {

namespace {

using Json = nlohmann::ordered_json;

std::string_view level_of(DecisionKind kind) {
  switch (kind) {
    case DecisionKind::rejected:
    case DecisionKind::read_error:
    case DecisionKind::missing:
    case DecisionKind::slow_callback:
    case DecisionKind::stalled: return "warn";
    default: return "info";
  }
}

// Names are escaped before they get here (escape_name); a reason (a validator's stderr)
// may still hold bytes that are not UTF-8: replaced rather than thrown on.
std::string dump(const Json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Json header(std::string_view level, std::string_view event, std::string_view path,
           std::string_view volume) {
  Json j;
  j["ts"] = timestamp_now();
  j["level"] = level;
  j["event"] = event;
  j["path"] = escape_name(path);
  j["volume"] = escape_name(volume);
  return j;
}

// Where a read_error or missing stopped: the library names it when it is not the watched
// path itself.
std::string_view at_of(const Decision& d) { return d.detail.empty() ? d.path : d.detail; }

std::string quoted_if_needed(std::string_view v) {
  if (!v.empty() && v.find_first_of(" \"=\t\n") == std::string_view::npos) return std::string(v);
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c == '\n' ? ' ' : c);
  }
  return out + "\"";
}

// The text line's additions to the library's: volume= when it says something the path
// does not, and a snapshot's key count and changed keys.
std::string text_fields(std::string_view path, std::string_view volume, const Snapshot* snapshot) {
  std::string out;
  if (volume != path) out += " volume=" + quoted_if_needed(escape_name(volume));
  if (!snapshot) return out;
  out += " keys=" + std::to_string(snapshot->keys.size());
  auto list = [&](const char* name, const std::vector<std::string>& keys) {
    if (keys.empty()) return;
    std::string joined;
    for (const std::string& key : keys) joined += (joined.empty() ? "" : ",") + escape_name(key);
    out += std::string(" ") + name + "=" + quoted_if_needed(joined);
  };
  list("added", snapshot->added);
  list("changed", snapshot->changed);
  list("removed", snapshot->removed);
  return out;
}

}  // namespace

std::string timestamp_now() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  time_t secs = static_cast<time_t>(ms / 1000);
  struct tm utc;
  ::gmtime_r(&secs, &utc);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

void EventLog::write(std::FILE* to, const std::string& line) {
  std::lock_guard lock(mu_);
  std::fwrite(line.data(), 1, line.size(), to);
  std::fputc('\n', to);
  std::fflush(to);
}

void EventLog::decision(const Decision& d) {
  // slow_callback is outside the contract: stderr, in the log's format.
  std::FILE* to = d.kind == DecisionKind::slow_callback ? err_ : out_;
  if (format_ == LogFormat::text) {  // the library's line (its names escaped), and ours
    write(to, timestamp_now() + " " + std::string(level_of(d.kind)) + " " + format_decision(d) +
                  text_fields(d.path, d.volume, d.snapshot));
    return;
  }
  Json j = header(level_of(d.kind), to_string(d.kind), d.path, d.volume);
  if (d.hash) j["hash"] = d.hash->hex();
  if (d.snapshot) {
    j["keys"] = d.snapshot->keys.size();
    j["added"] = escape_names(d.snapshot->added);
    j["changed"] = escape_names(d.snapshot->changed);
    j["removed"] = escape_names(d.snapshot->removed);
  }
  switch (d.kind) {
    case DecisionKind::rejected:
      j["error"] = d.detail.empty() ? d.error.message() : std::string(d.detail);
      break;
    case DecisionKind::read_error:
    case DecisionKind::missing:
      j["error"] = d.error.message();
      j["errno"] = error_name(d.error);
      j["at"] = escape_name(at_of(d));
      break;
    case DecisionKind::mode:
      j["mode"] = to_string(d.mode);
      j["reason"] = d.detail;
      break;
    case DecisionKind::loaded:
      j["mode"] = to_string(d.mode);
      if (!d.detail.empty()) j["reason"] = d.detail;
      break;
    case DecisionKind::reloaded:
      j["latency_ms"] = std::chrono::duration<double, std::milli>(d.latency).count();
      j["callback_ms"] = std::chrono::duration<double, std::milli>(d.callback_duration).count();
      break;
    case DecisionKind::slow_callback:
      j["callback_ms"] = std::chrono::duration<double, std::milli>(d.callback_duration).count();
      break;
    case DecisionKind::stalled:
    case DecisionKind::resumed: j["detail"] = d.detail; break;
    case DecisionKind::restored: break;
  }
  j["reloads"] = d.reloads;
  j["errors"] = d.errors;
  write(to, dump(j));
}

void EventLog::action_failed(std::string_view path, std::string_view volume,
                             std::string_view action, std::string_view error, unsigned attempts,
                             std::optional<std::chrono::milliseconds> retry_in) {
  if (format_ == LogFormat::text) {
    write(out_, timestamp_now() + " error event=action_failed path=" +
                    quoted_if_needed(escape_name(path)) +
                    " action=" + std::string(action) + " error=" + quoted_if_needed(error) +
                    " attempts=" + std::to_string(attempts) +
                    (retry_in ? " retry_in=" + format_duration(*retry_in) : "") +
                    text_fields(path, volume, nullptr));
    return;
  }
  Json j = header("error", "action_failed", path, volume);
  j["action"] = action;
  j["error"] = error;
  j["attempts"] = attempts;
  if (retry_in) j["retry_in"] = format_duration(*retry_in);
  write(out_, dump(j));
}

void EventLog::action_delivered(std::string_view path, std::string_view volume,
                                std::string_view action, std::string_view url,
                                unsigned attempts) {
  if (format_ == LogFormat::text) {
    write(out_, timestamp_now() + " info event=action_delivered path=" +
                    quoted_if_needed(escape_name(path)) + " action=" + std::string(action) +
                    " url=" + quoted_if_needed(url) + " attempts=" + std::to_string(attempts) +
                    text_fields(path, volume, nullptr));
    return;
  }
  Json j = header("info", "action_delivered", path, volume);
  j["action"] = action;
  j["url"] = url;
  j["attempts"] = attempts;
  write(out_, dump(j));
}

void EventLog::stopped(const Status& s) {
  std::string hash = s.hash ? s.hash->hex() : "";
  if (format_ == LogFormat::text) {
    write(out_, timestamp_now() + " info event=stopped path=" + quoted_if_needed(escape_name(s.path)) +
                    " hash=" + (s.hash ? s.hash->short_hex() : "none") +
                    " reloads=" + std::to_string(s.reloads) + " errors=" + std::to_string(s.errors) +
                    text_fields(s.path, s.volume, nullptr));
    return;
  }
  Json j = header("info", "stopped", s.path, s.volume);
  if (s.hash) j["hash"] = hash;
  j["reloads"] = s.reloads;
  j["errors"] = s.errors;
  write(out_, dump(j));
}

void EventLog::recheck(const Status& s, std::string_view reason) {
  if (format_ == LogFormat::text) {
    write(out_, timestamp_now() + " info event=recheck path=" + quoted_if_needed(escape_name(s.path)) +
                    " hash=" + (s.hash ? s.hash->short_hex() : "none") +
                    " reason=" + quoted_if_needed(reason) + text_fields(s.path, s.volume, nullptr));
    return;
  }
  Json j = header("info", "recheck", s.path, s.volume);
  if (s.hash) j["hash"] = s.hash->hex();
  j["reason"] = reason;
  write(out_, dump(j));
}

void EventLog::fatal(std::string_view message) {
  if (format_ == LogFormat::text) write(err_, std::string(message));
  else note("error", message);
}

std::optional<std::vector<std::pair<std::string, std::string>>> key_value_fields(
    std::string_view line) {
  std::vector<std::pair<std::string, std::string>> fields;
  std::size_t i = 0;
  while (i < line.size()) {
    auto eq = line.find('=', i);
    if (eq == std::string_view::npos || eq == i) return std::nullopt;
    std::string key(line.substr(i, eq - i));
    if (key.find_first_of(" \"") != std::string::npos) return std::nullopt;
    std::string value;
    i = eq + 1;
    if (i < line.size() && line[i] == '"') {  // quoted: \" and \\ stand for " and \.
      for (++i;; ++i) {
        if (i >= line.size()) return std::nullopt;
        if (line[i] == '"') break;
        if (line[i] == '\\' && i + 1 < line.size()) ++i;
        value.push_back(line[i]);
      }
      ++i;
    } else {
      auto end = line.find(' ', i);
      if (end == std::string_view::npos) end = line.size();
      value = line.substr(i, end - i);
      i = end;
    }
    fields.emplace_back(std::move(key), std::move(value));
    if (i < line.size() && line[i] != ' ') return std::nullopt;
    while (i < line.size() && line[i] == ' ') ++i;
  }
  if (fields.empty()) return std::nullopt;
  return fields;
}

void EventLog::library_line(std::string_view level, std::string_view line) {
  if (format_ == LogFormat::text) {
    note(level, line);
    return;
  }
  auto fields = key_value_fields(line);
  if (!fields) {
    note(level, line);
    return;
  }
  Json j;
  j["ts"] = timestamp_now();
  j["level"] = level;
  for (auto& [key, value] : *fields) {
    if (key == "ts" || key == "level") continue;
    j[key] = key == "path" || key == "volume" ? escape_name(value) : value;
  }
  write(err_, dump(j));
}

class EventLog::LibrarySink final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
 public:
  explicit LibrarySink(EventLog& log) : log_(log) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string_view level = "info";
    if (msg.level == spdlog::level::warn) level = "warn";
    else if (msg.level >= spdlog::level::err) level = "error";
    else if (msg.level <= spdlog::level::debug) level = "debug";
    log_.library_line(level, std::string_view(msg.payload.data(), msg.payload.size()));
  }
  void flush_() override {}

 private:
  EventLog& log_;  // serialises the writes
};

std::shared_ptr<spdlog::sinks::sink> EventLog::library_sink() {
  return std::make_shared<LibrarySink>(*this);
}

void EventLog::note(std::string_view level, std::string_view message) {
  if (format_ == LogFormat::text) {
    write(err_, timestamp_now() + " " + std::string(level) + " " + std::string(message));
    return;
  }
  Json j;
  j["ts"] = timestamp_now();
  j["level"] = level;
  j["message"] = message;
  write(err_, dump(j));
}

}  // namespace hotreload::cli

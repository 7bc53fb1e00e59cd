#include "event_log.h"

#include <time.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "hotreload/errors.h"
#include "hotreload/snapshot.h"

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

// Paths and reasons may hold bytes that are not UTF-8: replace them rather than throw.
std::string dump(const Json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Json header(std::string_view level, std::string_view event, std::string_view path,
           std::string_view volume) {
  Json j;
  j["ts"] = timestamp_now();
  j["level"] = level;
  j["event"] = event;
  j["path"] = path;
  j["volume"] = volume;
  return j;
}

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
  if (volume != path) out += " volume=" + quoted_if_needed(volume);
  if (!snapshot) return out;
  out += " keys=" + std::to_string(snapshot->keys.size());
  auto list = [&](const char* name, const std::vector<std::string>& keys) {
    if (keys.empty()) return;
    std::string joined;
    for (const std::string& key : keys) joined += (joined.empty() ? "" : ",") + key;
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
  if (format_ == LogFormat::text || d.kind == DecisionKind::slow_callback) {
    std::FILE* to = format_ == LogFormat::text ? out_ : err_;
    write(to, timestamp_now() + " " + std::string(level_of(d.kind)) + " " + format_decision(d) +
                  text_fields(d.path, d.volume, d.snapshot));
    return;
  }
  Json j = header(level_of(d.kind), to_string(d.kind), d.path, d.volume);
  if (d.hash) j["hash"] = d.hash->hex();
  if (d.snapshot) {
    j["keys"] = d.snapshot->keys.size();
    j["added"] = d.snapshot->added;
    j["changed"] = d.snapshot->changed;
    j["removed"] = d.snapshot->removed;
  }
  switch (d.kind) {
    case DecisionKind::rejected:
      j["error"] = d.detail.empty() ? d.error.message() : std::string(d.detail);
      break;
    case DecisionKind::read_error:
    case DecisionKind::missing:
      j["error"] = d.error.message();
      j["errno"] = error_name(d.error);
      if (!d.detail.empty()) j["at"] = d.detail;
      break;
    case DecisionKind::mode:
      j["mode"] = to_string(d.mode);
      j["reason"] = d.detail;
      break;
    case DecisionKind::loaded: j["mode"] = to_string(d.mode); break;
    case DecisionKind::reloaded:
      j["latency_ms"] = std::chrono::duration<double, std::milli>(d.latency).count();
      j["callback_ms"] = std::chrono::duration<double, std::milli>(d.callback_duration).count();
      break;
    case DecisionKind::slow_callback: break;
    case DecisionKind::stalled:
    case DecisionKind::resumed: j["detail"] = d.detail; break;
  }
  j["reloads"] = d.reloads;
  j["errors"] = d.errors;
  write(out_, dump(j));
}

void EventLog::action_failed(std::string_view path, std::string_view volume,
                             std::string_view action, std::string_view error, unsigned attempts) {
  if (format_ == LogFormat::text) {
    write(out_, timestamp_now() + " error event=action_failed path=" + quoted_if_needed(path) +
                    " action=" + std::string(action) + " error=" + quoted_if_needed(error) +
                    " attempts=" + std::to_string(attempts) + text_fields(path, volume, nullptr));
    return;
  }
  Json j = header("error", "action_failed", path, volume);
  j["action"] = action;
  j["error"] = error;
  j["attempts"] = attempts;
  write(out_, dump(j));
}

void EventLog::stopped(const Status& s) {
  std::string hash = s.hash ? s.hash->hex() : "";
  if (format_ == LogFormat::text) {
    write(out_, timestamp_now() + " info event=stopped path=" + quoted_if_needed(s.path) +
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
    write(out_, timestamp_now() + " info event=recheck path=" + quoted_if_needed(s.path) +
                    " hash=" + (s.hash ? s.hash->short_hex() : "none") +
                    " reason=" + quoted_if_needed(reason) + text_fields(s.path, s.volume, nullptr));
    return;
  }
  Json j = header("info", "recheck", s.path, s.volume);
  if (s.hash) j["hash"] = s.hash->hex();
  j["reason"] = reason;
  write(out_, dump(j));
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

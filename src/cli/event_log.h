// EventLog: what `hotreload watch` tells its operator, one line per event on stdout.
//
// --log-format json follows the contract log pipelines depend on (README, "JSON log
// contract"): one object per line, flushed per line, with ts, level, event (loaded,
// reloaded, rejected, read_error, missing, mode, action_failed, action_delivered, recheck,
// stopped), path and
// volume;
// hash on loaded/reloaded/rejected; error on rejected/read_error/missing/action_failed;
// mode on mode/loaded; for a directory's loaded/reloaded/rejected, keys (the count) and
// the added/changed/removed arrays. Anything outside the contract (warnings, slow
// callbacks, the hub's own lines) goes to stderr, so stdout stays parseable; in JSON mode
// those are JSON objects too (ts, level, and event and its fields, or message). --log-format
// text prints the library's key=value lines, with volume= (when it is not the path
// itself), keys= and the non-empty added=/changed=/removed= lists (comma-separated)
// appended. File names (path, volume, at, keys) are written with escape_name (name_text.h)
// in both formats: UTF-8 on one line, lossless.
#pragma once

#include <spdlog/sinks/sink.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hotreload/decision.h"
#include "hotreload/watcher.h"

namespace hotreload::cli {

enum class LogFormat { text, json };

class EventLog {
 public:
  explicit EventLog(LogFormat format, std::FILE* out = stdout, std::FILE* err = stderr)
      : format_(format), out_(out), err_(err) {}

  void decision(const Decision& d);
  // retry_in: when the action will be tried again (a webhook being delivered), if it will.
  void action_failed(std::string_view path, std::string_view volume, std::string_view action,
                     std::string_view error, unsigned attempts,
                     std::optional<std::chrono::milliseconds> retry_in = std::nullopt);
  // A webhook accepted after failed attempts: the service has caught up.
  void action_delivered(std::string_view path, std::string_view volume, std::string_view action,
                        std::string_view url, unsigned attempts);
  void stopped(const Status& status);
  // A check of the watch was asked for (SIGHUP: reason "SIGHUP"); hash is the content
  // active when it was asked. What the check finds is logged as any change is.
  void recheck(const Status& status, std::string_view reason);
  // Outside the contract: to stderr, in either format.
  void warning(std::string_view message) { note("warn", message); }
  void notice(std::string_view message) { note("info", message); }
  // Why the tool stops (a PATH that cannot be loaded, a port that cannot be bound), to
  // stderr: the sentence itself in text, an error object in JSON.
  void fatal(std::string_view message);
  // A spdlog sink writing the library's own lines (the hub's: inotify_unavailable,
  // overflow…) to stderr as this log writes its other lines: "ts level line" in text, an
  // object with their key=value fields in JSON. The log must outlive the loggers using it.
  std::shared_ptr<spdlog::sinks::sink> library_sink();

  LogFormat format() const { return format_; }

 private:
  void write(std::FILE* to, const std::string& line);
  void note(std::string_view level, std::string_view message);
  void library_line(std::string_view level, std::string_view line);
  class LibrarySink;

  LogFormat format_;
  std::FILE* out_;
  std::FILE* err_;
  std::mutex mu_;
};

// RFC 3339 UTC with milliseconds: 2026-11-26T13:45:01.123Z.
std::string timestamp_now();

// The fields of a library line (`event=overflow detail="a b"`), in order; nullopt if it is
// not one: then it is logged as a message.
std::optional<std::vector<std::pair<std::string, std::string>>> key_value_fields(
    std::string_view line);

}  // namespace hotreload::cli

// EventLog: what `hotreload watch` tells its operator, one line per event on stdout.
//
// --log-format json follows the contract log pipelines depend on (README, "JSON log
// contract"): one object per line, flushed per line, with ts, level, event (loaded,
// reloaded, rejected, read_error, missing, mode, action_failed, recheck, stopped), path and
// volume;
// hash on loaded/reloaded/rejected; error on rejected/read_error/missing/action_failed;
// mode on mode/loaded; for a directory's loaded/reloaded/rejected, keys (the count) and
// the added/changed/removed arrays. Anything outside the contract (warnings, slow
// callbacks) goes to stderr, so stdout stays parseable. --log-format text prints the
// library's key=value lines, with volume= (when it is not the path itself), keys= and the
// non-empty added=/changed=/removed= lists (comma-separated) appended.
#pragma once

#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>

#include "hotreload/decision.h"
#include "hotreload/watcher.h"

namespace hotreload::cli {

enum class LogFormat { text, json };

class EventLog {
 public:
  explicit EventLog(LogFormat format, std::FILE* out = stdout, std::FILE* err = stderr)
      : format_(format), out_(out), err_(err) {}

  void decision(const Decision& d);
  void action_failed(std::string_view path, std::string_view volume, std::string_view action,
                     std::string_view error, unsigned attempts);
  void stopped(const Status& status);
  // A check of the watch was asked for (SIGHUP: reason "SIGHUP"); hash is the content
  // active when it was asked. What the check finds is logged as any change is.
  void recheck(const Status& status, std::string_view reason);
  // Outside the contract: to stderr, in either format.
  void warning(std::string_view message) { note("warn", message); }
  void notice(std::string_view message) { note("info", message); }

  LogFormat format() const { return format_; }

 private:
  void write(std::FILE* to, const std::string& line);
  void note(std::string_view level, std::string_view message);

  LogFormat format_;
  std::FILE* out_;
  std::FILE* err_;
  std::mutex mu_;
};

// RFC 3339 UTC with milliseconds: 2026-11-26T13:45:01.123Z.
std::string timestamp_now();

}  // namespace hotreload::cli

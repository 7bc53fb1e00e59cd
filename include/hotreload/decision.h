// Decision: one thing a watch decided, exactly as it is logged.
//
// The default logger prints it as one key=value line; Options::on_decision receives the
// same record, so metrics and the CLI's JSON logs never parse log text.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "hotreload/digest.h"
#include "hotreload/export.h"
#include "hotreload/options.h"

namespace spdlog {
class logger;
}

namespace hotreload {

struct Snapshot;

enum class DecisionKind {
  loaded,         // the initial content was accepted by start()
  reloaded,       // a changed content was accepted
  rejected,       // the callback refused a content (logged once per content)
  read_error,     // the file exists but cannot be read (logged once per cause)
  missing,        // the file, or a directory or link on its way, is gone (logged once)
  mode,           // the watch changed how it detects changes, and why
  slow_callback,  // the callback took longer than Options::slow_callback
  stalled,        // a filesystem call has not returned for Options::stall_timeout
  resumed,        // the stalled call returned; the watch checks again
  restored,       // after missing, read_error or a refusal, the active content is what the
                  // path holds again (nothing is reloaded: it is already in force)
};

HOTRELOAD_EXPORT std::string_view to_string(DecisionKind kind);

struct Decision {
  DecisionKind kind{};
  std::string_view path;          // the watched file, or the watched directory
  std::string_view volume;        // the directory it belongs to (the path itself for a volume)
  std::optional<Digest> hash;     // loaded, reloaded, rejected, restored
  std::optional<Digest> previous; // reloaded: the content it replaced
  std::error_code error;          // rejected, read_error, missing
  std::string_view detail;        // the rejection reason, why the mode changed, or (loaded)
                                  // why it started in that mode
  ActiveMode mode{};
  uint64_t reloads = 0;
  uint64_t errors = 0;
  // From the moment a change was noticed (event batch or poll) to the end of the callback.
  std::chrono::nanoseconds latency{0};
  std::chrono::nanoseconds callback_duration{0};
  // A VolumeWatcher's loaded, reloaded and rejected: the snapshot offered (its keys, and
  // which were added, changed, removed). Valid only during the call.
  const Snapshot* snapshot = nullptr;
};

// One line, key=value, e.g. "event=reloaded path=/etc/app/key hash=3f2a… reloads=4 errors=0".
// Names (path, a read_error's or missing's detail) are written as in every output of
// hotreload: a backslash doubled, a control byte or a byte that is not UTF-8 as \xHH.
HOTRELOAD_EXPORT std::string format_decision(const Decision& d);
HOTRELOAD_EXPORT void log_decision(spdlog::logger& logger, const Decision& d);

}  // namespace hotreload

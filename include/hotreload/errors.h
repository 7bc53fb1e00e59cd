// The failures hotreload names itself; everything else is an errno in generic_category().
#pragma once

#include <string>
#include <system_error>

#include "hotreload/export.h"

namespace hotreload {

enum class Errc {
  empty_file = 1,         // the file has no content (a truncation caught mid-write, usually)
  unstable = 2,           // the file kept changing while it was read; retried later
  rejected = 3,           // the callback refused the content
  not_regular_file = 4,   // a FIFO, socket or device where a config file should be
  too_many_keys = 5,      // a directory holds more files than KeySelection::keys_max
  snapshot_too_large = 6, // a directory's files add up to more than KeySelection::total_size_max
  empty_snapshot = 7,     // a directory holds no file to offer
  pseudo_file = 8,        // a /proc or /sys file: its reported size is not what it holds
};

HOTRELOAD_EXPORT const std::error_category& hotreload_category() noexcept;

inline std::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), hotreload_category()};
}

// The short, stable name of an error for structured logs: "ENOENT", "EACCES", "empty_file".
HOTRELOAD_EXPORT std::string error_name(std::error_code ec);

}  // namespace hotreload

template <>
struct std::is_error_code_enum<hotreload::Errc> : std::true_type {};

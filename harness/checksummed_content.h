// Checksummed content: config files whose validity a test callback can decide.
//
// A content is "version=N\n", filler, then "checksum=<first 12 hex of SHA-256 of all that
// precedes>\n". A partial write, a mix of two versions or a deliberately corrupted file
// fails the checksum, so the callback can refuse it and the harness knows, without asking
// the watcher, which disk contents must eventually become active.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace hotreload::harness {

enum class ContentKind : uint8_t {
  valid,
  corrupt,    // the checksum line does not match: the callback rejects it
  throwing,   // valid checksum, but the callback throws on it
  oversized,  // valid, and larger than the watcher's read_size_max
};

// Size in bytes of every valid content: fixed, so that same-size rewrites are the rule
// (the hard case for attribute-based change detection).
inline constexpr std::size_t kContentSize = 256;

std::string make_content(int version, ContentKind kind, std::size_t oversized_bytes = 0);
bool checksum_ok(std::string_view content);
bool asks_to_throw(std::string_view content);
// What the harness's test callback accepts.
inline bool acceptable(std::string_view content) {
  return checksum_ok(content) && !asks_to_throw(content);
}

}  // namespace hotreload::harness

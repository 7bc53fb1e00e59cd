// Parsing the byte stream read(2) returns from an inotify descriptor.
//
// Kept apart from the descriptor so that it can be fuzzed: whatever the bytes, it never
// reads past the buffer and reports a malformed tail instead of trusting it.
#pragma once

#include <span>
#include <system_error>
#include <vector>

#include "hotreload/event_source.h"

namespace hotreload::posix {

// Appends every complete record in bytes to out. A record whose header or name runs past
// the end of bytes is malformed: parsing stops there and EPROTO is returned (the caller
// treats it as lost events, i.e. an overflow).
std::error_code parse_inotify_records(std::span<const char> bytes, std::vector<Event>& out);

}  // namespace hotreload::posix

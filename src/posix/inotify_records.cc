#include "inotify_records.h"

#include <sys/inotify.h>

#include <cstring>

namespace hotreload::posix {

std::error_code parse_inotify_records(std::span<const char> bytes, std::vector<Event>& out) {
  std::size_t at = 0;
  while (at < bytes.size()) {
    struct inotify_event header;
    if (bytes.size() - at < sizeof header) return std::make_error_code(std::errc::protocol_error);
    std::memcpy(&header, bytes.data() + at, sizeof header);  // the buffer may be unaligned
    at += sizeof header;
    if (header.len > bytes.size() - at) return std::make_error_code(std::errc::protocol_error);
    const char* name = bytes.data() + at;
    // The name is NUL-padded to an alignment boundary; it may also fill len exactly.
    std::size_t name_length = ::strnlen(name, header.len);
    out.push_back(Event{.wd = header.wd, .mask = header.mask, .cookie = header.cookie,
                        .name = std::string(name, name_length)});
    at += header.len;
  }
  return {};
}

}  // namespace hotreload::posix

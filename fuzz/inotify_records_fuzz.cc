// Fuzzes the inotify record parser with bytes as read(2) could return them: truncated
// headers, names that run past the buffer, zero-length and unterminated names, huge len.
//
// Besides "no crash, no out-of-bounds read" (ASan), it checks what the parser promises:
// - a name never contains a NUL and is never longer than the bytes that follow a header;
// - success means the bytes were an exact sequence of records: re-encoding the events
//   with minimal padding and parsing that again gives the same events;
// - a failure is EPROTO only, and the events parsed before it are the parse of a prefix.
#include <sys/inotify.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "posix/inotify_records.h"

namespace {

using hotreload::Event;
using hotreload::posix::parse_inotify_records;

void fail(const char* what) {
  std::fprintf(stderr, "fuzz_inotify_records: invariant broken: %s\n", what);
  std::abort();
}

// The smallest valid encoding of events: each name NUL-terminated and padded to 4 bytes.
std::string encode(const std::vector<Event>& events) {
  std::string out;
  for (const Event& e : events) {
    std::size_t len = e.name.empty() ? 0 : (e.name.size() + 1 + 3) / 4 * 4;
    struct inotify_event header {};
    header.wd = e.wd;
    header.mask = e.mask;
    header.cookie = e.cookie;
    header.len = static_cast<uint32_t>(len);
    out.append(reinterpret_cast<const char*>(&header), sizeof header);
    std::string field = e.name;
    field.resize(len, '\0');
    out += field;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  // Copy into a buffer of exactly size bytes so that ASan sees any read past its end.
  std::vector<char> bytes(data, data + size);
  std::vector<Event> events;
  std::error_code ec = parse_inotify_records(std::span<const char>(bytes), events);

  std::size_t header_bytes = events.size() * sizeof(struct inotify_event);
  if (header_bytes > size) fail("more events than headers fit in the input");
  std::size_t name_bytes = 0;
  for (const Event& e : events) {
    if (e.name.find('\0') != std::string::npos) fail("a name contains a NUL");
    name_bytes += e.name.size();
  }
  if (header_bytes + name_bytes > size) fail("names longer than the bytes that carry them");

  if (ec && ec != std::errc::protocol_error) fail("an error other than EPROTO");

  // Re-encoded, the events parse back to themselves.
  std::string again = encode(events);
  std::vector<Event> reparsed;
  if (parse_inotify_records(std::span<const char>(again.data(), again.size()), reparsed))
    fail("a well-formed re-encoding was refused");
  if (reparsed != events) fail("re-encoding changed the events");

  // Appending a malformed tail to well-formed bytes keeps every complete record.
  if (!ec && size > 0) {
    std::vector<char> longer = bytes;
    longer.push_back('\x01');  // less than a header
    std::vector<Event> with_tail;
    if (parse_inotify_records(std::span<const char>(longer), with_tail) !=
        std::errc::protocol_error)
      fail("a partial header after complete records was not reported");
    if (with_tail != events) fail("a malformed tail changed the complete records before it");
  }
  return 0;
}

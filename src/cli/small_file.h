// SmallFile: the whole text of a file that holds one small value — a pid file, a token,
// a password — read without blocking: only a regular file is read (a FIFO would block the
// reader, a device might never end), it is opened non-blocking, looked at before it is
// opened and again after, and it may not exceed a size that no such value needs.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace hotreload::cli {

// Reads the content into text; or says why there is none, as a phrase to put after the
// file's name: "is a FIFO (named pipe), not a regular file", "is larger than 4096 bytes",
// or "cannot be read: " and strerror's text.
std::optional<std::string> read_small_file(const std::string& path, std::size_t bytes_max,
                                           std::string& text);

}  // namespace hotreload::cli

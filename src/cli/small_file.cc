#include "small_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

namespace hotreload::cli {

namespace {

std::string not_regular(mode_t mode) {
  const char* kind = S_ISDIR(mode)    ? "a directory"
                     : S_ISFIFO(mode) ? "a FIFO (named pipe)"
                     : S_ISSOCK(mode) ? "a socket"
                     : S_ISCHR(mode)  ? "a character device"
                     : S_ISBLK(mode)  ? "a block device"
                                      : "not a regular file";
  return std::string("is ") + kind + ", not a regular file";
}

std::string unreadable(int error) { return std::string("cannot be read: ") + std::strerror(error); }

}  // namespace

std::optional<std::string> read_small_file(const std::string& path, std::size_t bytes_max,
                                           std::string& text) {
  // Looked at before it is opened (opening a device may do something), and after.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return unreadable(errno);
  if (!S_ISREG(st.st_mode)) return not_regular(st.st_mode);
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return unreadable(errno);
  text.clear();
  std::optional<std::string> why;
  if (::fstat(fd, &st) != 0) {
    why = unreadable(errno);
  } else if (!S_ISREG(st.st_mode)) {
    why = not_regular(st.st_mode);
  } else {
    char buffer[512];
    for (;;) {
      ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        why = unreadable(errno);
        break;
      }
      if (n == 0) break;
      text.append(buffer, static_cast<std::size_t>(n));
      if (text.size() > bytes_max) {
        why = "is larger than " + std::to_string(bytes_max) + " bytes";
        break;
      }
    }
  }
  ::close(fd);
  return why;
}

}  // namespace hotreload::cli

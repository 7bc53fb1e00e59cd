#include "posix_seams.h"
#include "thread_runner.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>

#include "inotify_records.h"

namespace hotreload::posix {

namespace {

std::error_code last_error() { return errno_code(errno); }

class PosixOpenFile final : public OpenFile {
 public:
  explicit PosixOpenFile(int fd) : fd_(fd) {}
  ~PosixOpenFile() override { ::close(fd_); }
  PosixOpenFile(const PosixOpenFile&) = delete;
  PosixOpenFile& operator=(const PosixOpenFile&) = delete;

  Result<FileStat> stat() override {
    struct ::stat st;
    if (::fstat(fd_, &st) != 0) return last_error();
    return to_file_stat(st);
  }

  Result<std::size_t> read(std::span<char> buffer) override {
    for (;;) {
      ssize_t n = ::read(fd_, buffer.data(), buffer.size());
      if (n >= 0) return static_cast<std::size_t>(n);
      if (errno != EINTR) return last_error();
    }
  }

 private:
  int fd_;
};

}  // namespace

FileStat to_file_stat(const struct ::stat& st) {
  FileStat out;
  out.dev = st.st_dev;
  out.ino = st.st_ino;
  out.size = static_cast<uint64_t>(st.st_size);
  out.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
  out.ctime_ns = int64_t{st.st_ctim.tv_sec} * 1'000'000'000 + st.st_ctim.tv_nsec;
  if (S_ISREG(st.st_mode)) out.type = FileType::regular;
  else if (S_ISDIR(st.st_mode)) out.type = FileType::directory;
  else if (S_ISLNK(st.st_mode)) out.type = FileType::symlink;
  else out.type = FileType::other;
  return out;
}

Result<FileStat> PosixFilesystem::lstat(const std::string& path) {
  struct ::stat st;
  if (::lstat(path.c_str(), &st) != 0) return last_error();
  return to_file_stat(st);
}

Result<std::string> PosixFilesystem::readlink(const std::string& path) {
  std::string target(256, '\0');
  for (;;) {
    ssize_t n = ::readlink(path.c_str(), target.data(), target.size());
    if (n < 0) return last_error();
    if (static_cast<std::size_t>(n) < target.size()) {
      target.resize(static_cast<std::size_t>(n));
      return target;
    }
    if (target.size() >= PATH_MAX) return errno_code(ENAMETOOLONG);
    target.resize(target.size() * 2);
  }
}

Result<std::unique_ptr<OpenFile>> PosixFilesystem::open(const std::string& path) {
  // O_NONBLOCK: a FIFO swapped in for the file must not hang the hub thread.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return last_error();
  return std::unique_ptr<OpenFile>(new PosixOpenFile(fd));
}

Result<std::vector<std::string>> PosixFilesystem::read_directory(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return last_error();
  DIR* dir = ::fdopendir(fd);
  if (!dir) {
    std::error_code ec = last_error();
    ::close(fd);
    return ec;
  }
  std::vector<std::string> names;
  errno = 0;
  while (const dirent* entry = ::readdir(dir)) {
    std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
    errno = 0;
  }
  std::error_code ec = errno ? last_error() : std::error_code{};
  ::closedir(dir);
  if (ec) return ec;
  std::sort(names.begin(), names.end());
  return names;
}

Result<uint64_t> PosixFilesystem::filesystem_type(const std::string& path) {
  struct ::statfs st;
  if (::statfs(path.c_str(), &st) != 0) return last_error();
  return static_cast<uint64_t>(st.f_type);
}

InotifyEventSource::InotifyEventSource() {
  inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd_ < 0) init_errno_ = errno;
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

InotifyEventSource::~InotifyEventSource() {
  if (inotify_fd_ >= 0) ::close(inotify_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

Result<int> InotifyEventSource::add_watch(const std::string& path) {
  if (inotify_fd_ < 0) return errno_code(init_errno_);
  int wd = ::inotify_add_watch(inotify_fd_, path.c_str(), kDirectoryEvents | IN_ONLYDIR);
  if (wd < 0) return last_error();
  return wd;
}

void InotifyEventSource::remove_watch(int wd) {
  if (inotify_fd_ >= 0) ::inotify_rm_watch(inotify_fd_, wd);
}

std::error_code InotifyEventSource::wait(std::chrono::nanoseconds timeout,
                                         std::vector<Event>& out) {
  std::array<pollfd, 2> fds{pollfd{wake_fd_, POLLIN, 0}, pollfd{inotify_fd_, POLLIN, 0}};
  nfds_t count = inotify_fd_ >= 0 ? 2 : 1;
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  timespec ts{static_cast<time_t>(seconds.count()),
              static_cast<long>((timeout - seconds).count())};
  int ready = ::ppoll(fds.data(), count, &ts, nullptr);
  if (ready < 0) return errno == EINTR ? std::error_code{} : last_error();
  if (fds[0].revents & POLLIN) {
    uint64_t drained;
    [[maybe_unused]] ssize_t n = ::read(wake_fd_, &drained, sizeof drained);
  }
  if (count < 2 || !(fds[1].revents & POLLIN)) return {};
  // Big enough for a few hundred records with names up to NAME_MAX.
  alignas(struct inotify_event) static thread_local std::array<char, std::size_t{64} * 1024> buffer;
  for (;;) {
    ssize_t n = ::read(inotify_fd_, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return {};
      return last_error();
    }
    return parse_inotify_records(std::span<const char>(buffer.data(), static_cast<std::size_t>(n)),
                                 out);
  }
}

void InotifyEventSource::wake() {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

Seams make_seams() {
  return Seams{std::make_shared<PosixFilesystem>(), std::make_unique<InotifyEventSource>(),
               std::make_shared<SteadyClock>(), std::make_shared<ThreadRunner>()};
}

}  // namespace hotreload::posix

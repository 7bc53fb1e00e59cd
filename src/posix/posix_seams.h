// The real seams: POSIX syscalls, one shared inotify descriptor, the steady clock.
#pragma once

#include <sys/stat.h>

#include <memory>

#include "hotreload/clock.h"
#include "hotreload/event_source.h"
#include "hotreload/filesystem.h"
#include "hotreload/hub.h"

namespace hotreload::posix {

class PosixFilesystem final : public Filesystem {
 public:
  Result<FileStat> lstat(const std::string& path) override;
  Result<std::string> readlink(const std::string& path) override;
  Result<std::unique_ptr<OpenFile>> open(const std::string& path) override;
  Result<std::vector<std::string>> read_directory(const std::string& path) override;
  Result<uint64_t> filesystem_type(const std::string& path) override;
};

class SteadyClock final : public Clock {
 public:
  SteadyTime now() const override { return std::chrono::steady_clock::now(); }
  WallTime wall_now() const override { return std::chrono::system_clock::now(); }
};

// One inotify descriptor plus an eventfd to interrupt wait(). If inotify cannot be had
// (EMFILE: the 128-instance limit; ENOSYS), the source still waits and wakes, and every
// add_watch() reports the reason, so that watches fall back to polling.
class InotifyEventSource final : public EventSource {
 public:
  InotifyEventSource();
  ~InotifyEventSource() override;
  InotifyEventSource(const InotifyEventSource&) = delete;
  InotifyEventSource& operator=(const InotifyEventSource&) = delete;

  Result<int> add_watch(const std::string& path) override;
  void remove_watch(int wd) override;
  std::error_code wait(std::chrono::nanoseconds timeout, std::vector<Event>& out) override;
  void wake() override;

 private:
  int inotify_fd_ = -1;
  int init_errno_ = 0;
  int wake_fd_ = -1;
};

FileStat to_file_stat(const struct ::stat& st);
Seams make_seams();

}  // namespace hotreload::posix

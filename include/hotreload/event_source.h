// EventSource: directory-change notifications, as inotify reports them.
//
// Masks and names are inotify's own (IN_MOVED_TO, IN_Q_OVERFLOW…), so the simulated
// source in harness/ must report what the kernel would. Events are hints: the watcher
// decides what is true by looking at the filesystem afterwards.
#pragma once

#include <sys/inotify.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "hotreload/export.h"
#include "hotreload/result.h"

namespace hotreload {

struct Event {
  int wd = -1;         // -1 for IN_Q_OVERFLOW
  uint32_t mask = 0;
  uint32_t cookie = 0;  // pairs IN_MOVED_FROM with IN_MOVED_TO
  std::string name;    // empty for events on the watched directory itself

  friend bool operator==(const Event&, const Event&) = default;
};

// The events a directory watch asks for: every way a file in it can come, go or change,
// and IN_MODIFY, which says a writer is at work (its IN_CLOSE_WRITE says it is done).
inline constexpr uint32_t kDirectoryEvents =
    IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
    IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;

class HOTRELOAD_EXPORT EventSource {
 public:
  virtual ~EventSource() = default;
  // Watches the directory at path (following symlinks) for kDirectoryEvents. Watching
  // the same directory twice returns the same descriptor, as inotify does.
  virtual Result<int> add_watch(const std::string& path) = 0;
  virtual void remove_watch(int wd) = 0;
  // Waits up to timeout for a batch of events and appends it to out. Returns early,
  // possibly with nothing, when wake() is called. An error means events may have been
  // lost: the caller treats it as an overflow.
  virtual std::error_code wait(std::chrono::nanoseconds timeout, std::vector<Event>& out) = 0;
  // Interrupts a wait() from another thread. Safe to call from any thread.
  virtual void wake() = 0;
};

}  // namespace hotreload

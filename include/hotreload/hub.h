// Hub: one event source, one timer queue and (in production) one thread for many watches.
//
// The kernel allows 128 inotify instances per user by default, so a process watches
// everything through one Hub; watches of one directory share its volume and its kernel
// watch (docs/architecture.md). The hub's
// loop is the plain function run_once(), which the production thread calls forever and
// the harness calls single-threaded in virtual time: the same code either way.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>

#include "hotreload/check_runner.h"
#include "hotreload/clock.h"
#include "hotreload/event_source.h"
#include "hotreload/export.h"
#include "hotreload/filesystem.h"

namespace spdlog {
class logger;
}

namespace hotreload {

class Watch;

// A file written in place (IN_MODIFY) and not yet closed holds half its new content, and a
// look at it then would offer that half (a safety poll, an overflow's re-read, the first
// check after start). Looks at its volume wait until the writer closes the file, or has
// not written for a whole safety interval (a writer that keeps its descriptor open when
// done: the safety poll is the bound on what no event announces), or has been writing for
// kWriterPatience (a log beside the config, never done: looks go on). Volumes in poll mode
// have no events, and only their reads' consistency to go by.
inline constexpr std::chrono::seconds kWriterPatience{30};

struct Seams {
  std::shared_ptr<Filesystem> filesystem;
  std::unique_ptr<EventSource> events;
  std::shared_ptr<Clock> clock;
  // Runs the checks of volumes in poll mode. Null: every check runs on the loop's thread
  // (a filesystem call that hangs then stalls every watch of the hub).
  std::shared_ptr<CheckRunner> runner;
};

class HOTRELOAD_EXPORT Hub {
 public:
  // A hub over the given seams. It runs only when run_once() is called, or after
  // start_thread(). logger receives hub-level decisions (inotify unavailable…).
  explicit Hub(Seams seams, std::shared_ptr<spdlog::logger> logger = nullptr);
  // Stops the thread, and waits for the checks still with the runner, but not for one out
  // longer than its stall timeout (stuck in a dead mount, maybe for good).
  ~Hub();
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // The process's default hub: real filesystem, inotify, steady clock, its own thread.
  static std::shared_ptr<Hub> shared();
  // A new hub over the real seams with its thread started.
  static std::shared_ptr<Hub> make_posix(std::shared_ptr<spdlog::logger> logger = nullptr);

  // One wakeup: waits for events, the next due timer, or deadline (whichever is first),
  // then checks every watch that needs it, each once. Never throws.
  void run_once(SteadyTime deadline) noexcept;

  void start_thread();
  void stop_thread() noexcept;

  // Asks for a check of every watch at the next wakeup — a read, not only a look at the
  // signature — as an inotify overflow does; returns at once. For an operator's "check
  // now" (`hotreload watch` on SIGHUP); what the checks find is reported as usual.
  void check_all() noexcept;

  std::size_t watch_count() const;         // started FileWatchers and VolumeWatchers
  std::size_t volume_count() const;        // the directories (and policies) they share
  std::size_t kernel_watch_count() const;  // inotify watches held
  // Checks handed to the CheckRunner that have not returned, their watches stopped or not:
  // a thread inside a dead mount's stat counts until the call returns. A process that
  // ends while any is out should end with _exit: static destructors would race that thread.
  std::size_t checks_out() const;
  Filesystem& filesystem();
  Clock& clock();

 private:
  friend class Watcher;
  void attach(const std::shared_ptr<Watch>& watch);
  void detach(Watch& watch) noexcept;
  void leave(const std::shared_ptr<Watch>& watch) noexcept;

  struct State;
  std::shared_ptr<State> state_;  // shared with checks the runner has not finished
};

}  // namespace hotreload

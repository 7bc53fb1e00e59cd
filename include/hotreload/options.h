// Options: how one file is watched. Every limit has a unit in its name and a default
// that suits a Kubernetes ConfigMap volume.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string_view>

#include "hotreload/export.h"

namespace spdlog {
class logger;
}

namespace hotreload {

struct Decision;

enum class Mode {
  automatic,  // events, unless statfs says the volume misses remote changes (NFS, FUSE…)
  events,     // inotify, with a slow stat-only safety poll behind it (every
              // safety_rehash_every-th reads)
  poll,       // stat every poll_interval; a full read every rehash_every-th poll
};

// What a watch is doing now (automatic resolves to one of these).
enum class ActiveMode { events, poll };

HOTRELOAD_EXPORT std::string_view to_string(Mode mode);
HOTRELOAD_EXPORT std::string_view to_string(ActiveMode mode);

struct Options {
  Mode mode = Mode::automatic;
  std::chrono::milliseconds poll_interval{1000};
  std::chrono::milliseconds safety_interval{10000};
  // Polls and safety polls compare attributes (stat); they read and hash a file only when
  // its attributes changed, or were read within one timestamp tick of the file's last
  // change (a same-size rewrite in that tick shows nothing to stat). Every Nth poll reads
  // and hashes anyway: for what attributes never show (timestamps frozen or stamped by a
  // clock behind ours, NFS attribute caching). 0 disables.
  unsigned rehash_every = 10;
  // The same for events mode's safety polls: every Nth reads and hashes every file (0:
  // never). Events announce every write there; these reads back up a backup, for a change
  // both the events and the attributes missed, and an idle process pays for them: with the
  // 10 s safety_interval, each file is read every 5 minutes.
  unsigned safety_rehash_every = 30;
  std::size_t read_size_max = 16u << 20;
  // An empty file is almost always a writer caught mid-truncate; refuse it unless told.
  bool allow_empty = false;
  // A callback slower than this is logged (it holds up every watch on the hub).
  std::chrono::milliseconds slow_callback{1000};
  // A check of a polled volume (remote, FUSE) still inside a filesystem call after this
  // long marks the watch stalled (DecisionKind::stalled, Status::stalled_since); it
  // resumes when the call returns. Other watches are not held up meanwhile.
  std::chrono::milliseconds stall_timeout{5000};
  // Where decisions are logged; null means hotreload's default logger (stderr).
  std::shared_ptr<spdlog::logger> logger;
  // Called after every logged decision, for metrics or JSON logs: on the hub thread, or
  // for a volume in poll mode on the thread that checks it. Must not throw or block.
  std::function<void(const Decision&)> on_decision;
};

}  // namespace hotreload

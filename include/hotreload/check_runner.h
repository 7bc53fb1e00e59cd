// CheckRunner: where the checks of volumes that may hang run, away from the hub's loop.
//
// A remote or FUSE volume whose server stops answering blocks a thread inside stat, open
// or read, for as long as the outage lasts; no code can interrupt it. The hub therefore
// never makes those calls on the thread that serves every other watch: it hands the check
// of a volume in poll mode (where remote and FUSE volumes are watched) to a runner, and
// goes on. A task that has not finished after Options::stall_timeout marks its volume
// stalled; when it returns, the volume resumes.
//
// Promises of an implementation: run() returns without waiting for the task; every task
// runs, on a thread that is not the caller's; a task stuck for ever costs one thread and
// delays no other task. drain(patience) returns once every task given to run() has
// returned or has been out longer than patience (stuck, maybe for good): a hub that is
// destroyed at exit waits for the checks still running, which use the logger and OpenSSL,
// and not for one stuck in a dead mount.
#pragma once

#include <chrono>
#include <functional>

#include "hotreload/export.h"

namespace hotreload {

class HOTRELOAD_EXPORT CheckRunner {
 public:
  virtual ~CheckRunner() = default;
  virtual void run(std::function<void()> task) = 0;
  virtual void drain(std::chrono::nanoseconds patience) noexcept = 0;
};

}  // namespace hotreload

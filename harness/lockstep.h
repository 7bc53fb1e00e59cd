// Lockstep: the simulation's CheckRunner, under which a check can hang on a dead mount
// without the simulation losing its determinism.
//
// Until hangs are possible (threaded(false), the default), a task runs inline: run()
// returns when it has finished. Once they are (threaded(true)), each task runs on a thread
// of its own, but only one thread of the simulation runs at any moment: run() returns when
// the task has finished or parked (a hung filesystem call calls park()), and release()
// returns when every parked task has finished or parked again. So the loop goes on while a
// check is stuck, and every run still replays exactly from its seed.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <list>
#include <mutex>
#include <thread>
#include <vector>

#include "hotreload/check_runner.h"

namespace hotreload::harness {

class Lockstep final : public CheckRunner {
 public:
  Lockstep() = default;
  ~Lockstep() override;  // releases every parked task (the hang must be lifted first)
  Lockstep(const Lockstep&) = delete;
  Lockstep& operator=(const Lockstep&) = delete;

  void run(std::function<void()> task) override;
  // A task has returned, or is parked (stuck) whenever run() or release() returns.
  void drain(std::chrono::nanoseconds) noexcept override {}
  void threaded(bool on) { threaded_ = on; }

  // From a hung call. Parks the calling task until release() and returns true; returns
  // false at once when the caller is not a task of this runner (it is the loop itself, or
  // the thread that starts a watch: parking it would stop the simulation).
  bool park();
  // Lets every parked task go on, one after the other, each until it finishes or parks.
  void release();
  std::size_t parked() const;

 private:
  struct Task {
    std::thread thread;
    bool parked = false;
    bool go = false;
    bool done = false;
  };
  // Waits (lock held) until t has finished or parked; joins and forgets it if finished.
  void wait_for(std::unique_lock<std::mutex>& lock, std::list<Task>::iterator t);

  bool threaded_ = false;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::list<Task> tasks_;
};

}  // namespace hotreload::harness

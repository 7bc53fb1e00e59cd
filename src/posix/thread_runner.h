// ThreadRunner: the real CheckRunner. A pool of detached threads that grows when every
// thread is busy (a thread stuck in a dead mount's stat is busy for as long as the outage
// lasts) and shrinks when threads stay idle. Nothing ever joins a worker: a thread blocked
// in the kernel cannot be joined, and a process must be able to exit past it.
#pragma once

#include <chrono>
#include <memory>

#include "hotreload/check_runner.h"

namespace hotreload::posix {

class ThreadRunner final : public CheckRunner {
 public:
  explicit ThreadRunner(std::chrono::seconds idle_exit = std::chrono::seconds(30));
  ~ThreadRunner() override;  // idle workers exit; busy ones exit when their task returns
  ThreadRunner(const ThreadRunner&) = delete;
  ThreadRunner& operator=(const ThreadRunner&) = delete;

  void run(std::function<void()> task) override;
  void drain(std::chrono::nanoseconds patience) noexcept override;

 private:
  struct Shared;
  std::shared_ptr<Shared> shared_;
};

}  // namespace hotreload::posix

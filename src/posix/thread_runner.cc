#include "thread_runner.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <thread>

namespace hotreload::posix {

struct ThreadRunner::Shared {
  using Out = std::multiset<std::chrono::steady_clock::time_point>::iterator;

  std::mutex mu;
  std::condition_variable work;
  std::condition_variable returned;
  std::deque<std::pair<std::function<void()>, Out>> queue;
  std::multiset<std::chrono::steady_clock::time_point> out;  // when each task was given
  std::size_t idle = 0;  // workers waiting for a task
  bool closing = false;
  std::chrono::seconds idle_exit;

  // A worker: takes tasks until it has waited idle_exit for one, or the runner closes.
  static void serve(const std::shared_ptr<Shared>& self) {
    std::unique_lock lock(self->mu);
    for (;;) {
      ++self->idle;
      bool woken = self->work.wait_for(lock, self->idle_exit, [&] {
        return !self->queue.empty() || self->closing;
      });
      --self->idle;
      if (!woken || self->queue.empty()) return;
      auto [task, given] = std::move(self->queue.front());
      self->queue.pop_front();
      lock.unlock();
      task();  // the caller's tasks do not throw (the hub's catch everything)
      task = nullptr;
      lock.lock();
      self->out.erase(given);
      self->returned.notify_all();
    }
  }
};

ThreadRunner::ThreadRunner(std::chrono::seconds idle_exit) : shared_(std::make_shared<Shared>()) {
  shared_->idle_exit = idle_exit;
}

ThreadRunner::~ThreadRunner() {
  std::lock_guard lock(shared_->mu);
  shared_->closing = true;
  shared_->work.notify_all();
}

void ThreadRunner::run(std::function<void()> task) {
  std::lock_guard lock(shared_->mu);
  shared_->queue.emplace_back(std::move(task), shared_->out.insert(std::chrono::steady_clock::now()));
  if (shared_->idle >= shared_->queue.size()) {
    shared_->work.notify_one();
    return;
  }
  // Every worker is busy (some may be stuck for good): one more.
  std::thread([self = shared_] { Shared::serve(self); }).detach();
}

void ThreadRunner::drain(std::chrono::nanoseconds patience) noexcept {
  std::unique_lock lock(shared_->mu);
  while (!shared_->out.empty()) {
    auto until = *shared_->out.rbegin() + patience;  // when the youngest task counts as stuck
    if (std::chrono::steady_clock::now() >= until) return;
    shared_->returned.wait_until(lock, until);
  }
}

}  // namespace hotreload::posix

#include "lockstep.h"

namespace hotreload::harness {

namespace {

thread_local void* current_task = nullptr;  // the Lockstep::Task this thread runs

}  // namespace

Lockstep::~Lockstep() {
  std::unique_lock lock(mu_);
  while (!tasks_.empty()) {
    lock.unlock();
    release();
    lock.lock();
  }
}

void Lockstep::run(std::function<void()> task) {
  if (!threaded_) {
    task();
    return;
  }
  std::unique_lock lock(mu_);
  auto t = tasks_.emplace(tasks_.end());
  t->thread = std::thread([this, t, task = std::move(task)] {
    current_task = &*t;
    task();
    std::lock_guard done(mu_);
    t->done = true;
    changed_.notify_all();
  });
  wait_for(lock, t);
}

void Lockstep::wait_for(std::unique_lock<std::mutex>& lock, std::list<Task>::iterator t) {
  changed_.wait(lock, [&] { return t->done || t->parked; });
  if (!t->done) return;
  lock.unlock();
  t->thread.join();
  lock.lock();
  tasks_.erase(t);
}

bool Lockstep::park() {
  if (current_task == nullptr) return false;
  auto* self = static_cast<Task*>(current_task);
  std::unique_lock lock(mu_);
  self->parked = true;
  changed_.notify_all();
  changed_.wait(lock, [&] { return self->go; });
  self->go = false;
  return true;
}

void Lockstep::release() {
  std::unique_lock lock(mu_);
  std::vector<std::list<Task>::iterator> parked;
  for (auto t = tasks_.begin(); t != tasks_.end(); ++t)
    if (t->parked) parked.push_back(t);
  for (auto t : parked) {
    t->parked = false;
    t->go = true;
    changed_.notify_all();
    wait_for(lock, t);
  }
}

std::size_t Lockstep::parked() const {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (const Task& t : tasks_) n += t.parked ? 1 : 0;
  return n;
}

}  // namespace hotreload::harness

#include "sim_events.h"

#include <algorithm>

namespace hotreload::harness {

namespace {

// Bits inotify reports whatever the watch asked for.
constexpr uint32_t kAlwaysReported = IN_IGNORED | IN_ISDIR | IN_UNMOUNT | IN_Q_OVERFLOW;

}  // namespace

SimEvents::SimEvents(SimFilesystem& fs, std::shared_ptr<SimClock> clock, uint64_t seed)
    : fs_(fs), clock_(std::move(clock)), rng_(seed) {
  listener_ = fs_.add_listener([this](const FsNotice& n) { on_notice(n); });
}

Result<int> SimEvents::add_watch(const std::string& path) {
  if (add_watch_error_) {
    ++counts_.add_watch_errors;
    return add_watch_error_;
  }
  auto ino = fs_.watchable_inode(path);
  if (!ino) return ino.error();
  auto [it, inserted] = wds_.try_emplace(*ino, next_wd_);
  if (inserted) inodes_[next_wd_++] = *ino;
  return it->second;
}

void SimEvents::remove_watch(int wd) {
  auto it = inodes_.find(wd);
  if (it == inodes_.end()) return;
  wds_.erase(it->second);
  inodes_.erase(it);
  enqueue(Event{.wd = wd, .mask = IN_IGNORED, .cookie = 0, .name = {}});
}

void SimEvents::on_notice(const FsNotice& notice) {
  auto it = wds_.find(notice.ino);
  if (it == wds_.end()) return;
  int wd = it->second;
  uint32_t wanted = notice.mask & (kDirectoryEvents | kAlwaysReported);
  if ((wanted & ~kAlwaysReported) != 0) {
    if (!delivers_) {
      ++counts_.suppressed;
    } else {
      enqueue(Event{.wd = wd, .mask = wanted, .cookie = notice.cookie, .name = notice.name});
    }
  }
  // The inode is gone: the kernel drops the watch and says so, even on a silent volume
  // (the watch is local state).
  if (notice.mask & IN_DELETE_SELF) {
    wds_.erase(it);
    inodes_.erase(wd);
    enqueue(Event{.wd = wd, .mask = IN_IGNORED, .cookie = 0, .name = {}});
  }
}

bool SimEvents::chance(unsigned per_mille) {
  return per_mille > 0 && rng_() % 1000 < per_mille;
}

void SimEvents::enqueue(Event event) {
  if (event.mask != IN_IGNORED) {
    if (lose_next_ > 0) {
      --lose_next_;
      ++counts_.lost;
      return;
    }
    if (chance(loss_per_mille_)) {
      ++counts_.lost;
      return;
    }
  }
  SteadyTime due = clock_->now() + delay_;
  if (delay_.count() > 0) ++counts_.delayed;
  bool twice = event.mask != IN_IGNORED && chance(duplicate_per_mille_);
  if (twice) {
    ++counts_.duplicated;
    push(event, due);
  }
  push(std::move(event), due, !twice);
}

void SimEvents::push(Event event, SteadyTime due, bool merge) {
  if (overflowed_) return;  // dropped until the overflow marker has been read
  if (queue_.size() >= queue_max_) {
    overflowed_ = true;
    ++counts_.overflows;
    queue_.push_back({Event{.wd = -1, .mask = IN_Q_OVERFLOW, .cookie = 0, .name = {}}, due});
    return;
  }
  // inotify merges an event identical to the last unread one.
  if (merge && !queue_.empty() && queue_.back().event == event && !(event.mask & IN_MOVED_FROM) &&
      !(event.mask & IN_MOVED_TO))
    return;
  queue_.push_back({std::move(event), due});
}

std::error_code SimEvents::wait(std::chrono::nanoseconds timeout, std::vector<Event>& out) {
  auto ready = [&] { return !queue_.empty() && queue_.front().due <= clock_->now(); };
  if (woken_) {
    woken_ = false;
  } else if (!ready()) {
    SteadyTime until = clock_->now() + std::max(timeout, std::chrono::nanoseconds{0});
    if (!queue_.empty()) until = std::min(until, queue_.front().due);
    clock_->advance_to(until);
  }
  std::size_t first = out.size();
  while (ready()) {
    if (queue_.front().event.mask & IN_Q_OVERFLOW) overflowed_ = false;
    out.push_back(std::move(queue_.front().event));
    queue_.pop_front();
  }
  std::size_t got = out.size() - first;
  delivered_ += got;
  if (reorder_ && got > 1) {
    ++counts_.reordered_batches;
    std::shuffle(out.begin() + static_cast<std::ptrdiff_t>(first), out.end(), rng_);
  }
  return {};
}

void SimEvents::clear_faults() {
  lose_next_ = 0;
  loss_per_mille_ = 0;
  duplicate_per_mille_ = 0;
  delay_ = std::chrono::nanoseconds{0};
  reorder_ = false;
  queue_max_ = kQueueMax;
  add_watch_error_.clear();
}

}  // namespace hotreload::harness

// SimEvents: the EventSource of the simulation, fed by SimFilesystem's mutations.
//
// It behaves as one inotify instance: watches are on inodes (the same directory watched
// by two paths gets one descriptor), events are filtered by kDirectoryEvents, identical
// consecutive unread events merge, IN_IGNORED follows a watched inode's IN_DELETE_SELF
// and every remove_watch, and a full queue drops events and reports IN_Q_OVERFLOW once.
//
// wait() never blocks in real time: when nothing is ready it advances the virtual clock
// to the earlier of its timeout and the next delayed event (what a blocked thread would
// have lived through), so the hub's run_once(deadline) moves time exactly as far as it
// would have slept.
//
// Faults: loss, duplication, delay, reordering within a batch, a small queue (overflow),
// no events at all (an NFS-like volume), and add_watch errors (ENOSPC, EMFILE).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <random>
#include <set>

#include "hotreload/event_source.h"
#include "sim_clock.h"
#include "sim_filesystem.h"

namespace hotreload::harness {

struct EventFaultCounts {
  uint64_t lost = 0;
  uint64_t duplicated = 0;
  uint64_t delayed = 0;
  uint64_t reordered_batches = 0;
  uint64_t overflows = 0;
  uint64_t suppressed = 0;      // never generated: the volume delivers no events
  uint64_t add_watch_errors = 0;
};

class SimEvents final : public EventSource {
 public:
  static constexpr std::size_t kQueueMax = 16384;  // /proc/sys/fs/inotify/max_queued_events

  SimEvents(SimFilesystem& fs, std::shared_ptr<SimClock> clock, uint64_t seed);
  ~SimEvents() override { fs_.remove_listener(listener_); }
  SimEvents(const SimEvents&) = delete;
  SimEvents& operator=(const SimEvents&) = delete;

  Result<int> add_watch(const std::string& path) override;
  void remove_watch(int wd) override;
  std::error_code wait(std::chrono::nanoseconds timeout, std::vector<Event>& out) override;
  void wake() override { woken_ = true; }

  // --- faults (cleared by clear_faults, except set_delivers) ---
  void lose_next(unsigned n) { lose_next_ += n; }
  void set_loss_per_mille(unsigned p) { loss_per_mille_ = p; }
  void set_duplicate_per_mille(unsigned p) { duplicate_per_mille_ = p; }
  void set_delay(std::chrono::nanoseconds d) { delay_ = d; }
  void set_reorder(bool on) { reorder_ = on; }
  void set_queue_max(std::size_t n) { queue_max_ = n; }
  void fail_add_watch(std::error_code ec) { add_watch_error_ = ec; }
  // An NFS-like volume: changes made on the server raise no events at all.
  void set_delivers(bool on) { delivers_ = on; }
  void clear_faults();

  const EventFaultCounts& fault_counts() const { return counts_; }
  std::size_t watch_count() const { return wds_.size(); }
  std::size_t queued() const { return queue_.size(); }
  uint64_t delivered() const { return delivered_; }

 private:
  struct Queued {
    Event event;
    SteadyTime due;
  };
  void on_notice(const FsNotice& notice);
  void enqueue(Event event);
  void push(Event event, SteadyTime due, bool merge = true);
  bool chance(unsigned per_mille);

  SimFilesystem& fs_;
  uint64_t listener_ = 0;
  std::shared_ptr<SimClock> clock_;
  std::mt19937_64 rng_;
  std::map<uint64_t, int> wds_;    // inode -> wd
  std::map<int, uint64_t> inodes_; // wd -> inode
  int next_wd_ = 1;
  std::deque<Queued> queue_;
  bool overflowed_ = false;
  bool woken_ = false;
  uint64_t delivered_ = 0;

  unsigned lose_next_ = 0;
  unsigned loss_per_mille_ = 0;
  unsigned duplicate_per_mille_ = 0;
  std::chrono::nanoseconds delay_{0};
  bool reorder_ = false;
  std::size_t queue_max_ = kQueueMax;
  std::error_code add_watch_error_;
  bool delivers_ = true;
  EventFaultCounts counts_;
};

}  // namespace hotreload::harness

// Volume: one watched directory under one detection policy, and every decision about
// watching it.
//
// Every FileWatcher on a file of the directory and every VolumeWatcher on it (with the same
// mode and intervals) share one Volume. It alone decides how the directory is watched:
// the mode (`auto` asks statfs), when the next poll is and whether it re-reads, when a look
// is retried, when to fall back to polling (the kernel refused a watch; a safety poll found
// a change no event announced). A check resolves the directory once for all its watches
// (one LookupCache), asks the kernel watch table for the directories its watches need
// (the ones above it are anchored once, in events mode), and tells the hub when to come
// back.
//
// Threads: check() runs on the hub thread without the hub's lock (callbacks may take
// long); everything else runs with the hub's lock held.
#pragma once

#include <compare>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hotreload/clock.h"
#include "hotreload/options.h"
#include "kernel_watch_table.h"
#include "rare_text.h"
#include "watch.h"

namespace spdlog {
class logger;
}

namespace hotreload {

class Volume {
 public:
  // What decides how a volume is watched. Watches that differ in it do not share a volume.
  struct Policy {
    Mode mode = Mode::automatic;
    std::chrono::milliseconds poll_interval{1000};
    std::chrono::milliseconds safety_interval{10000};
    unsigned rehash_every = 10;
    unsigned safety_rehash_every = 30;
    std::chrono::milliseconds stall_timeout{5000};

    static Policy of(const Options& o) {
      return {o.mode,         o.poll_interval,         o.safety_interval,
              o.rehash_every, o.safety_rehash_every,   o.stall_timeout};
    }
    // clang-tidy 14 reads the synthesized comparison with 0 as a null pointer constant.
    friend auto operator<=>(const Policy&, const Policy&) = default;  // NOLINT(modernize-use-nullptr)
  };

  // The mode a new volume starts in, and why (empty when nothing needs saying).
  struct ModeChoice {
    ActiveMode mode = ActiveMode::events;
    std::string why;
  };
  static ModeChoice choose_mode(Filesystem& fs, const std::string& dir, Mode mode);

  Volume(uint64_t id, std::string dir, const Policy& policy, const ModeChoice& start);

  uint64_t id() const { return id_; }
  const std::string& dir() const { return dir_; }
  const Policy& policy() const { return policy_; }
  ActiveMode mode() const { return mode_; }
  const std::string& mode_reason() const { return mode_reason_.str(); }

  // What the hub is to do after a decision: check again at once, move the timer.
  struct Next {
    std::optional<Trigger> check_now;  // look again at once
    std::optional<SteadyTime> due;     // the timer, if it moves
  };

  // --- membership (hub lock) ---
  // A watch joins once its initial look has read the content, before its callback runs:
  // what the look found is armed at once, so that a change made meanwhile, or right after
  // start(), raises an event. Until the watch is ready, checks skip it and keep its
  // interests. Returns the check to run once it is ready.
  Next join(std::shared_ptr<Watch> watch, KernelWatchTable& table, SteadyTime now,
            spdlog::logger& hub_log);
  void remove(const Watch& watch);
  bool empty() const { return watches_.empty(); }
  std::size_t size() const { return watches_.size(); }
  const std::vector<std::shared_ptr<Watch>>& watches() const { return watches_; }

  // --- timers (hub lock) ---
  // The first timer of a new volume: within one interval, spread by id.
  SteadyTime first_due(SteadyTime now) const;
  // The timer fired: which check to run now, and when the next timer is.
  Trigger on_timer(SteadyTime now, SteadyTime& next_due);

  // --- the check (hub thread, no lock) ---
  void check(Filesystem& fs, Clock& clock, Trigger trigger, SteadyTime noticed_at,
             const std::vector<std::shared_ptr<Watch>>& watches);
  bool found_unannounced_change() const { return unannounced_change_; }

  // --- after the check (hub lock) ---
  // Arms the interests the check found, and decides retry and fallback. announced_late:
  // the unannounced change the check found was announced after all, by an event queued
  // meanwhile.
  Next settle(KernelWatchTable& table, SteadyTime now, SteadyTime current_due,
              bool announced_late, spdlog::logger& hub_log);
  // Polls from now on, without kernel watches.
  void fall_back_to_poll(KernelWatchTable& table, std::string_view why, bool quiet);
  // Gives up its kernel watches, and its anchor: the hub forgets it.
  void leave(KernelWatchTable& table);
  // The hub no longer lists it: a check taken before is dropped (a flag, where looking the
  // volume up again cost a hash lookup twice per check).
  void forget() { forgotten_ = true; }
  bool forgotten() const { return forgotten_; }
  // A check handed to the runner at `since` is stuck (or, with nullopt, has returned).
  void set_stalled(std::optional<SteadyTime> since);

 private:
  void add(std::shared_ptr<Watch> watch);
  // Arms wanted (the volume's whole set of interests); falls back to polling if the kernel
  // refuses, and asks for a reading check if a kernel watch is new. Returns true if a
  // directory went between the look and the arm.
  bool arm(KernelWatchTable& table, std::vector<Interest> wanted, const DirectoryInodes& seen,
           spdlog::logger& hub_log, SteadyTime now, Next& next);
  bool unchanged(LookupCache& cache, Trigger trigger,
                 const std::vector<std::shared_ptr<Watch>>& watches);
  std::chrono::nanoseconds interval() const;
  // Every how many timers read (rehash_every or safety_rehash_every, by mode); 0: none.
  unsigned reads_every() const;
  SteadyTime on_grid(SteadyTime t) const;
  std::chrono::nanoseconds retry_delay() const;

  const uint64_t id_;
  const std::string dir_;
  // One copy per distinct policy in the process, shared: a handful, never freed.
  const Policy& policy_;
  RareText mode_reason_;
  std::vector<std::shared_ptr<Watch>> watches_;
  // What the last check found (hub thread): its interests and the inodes of their
  // directories, from check() to settle() only.
  std::unique_ptr<Watch::Found> found_;
  // The directory's attributes from before the last full check read any link, if they
  // could vouch for its links then (LinkWitness, which records directories only); a
  // FileStat{} (type other) if they could not. (Not an optional: 8 bytes a volume.)
  FileStat dir_attributes_;

  // (The small fields together: ten thousand one-key volumes are worth packing.)
  unsigned polls_ = 0;
  ActiveMode mode_;
  bool retry_due_ = false;  // the next timer is a retry, not a poll
  // Its directories above are watched (KernelWatchTable::anchor): in events mode only.
  bool anchored_ = false;
  // What the last check found (hub thread).
  bool wants_retry_ = false;
  bool unannounced_change_ = false;
  bool at_rest_ = false;  // every watch's shortcut said nothing moved: nothing to arm
  bool dir_stamps_frozen_ = false;  // dir_attributes_ failed to: links are read at every poll
  bool frozen_unreported_ = false;
  bool forgotten_ = false;  // hub lock
};

}  // namespace hotreload

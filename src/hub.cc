#include "hotreload/hub.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "hotreload/errors.h"
#include "hotreload/file_watcher.h"
#include "path_walk.h"
#include "posix/posix_seams.h"
#include "volume.h"
#include "watch.h"

namespace hotreload {

namespace {

using namespace std::chrono_literals;

// How long the idle thread sleeps when nothing is scheduled; wake() cuts it short.
constexpr auto kIdleWait = 1h;

// Timer-driven checks per wakeup. Thousands of polls falling due together are spread over
// several wakeups, so that an event arriving meanwhile waits for at most this many checks.
constexpr std::size_t kTimerChecksPerWakeup = 256;

bool merges_into_retry(std::error_code ec) {
  return ec == std::errc::no_such_file_or_directory || ec == std::errc::not_a_directory;
}

}  // namespace

struct Hub::State {
  // A directory some watch cares about. Kept small: a hub may hold tens of thousands.
  struct Directory {
    int wd = -1;  // -1: not armed (yet, or any more)
    // (name, watch id), sorted: which watches an event for each name concerns.
    std::vector<std::pair<std::string, uint64_t>> names;

    auto named(std::string_view name) {
      return std::equal_range(names.begin(), names.end(), std::pair{std::string(name), 0},
                              [](const auto& a, const auto& b) { return a.first < b.first; });
    }
  };

  Seams seams;
  std::shared_ptr<spdlog::logger> logger;

  mutable std::mutex mu;
  std::condition_variable check_done;
  std::map<uint64_t, std::shared_ptr<Watch>> watches;
  uint64_t next_id = 1;
  std::set<std::pair<SteadyTime, uint64_t>> timers;
  std::map<uint64_t, Trigger> pending;  // checks owed; run_once does not wait while any are
  std::map<std::string, Directory, std::less<>> dirs;
  // Keys of dirs (a std::map's keys stay put); one inode may be reached by two paths.
  std::map<int, std::vector<const std::string*>> wd_dirs;
  std::set<int> arm_errors_logged;
  uint64_t checking = 0;
  std::thread::id checking_thread;

  std::vector<Event> batch;  // used by run_once only, which one thread calls at a time
  std::thread thread;
  std::atomic<bool> stopping{false};

  // --- everything below runs with mu held ---

  std::chrono::nanoseconds interval(const Watch& w) const {
    return w.mode() == ActiveMode::poll ? w.options().poll_interval
                                        : w.options().safety_interval;
  }

  void schedule(Watch& w, SteadyTime due) {
    timers.erase({w.slot.due, w.slot.id});
    w.slot.due = due;
    timers.insert({due, w.slot.id});
  }

  void mark(uint64_t id, Trigger trigger) {
    auto [it, inserted] = pending.try_emplace(id, trigger);
    if (!inserted) it->second = std::max(it->second, trigger);
  }

  void disarm(Directory& d, const std::string& path) {
    if (d.wd < 0) return;
    auto it = wd_dirs.find(d.wd);
    if (it != wd_dirs.end()) {
      std::erase(it->second, &path);
      if (it->second.empty()) {
        seams.events->remove_watch(d.wd);
        wd_dirs.erase(it);
      }
    }
    d.wd = -1;
  }

  void release(Watch& w) {
    for (const Watch::HubSlot::Armed& a : w.slot.armed) {
      auto d = dirs.find(*a.dir);
      if (d == dirs.end()) continue;
      // One entry per armed interest, even when a walk named the same one twice: the
      // directory (whose key later entries point at) goes only with its last entry.
      auto& names = d->second.names;
      auto entry = std::find(names.begin(), names.end(), std::pair{a.name, w.slot.id});
      if (entry != names.end()) names.erase(entry);
      if (names.empty()) {
        disarm(d->second, d->first);
        dirs.erase(d);
      }
    }
    w.slot.armed.clear();
  }

  static bool same(const std::vector<Interest>& wanted,
                   const std::vector<Watch::HubSlot::Armed>& armed) {
    return std::equal(wanted.begin(), wanted.end(), armed.begin(), armed.end(),
                      [](const Interest& i, const Watch::HubSlot::Armed& a) {
                        return i.name == a.name && i.dir == *a.dir;
                      });
  }

  void fall_back_to_poll(Watch& w, std::string_view why, bool quiet, SteadyTime now) {
    release(w);
    w.set_mode(ActiveMode::poll, why, quiet);
    schedule(w, now + w.options().poll_interval);
  }

  // Registers the interests the watch's last check found and makes sure each directory
  // has a kernel watch.
  void apply_interests(Watch& w, const std::vector<Interest>& wanted, SteadyTime now) {
    if (!same(wanted, w.slot.armed)) {
      release(w);
      for (const Interest& i : wanted) {
        auto d = dirs.try_emplace(i.dir).first;
        auto& names = d->second.names;
        std::pair entry{i.name, w.slot.id};
        names.insert(std::upper_bound(names.begin(), names.end(), entry), std::move(entry));
        w.slot.armed.push_back({&d->first, i.name});
      }
    }
    bool armed_now = false;
    for (const Watch::HubSlot::Armed& a : w.slot.armed) {
      auto d = dirs.find(*a.dir);
      if (d->second.wd >= 0) continue;
      auto wd = seams.events->add_watch(d->first);
      if (wd) {
        d->second.wd = *wd;
        auto& paths = wd_dirs[*wd];
        if (std::find(paths.begin(), paths.end(), &d->first) == paths.end())
          paths.push_back(&d->first);
        armed_now = true;
      } else if (merges_into_retry(wd.error())) {
        // The directory went between the walk and the arm: look again shortly.
        w.slot.retry = true;
        schedule(w, std::min(w.slot.due, now + retry_delay(w)));
      } else {
        bool first = arm_errors_logged.insert(wd.error().value()).second;
        if (first)
          logger->warn("event=inotify_unavailable error=\"{}\" errno={} detail=\"falling back to "
                       "polling; logged once per cause\"",
                       wd.error().message(), error_name(wd.error()));
#if HOTRELOAD_MUTANT != 11  // test-only mutant 11: no fallback to polling
        fall_back_to_poll(w, "inotify_add_watch failed: " + wd.error().message(), !first, now);
#endif
        return;
      }
    }
    // Anything that changed between the walk and the arm raised no event (or raised it on
    // a descriptor just released): look again, and read, since a same-size rewrite within
    // one timestamp tick leaves the signature as it was.
    if (armed_now) mark(w.slot.id, Trigger::rehash);
  }

  static std::chrono::nanoseconds retry_delay(const Watch& w) {
    return std::min<std::chrono::nanoseconds>(w.options().poll_interval, 20ms);
  }

  // After an overflow, asks the kernel again for every directory's descriptor: the same
  // one for a directory still watched, a new one for a directory removed and recreated
  // (whose IN_IGNORED was lost), an error for one that is gone (its watches re-arm).
  void rearm_all() {
    for (auto& [path, d] : dirs) {
      if (d.wd < 0) continue;
      auto wd = seams.events->add_watch(path);
      if (wd && *wd == d.wd) continue;
      auto old = wd_dirs.find(d.wd);
      if (old != wd_dirs.end()) {
        std::erase(old->second, &path);
        if (old->second.empty()) wd_dirs.erase(old);
      }
      d.wd = wd ? *wd : -1;
      if (wd) {
        auto& paths = wd_dirs[*wd];
        if (std::find(paths.begin(), paths.end(), &path) == paths.end()) paths.push_back(&path);
      }
    }
  }

  bool is_regular_file_creation(const Event& ev, const std::string& dir) {
    if (!(ev.mask & IN_CREATE) || (ev.mask & IN_ISDIR)) return false;
    auto st = seams.filesystem->lstat(join_path(dir, ev.name));
    return st && st->type == FileType::regular;
  }

  void dispatch(const std::vector<Event>& events) {
    for (const Event& ev : events) {
      if (ev.mask & IN_Q_OVERFLOW) {
        logger->warn("event=overflow detail=\"inotify queue overflowed; checking every watch\"");
#if HOTRELOAD_MUTANT != 10  // test-only mutant 10 (harness/CMakeLists.txt): overflow ignored
        // The lost events may include an IN_CLOSE_WRITE: read, as below. They may also
        // include an IN_IGNORED, leaving a directory marked armed on a dead descriptor.
        rearm_all();
        for (auto& [id, w] : watches) mark(id, Trigger::rehash);
#endif
        continue;
      }
      auto it = wd_dirs.find(ev.wd);
      if (it == wd_dirs.end()) continue;
      bool whole_dir = ev.name.empty() ||
                       (ev.mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED | IN_UNMOUNT));
      for (const std::string* path : it->second) {
        auto d = dirs.find(*path);
        if (d == dirs.end()) continue;
        if (whole_dir) {
          for (const auto& [name, id] : d->second.names) mark(id, Trigger::event);
          continue;
        }
        auto [first, last] = d->second.named(ev.name);
        if (first == last) continue;
        // A new regular file is still being written: its IN_CLOSE_WRITE will follow.
        if (is_regular_file_creation(ev, *path)) continue;
#if HOTRELOAD_MUTANT == 1  // test-only mutants: one kind of event ignored
        if (ev.mask & IN_CREATE) continue;
#elif HOTRELOAD_MUTANT == 3
        if ((ev.mask & ~IN_ISDIR) == IN_ATTRIB) continue;
#elif HOTRELOAD_MUTANT == 7
        if (ev.mask & IN_CLOSE_WRITE) continue;
#endif
        // A write announced by name may leave size and times as they were (a same-size
        // rewrite within one timestamp tick: Linux stamps files from a coarse clock), so
        // it is read, not judged by the signature.
        Trigger trigger = (ev.mask & IN_CLOSE_WRITE) ? Trigger::rehash : Trigger::event;
        for (auto n = first; n != last; ++n) mark(n->second, trigger);
      }
      if (ev.mask & IN_IGNORED) {
        for (const std::string* path : it->second) {
          auto d = dirs.find(*path);
#if HOTRELOAD_MUTANT == 2  // test-only mutant: the dead descriptor is kept
          continue;
#endif
          if (d != dirs.end()) d->second.wd = -1;
        }
        wd_dirs.erase(it);
      }
    }
  }

  void collect_due(SteadyTime now) {
    for (std::size_t n = 0; n < kTimerChecksPerWakeup && !timers.empty() &&
                            timers.begin()->first <= now;
         ++n) {
      uint64_t id = timers.begin()->second;
      timers.erase(timers.begin());
      auto it = watches.find(id);
      if (it == watches.end()) continue;
      Watch& w = *it->second;
      Trigger trigger = Trigger::safety_poll;
      if (w.slot.retry) {
        w.slot.retry = false;
        trigger = Trigger::retry;
      } else if (w.mode() == ActiveMode::poll) {
        unsigned every = w.options().rehash_every;
        trigger = every != 0 && ++w.slot.polls % every == 0 ? Trigger::rehash : Trigger::poll;
      }
#if HOTRELOAD_MUTANT == 13  // test-only mutant: the safety poll never checks
      if (trigger != Trigger::safety_poll)
#endif
      mark(id, trigger);
      w.slot.due = SteadyTime{};
      schedule(w, now + interval(w));
    }
  }

  std::vector<std::pair<std::shared_ptr<Watch>, Trigger>> take_pending() {
    std::vector<std::pair<std::shared_ptr<Watch>, Trigger>> work;
    work.reserve(pending.size());
    for (auto [id, trigger] : pending) {
      auto it = watches.find(id);
      if (it != watches.end()) work.emplace_back(it->second, trigger);
    }
    pending.clear();
    return work;
  }

  ActiveMode choose_mode(Watch& w, std::string& why) {
    switch (w.options().mode) {
      case Mode::events: return ActiveMode::events;
      case Mode::poll: return ActiveMode::poll;
      case Mode::automatic: break;
    }
#if HOTRELOAD_MUTANT == 9  // test-only mutant: auto never chooses polling
    return ActiveMode::events;
#endif
    auto type = seams.filesystem->filesystem_type(parent_of(w.path()));
    if (!type) return ActiveMode::events;
    VolumeKind kind = classify_volume(*type);
    if (!kind.misses_remote_changes) return ActiveMode::events;
    why = std::string("auto: ") + std::string(kind.name) +
          " volumes miss changes made elsewhere, so polling";
    return ActiveMode::poll;
  }

  // A safety poll can race the event of the very change it finds: the change lands after
  // this wakeup's wait() and before the check. inotify queues the event before the
  // writer's syscall returns, so it is waiting now: fetch what is queued, and if it names
  // this watch (or the queue overflowed), the change was announced, only late.
  bool announced_late(Watch& w) {
    bool was_pending = pending.count(w.slot.id) != 0;
    std::vector<Event> late;
    if (seams.events->wait(0ns, late))
      late.push_back(Event{.wd = -1, .mask = IN_Q_OVERFLOW, .cookie = 0, .name = {}});
    dispatch(late);
    return !was_pending && pending.count(w.slot.id) != 0;
  }

  // --- without mu ---

  void run_check(Watch& w, Trigger trigger, SteadyTime noticed_at) {
    {
      std::lock_guard lock(mu);
      if (!watches.count(w.slot.id)) return;  // stopped since the work was taken
      checking = w.slot.id;
      checking_thread = std::this_thread::get_id();
    }
    try {
      w.check(*seams.filesystem, *seams.clock, trigger, noticed_at);
    } catch (const std::exception& e) {
      logger->error("event=internal_error path={} error=\"{}\"", w.path(), e.what());
    }
    std::lock_guard lock(mu);
    checking = 0;
    check_done.notify_all();
    if (!watches.count(w.slot.id)) return;
    SteadyTime now = seams.clock->now();
    std::vector<Interest> wanted = w.take_interests();
    if (w.found_unannounced_change() && !announced_late(w))
      fall_back_to_poll(w, "safety poll found a change that no event announced", false, now);
    else if (w.mode() == ActiveMode::events)
      apply_interests(w, wanted, now);
    if (w.wants_retry()) {
      w.slot.retry = true;
      schedule(w, std::min(w.slot.due, now + retry_delay(w)));
    }
  }
};

namespace {

// Watches started together would poll together forever; the first interval is shortened
// by up to half of itself (deterministic, from the id) so their polls spread out. Never
// lengthened: a change no event announced is still found within one interval of start.
std::chrono::nanoseconds first_interval(std::chrono::nanoseconds interval, uint64_t id) {
  uint64_t spread = (id * 0x9E3779B97F4A7C15ull) >> 54;  // 0..1023
  return interval - interval * static_cast<int64_t>(spread) / 2048;
}

}  // namespace

Hub::Hub(Seams seams, std::shared_ptr<spdlog::logger> logger) : state_(new State) {
  state_->seams = std::move(seams);
  state_->logger = logger ? std::move(logger) : default_logger();
}

Hub::~Hub() { stop_thread(); }

std::shared_ptr<Hub> Hub::make_posix(std::shared_ptr<spdlog::logger> logger) {
  auto hub = std::make_shared<Hub>(posix::make_seams(), std::move(logger));
  hub->start_thread();
  return hub;
}

std::shared_ptr<Hub> Hub::shared() {
  static const std::shared_ptr<Hub> hub = make_posix();
  return hub;
}

void Hub::run_once(SteadyTime deadline) noexcept {
  State& s = *state_;
  try {
    std::chrono::nanoseconds timeout{0};
    {
      std::lock_guard lock(s.mu);
      if (s.pending.empty()) {  // due timers left over from the last wakeup give timeout 0
        SteadyTime next = deadline;
        if (!s.timers.empty()) next = std::min(next, s.timers.begin()->first);
        timeout = std::max<std::chrono::nanoseconds>(next - s.seams.clock->now(), 0ns);
      }
    }
    s.batch.clear();
    std::error_code lost = s.seams.events->wait(timeout, s.batch);
    if (lost) s.batch.push_back(Event{.wd = -1, .mask = IN_Q_OVERFLOW, .cookie = 0, .name = {}});

    std::vector<std::pair<std::shared_ptr<Watch>, Trigger>> work;
    SteadyTime now;
    {
      std::lock_guard lock(s.mu);
      now = s.seams.clock->now();
      s.dispatch(s.batch);
      s.collect_due(now);
      work = s.take_pending();
    }
    for (auto& [watch, trigger] : work) s.run_check(*watch, trigger, now);
  } catch (const std::exception& e) {
    s.logger->error("event=internal_error error=\"{}\"", e.what());
  } catch (...) {
    s.logger->error("event=internal_error error=unknown");
  }
}

void Hub::start_thread() {
  State& s = *state_;
  if (s.thread.joinable()) return;
  s.stopping = false;
  s.thread = std::thread([this, &s] {
    while (!s.stopping.load(std::memory_order_acquire))
      run_once(s.seams.clock->now() + kIdleWait);
  });
}

void Hub::stop_thread() noexcept {
  State& s = *state_;
  if (!s.thread.joinable()) return;
  s.stopping.store(true, std::memory_order_release);
  s.seams.events->wake();
  s.thread.join();
}

void Hub::attach(std::shared_ptr<Watch> watch) {
  State& s = *state_;
  std::string why;
  ActiveMode mode = s.choose_mode(*watch, why);
  watch->set_mode(mode, why, false);

  std::string message;
  if (std::error_code ec = watch->load(*s.seams.filesystem, *s.seams.clock, message))
    throw StartError(ec, message);

  {
    std::lock_guard lock(s.mu);
    uint64_t id = s.next_id++;
    watch->slot.id = id;
    s.watches.emplace(id, watch);
    SteadyTime now = s.seams.clock->now();
    s.schedule(*watch, now + first_interval(s.interval(*watch), id));
    std::vector<Interest> wanted = watch->take_interests();
    if (watch->mode() == ActiveMode::events) s.apply_interests(*watch, wanted, now);
    // The file may have changed between the load and the arm; the check is cheap.
    s.mark(id, Trigger::event);
  }
  s.seams.events->wake();
}

void Hub::detach(Watch& watch) noexcept {
  State& s = *state_;
  std::unique_lock lock(s.mu);
  uint64_t id = watch.slot.id;
  if (id == 0 || !s.watches.count(id)) return;
  s.release(watch);
  s.timers.erase({watch.slot.due, id});
  s.pending.erase(id);
  // Erase last: the map may hold the only other reference to the watch.
  auto keep = s.watches.extract(id);
  // Called from inside its own callback, the check cannot finish until we return.
  s.check_done.wait(lock, [&] {
    return s.checking != id || s.checking_thread == std::this_thread::get_id();
  });
}

std::size_t Hub::watch_count() const {
  std::lock_guard lock(state_->mu);
  return state_->watches.size();
}

std::size_t Hub::kernel_watch_count() const {
  std::lock_guard lock(state_->mu);
  return state_->wd_dirs.size();
}

Filesystem& Hub::filesystem() { return *state_->seams.filesystem; }
Clock& Hub::clock() { return *state_->seams.clock; }

}  // namespace hotreload

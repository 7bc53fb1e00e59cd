#include "hotreload/hub.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <queue>
#include <set>
#include <thread>
#include <tuple>
#include <unordered_map>

#include "hotreload/digest.h"
#include "kernel_watch_table.h"
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
// Measured (latency_benchmark, 10,000 volumes safety-polled every second, tmpfs and ext4):
// the events' P99 was 6.2–7.8 ms with 256, 1.7–1.8 ms with 64. A wakeup costs one more
// wait() call, ~1 µs.
constexpr std::size_t kTimerChecksPerWakeup = 64;

const Event kOverflow{.wd = -1, .mask = IN_Q_OVERFLOW, .cookie = 0, .name = {}};

// Ends what IN_MODIFY began: the file was closed or went (kWriterDone), or the name now
// names another file, whose writes are another writer's.
constexpr uint32_t kWriterDone = IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM;
constexpr uint32_t kWriterGone = kWriterDone | IN_MOVED_TO | IN_CREATE;
// A watched directory went: so did its files' writers.
constexpr uint32_t kDirectoryGone = IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT | IN_IGNORED;

}  // namespace

// The loop, the timers and the demultiplexer. Everything about how a directory is watched
// is its Volume's decision; which kernel watch an event belongs to is the table's.
struct Hub::State {
  using VolumeKey = std::pair<std::string, Volume::Policy>;

  Seams seams;
  std::shared_ptr<spdlog::logger> logger;

  mutable std::mutex mu;
  // Looked up several times per check, by every check: a hash, not a tree of thousands.
  struct Listed {
    std::shared_ptr<Volume> volume;
    SteadyTime due;  // its timer (kUnscheduled while collect_due is moving it)
  };
  static constexpr SteadyTime kUnscheduled = SteadyTime::min();
  std::unordered_map<uint64_t, Listed> volumes;
  // The same volumes by what makes watches share one: directory and policy, read from the
  // volume itself (a map keyed by copies kept each volume's path once more).
  struct ByPlace {
    using is_transparent = void;
    static auto place(const Volume* v) { return std::tie(v->dir(), v->policy()); }
    static auto place(const VolumeKey& k) { return std::tie(k.first, k.second); }
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      return place(a) < place(b);
    }
    // By directory alone: where the volumes at or below a path begin.
    bool operator()(const Volume* v, std::string_view dir) const { return v->dir() < dir; }
    bool operator()(std::string_view dir, const Volume* v) const { return dir < v->dir(); }
  };
  std::set<const Volume*, ByPlace> by_place;
  uint64_t next_id = 1;  // 0 is KernelWatchTable::kAnchors
  // Every volume's timer, earliest first. A timer that moves leaves its old place behind,
  // to be skipped when it surfaces (the time is no longer its volume's due): a heap in one
  // vector, no erase, where a tree cost a node and a rebalance per check.
  using Timer = std::pair<SteadyTime, uint64_t>;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers;
  std::map<uint64_t, Trigger> pending;  // checks owed; run_once does not wait while any are
  std::unique_ptr<KernelWatchTable> table;
  std::size_t watch_count = 0;

  // Checks handed to the runner (volumes in poll mode: remote, FUSE), by volume. A volume
  // has at most one; what asks for another meanwhile is owed to it, and runs after.
  struct InFlight {
    SteadyTime since;
    std::chrono::nanoseconds stall_timeout;
    bool stalled = false;
    std::optional<Trigger> owed;
  };
  std::map<uint64_t, InFlight> in_flight;
  std::atomic<std::size_t> checks_out{0};  // given to the runner, not returned (in_flight
                                           // forgets a stopped volume's; this does not)
  std::chrono::nanoseconds longest_stall_timeout{0};  // of any check given to the runner

  // Files of a volume with a writer at work (see kWriterPatience), by volume and path, and the
  // checks they hold back.
  struct Writer {
    SteadyTime first, last;
    // Until when a look waits for it (none: the writer never stops; looks go on).
    std::optional<SteadyTime> holds_until(std::chrono::nanoseconds quiet) const {
      if (last - first >= kWriterPatience) return std::nullopt;
      return std::min(last + quiet, first + kWriterPatience);
    }
  };
  std::map<uint64_t, std::map<std::string, Writer>> writers;
  std::map<uint64_t, Trigger> held;

  std::vector<Event> batch;  // used by run_once only, which one thread calls at a time
  SteadyTime loop_wakes_at{};  // when the loop's wait ends, unless woken
  std::thread thread;
  std::atomic<bool> stopping{false};

  // --- everything below runs with mu held ---

  void schedule(Listed& listed, SteadyTime when) {
    if (listed.due == when) return;
    listed.due = when;
    timers.emplace(when, listed.volume->id());
    // Timers moved before they fired (retries, fallbacks) leave places behind: past twice
    // the live ones, the heap is rebuilt from the volumes' dues.
    if (timers.size() > 2 * volumes.size() + 64) {
      std::vector<Timer> live;
      live.reserve(volumes.size());
      for (const auto& [id, v] : volumes)
        if (v.due != kUnscheduled) live.emplace_back(v.due, id);
      timers = decltype(timers)(std::greater<>(), std::move(live));
    }
  }

  // The volume whose timer is earliest, with the places timers left behind (the time is
  // no longer their volume's due) cleared off the top.
  Listed* next_timer() {
    while (!timers.empty()) {
      auto v = volumes.find(timers.top().second);
      if (v != volumes.end() && v->second.due == timers.top().first) return &v->second;
      timers.pop();
    }
    return nullptr;
  }

  void mark(uint64_t id, Trigger trigger) {
    auto [it, inserted] = pending.try_emplace(id, trigger);
    if (!inserted) it->second = std::max(it->second, trigger);
  }

  // Takes a watch out of its volume, and the volume out of the hub with its last watch.
  void take_out(Watch& watch) {
    watch.detached.store(true, std::memory_order_release);
    auto v = volumes.find(watch.volume_id);
    if (v == volumes.end()) return;
    // Keep it alive past the erase: the map may hold the only other reference to the watch.
    std::shared_ptr<Volume> keep = v->second.volume;
    keep->remove(watch);
    if (keep->empty()) forget_volume(watch.volume_id);
  }

  void forget_volume(uint64_t id) {
    auto v = volumes.find(id);
    if (v == volumes.end()) return;
    v->second.volume->leave(*table);  // its timer is left behind, stale
    v->second.volume->forget();       // a check under way settles nothing
    pending.erase(id);
    writers.erase(id);
    held.erase(id);
    in_flight.erase(id);  // a stuck check finishes into nothing
    by_place.erase(v->second.volume.get());
    volumes.erase(v);
  }

  // Calls f(id) for each volume at or below path: what a rename of path moves.
  template <class F>
  void each_volume_under(std::string_view path, F&& f) const {
    for (auto v = by_place.lower_bound(path); v != by_place.end() && (*v)->dir().starts_with(path); ++v)
      if ((*v)->dir() == path || path_below(path, (*v)->dir())) f((*v)->id());
  }

  // The volumes an event concerns, as (id, watched directory): the table's owners, with
  // an event above volumes (KernelWatchTable::kAnchors) standing for each volume it moves.
  template <class F>
  void route(const Event& ev, F&& concerned) {
    table->route(ev, [&](uint64_t owner, const std::string& dir) {
      if (owner != KernelWatchTable::kAnchors) return concerned(owner, dir);
      std::string moved = ev.name.empty() ? dir : join_path(dir, ev.name);
      each_volume_under(moved, [&](uint64_t id) { concerned(id, dir); });
    });
  }

  bool is_regular_file_creation(const Event& ev, const std::string& dir) {
    if (!(ev.mask & IN_CREATE) || (ev.mask & IN_ISDIR)) return false;
    auto st = seams.filesystem->lstat(join_path(dir, ev.name));
    return st && st->type == FileType::regular;
  }

  // A write (IN_MODIFY) marks nothing: the close that ends it will. It only tells the
  // volumes it concerns that a writer is at work.
  void note_write(const Event& ev, SteadyTime now) {
    table->route(ev, [&](uint64_t id, const std::string& dir) {
      auto v = volumes.find(id);  // none for kAnchors: a write is no rename
      if (v == volumes.end()) return;
      const auto& watches = v->second.volume->watches();
      if (std::none_of(watches.begin(), watches.end(),
                       [&](const auto& w) { return w->reads(dir, ev.name); }))
        return;  // not a file any watch reads: an editor's swap file, say
      auto [it, fresh] = writers[id].try_emplace(join_path(dir, ev.name), Writer{now, now});
      it->second.last = now;
    });
  }

  // The files a batch says a writer is done with. A write and its close read in one batch
  // end with the close, whatever their order (the simulated queue may shuffle a batch; a
  // creation is not an end: the writes after it are the new file's).
  static std::set<std::pair<int, std::string_view>> writers_done(const std::vector<Event>& events) {
    std::set<std::pair<int, std::string_view>> done;
    for (const Event& ev : events)
      if (ev.mask & kWriterDone) done.emplace(ev.wd, ev.name);
    return done;
  }

  // Events are hints: each marks the volumes it concerns for a check.
  void dispatch(const std::vector<Event>& events, SteadyTime now) {
    std::optional<std::set<std::pair<int, std::string_view>>> done;
    // A batch with an overflow in it lacks events, maybe the close that would end a write
    // it shows, wherever the write stands in it (the simulated queue may shuffle a batch).
    bool overflowed = std::any_of(events.begin(), events.end(),
                                  [](const Event& ev) { return ev.mask & IN_Q_OVERFLOW; });
    if (overflowed) {
      logger->warn("event=overflow detail=\"inotify queue overflowed; checking every watch\"");
      // The lost events may include an IN_CLOSE_WRITE (so read), and an IN_IGNORED or a
      // rename that left a directory's descriptor naming another inode (so ask again).
      // A lost close would hold a look back for nothing: writers are forgotten too.
      table->forget_all();
      writers.clear();
      for (const auto& [id, v] : volumes) mark(id, Trigger::rehash);
    }
    for (const Event& ev : events) {
      if (ev.mask & IN_Q_OVERFLOW) continue;
      if (ev.mask == IN_MODIFY && !ev.name.empty()) {
        if (overflowed) continue;
        if (!done) done = writers_done(events);
        if (!done->count({ev.wd, ev.name})) note_write(ev, now);
        continue;
      }
      // A write or a new file announced by name may leave the signature as it was: a
      // same-size rewrite within one timestamp tick (Linux stamps files from a coarse
      // clock), or an editor's save whose new file got the inode number its previous one
      // freed (ext4, xfs reuse them). So it is read, not judged by the signature.
      constexpr uint32_t kNewContent = IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE;
      Trigger trigger = (ev.mask & kNewContent) ? Trigger::rehash : Trigger::event;
      std::optional<bool> creating;  // a new regular file, still being written
      route(ev, [&](uint64_t id, const std::string& dir) {
        if (!ev.name.empty() && (ev.mask & kWriterGone)) forget_writer(id, join_path(dir, ev.name));
        if (ev.name.empty() && (ev.mask & kDirectoryGone)) forget_writers_in(id, dir);
        if (!ev.name.empty() && (ev.mask & IN_CREATE)) {
          // Its IN_CLOSE_WRITE will follow.
          if (!creating) creating = is_regular_file_creation(ev, dir);
          if (*creating) return;
        }
        mark(id, trigger);
      });
    }
  }

  // The directory went, and with it every close still to come from its files: a close that
  // arrives at all (a batch may be shuffled) finds no kernel watch left to route it.
  void forget_writers_in(uint64_t id, const std::string& dir) {
    auto w = writers.find(id);
    if (w == writers.end()) return;
    std::erase_if(w->second, [&](const auto& writer) { return directly_in(dir, writer.first); });
    if (w->second.empty()) writers.erase(w);
  }

  void forget_writer(uint64_t id, const std::string& path) {
    auto w = writers.find(id);
    if (w == writers.end()) return;
    w->second.erase(path);
    if (w->second.empty()) writers.erase(w);
  }

  // Until when a volume's looks wait for a writer at work, if they do.
  std::optional<SteadyTime> held_until(uint64_t id, SteadyTime now) const {
    auto w = writers.find(id);  // first: most volumes have no writer at work
    if (w == writers.end()) return std::nullopt;
    auto v = volumes.find(id);
    if (v == volumes.end()) return std::nullopt;
    std::chrono::nanoseconds quiet = v->second.volume->policy().safety_interval;
    std::optional<SteadyTime> until;
    for (const auto& [path, writer] : w->second)
      if (auto u = writer.holds_until(quiet); u && *u > now) until = std::max(until.value_or(*u), *u);
    return until;
  }

  // The earliest moment a held check may run.
  std::optional<SteadyTime> next_release(SteadyTime now) const {
    std::optional<SteadyTime> next;
    for (const auto& [id, trigger] : held)
      if (auto u = held_until(id, now)) next = std::min(next.value_or(*u), *u);
      else next = now;
    return next;
  }

  void collect_due(SteadyTime now) {
    for (std::size_t n = 0; n < kTimerChecksPerWakeup; ++n) {
      Listed* first = next_timer();
      if (!first || first->due > now) return;
      Listed& listed = *first;
      timers.pop();
      listed.due = kUnscheduled;
      SteadyTime next{};
      mark(listed.volume->id(), listed.volume->on_timer(now, next));
      schedule(listed, next);
    }
  }

  struct Work {
    std::shared_ptr<Volume> volume;
    Trigger trigger;
    bool offloaded;  // to the runner: it may hang
  };

  // The checks owed now. A volume whose check is still with the runner keeps what it is
  // owed for later; one in poll mode goes to the runner, if there is one.
  std::vector<Work> take_pending(SteadyTime now) {
    // A volume in poll mode has no events: no close will come to end a write it saw before
    // it fell back (nor would one reach it), so nothing holds its looks back.
    std::erase_if(writers, [&](const auto& w) {
      auto v = volumes.find(w.first);
      return v == volumes.end() || v->second.volume->mode() == ActiveMode::poll;
    });
    for (auto h = held.begin(); h != held.end();) {
      if (held_until(h->first, now)) {
        ++h;
        continue;
      }
      mark(h->first, h->second);
      h = held.erase(h);
    }
    std::vector<Work> work;
    work.reserve(pending.size());
    for (auto [id, trigger] : pending) {
      auto it = volumes.find(id);
      if (it == volumes.end()) continue;
      if (held_until(id, now)) {
        auto [h, fresh] = held.try_emplace(id, trigger);
        if (!fresh) h->second = std::max(h->second, trigger);
        continue;
      }
      if (auto f = in_flight.find(id); f != in_flight.end()) {
        f->second.owed = std::max(f->second.owed.value_or(trigger), trigger);
        continue;
      }
      const std::shared_ptr<Volume>& volume = it->second.volume;
      bool offloaded = seams.runner && volume->mode() == ActiveMode::poll;
      if (offloaded) {
        auto timeout = volume->policy().stall_timeout;
        in_flight[id] = {.since = now, .stall_timeout = timeout};
        longest_stall_timeout = std::max<std::chrono::nanoseconds>(longest_stall_timeout, timeout);
      }
      work.push_back({volume, trigger, offloaded});
    }
    pending.clear();
    return work;
  }

  // The earliest moment a check with the runner becomes stalled.
  std::optional<SteadyTime> next_stall() const {
    std::optional<SteadyTime> next;
    for (const auto& [id, f] : in_flight)
      if (!f.stalled && (!next || f.since + f.stall_timeout < *next)) next = f.since + f.stall_timeout;
    return next;
  }

  void note_stalls(SteadyTime now) {
    for (auto& [id, f] : in_flight) {
      if (f.stalled || now < f.since + f.stall_timeout) continue;
      f.stalled = true;
      if (auto v = volumes.find(id); v != volumes.end()) v->second.volume->set_stalled(f.since);
    }
  }

  // A check the runner finished: what it was owed runs now, and a stalled volume resumes
  // with a reading check (its look may have begun long ago).
  void finish_offloaded(Volume& v) {
    auto f = in_flight.find(v.id());
    if (f == in_flight.end()) return;
    if (f->second.owed) mark(v.id(), *f->second.owed);
    if (f->second.stalled) {
      v.set_stalled(std::nullopt);
      mark(v.id(), Trigger::rehash);
    }
    in_flight.erase(f);
  }

  // A safety poll can race the event of the very change it finds: the change lands after
  // this wakeup's wait() and before the check. inotify queues the event before the
  // writer's syscall returns, so it is waiting now: fetch what is queued, and if it names
  // this volume (or the queue overflowed), the change was announced, only late.
  bool announced_late(uint64_t id) {
    bool was_pending = pending.count(id) != 0;
    std::vector<Event> late;
    if (seams.events->wait(0ns, late)) late.push_back(kOverflow);
    dispatch(late, seams.clock->now());
    return !was_pending && pending.count(id) != 0;
  }

  // --- without mu ---

  // On the loop's thread, or (offloaded) on the runner's, where it may hang.
  void run_check(Volume& v, Trigger trigger, SteadyTime noticed_at, bool offloaded) {
    std::vector<std::shared_ptr<Watch>> watches;
    {
      std::lock_guard lock(mu);
      if (v.forgotten()) return;  // its last watch stopped since the work was taken
      watches = v.watches();
    }
    try {
      v.check(*seams.filesystem, *seams.clock, trigger, noticed_at, watches);
    } catch (const std::exception& e) {
      logger->error("event=internal_error path={} error=\"{}\"", v.dir(), e.what());
    }
    std::lock_guard lock(mu);
    if (v.forgotten()) return;
    SteadyTime now = seams.clock->now();
    // Only the loop reads the event source; a polled volume has no events to race.
    bool late = !offloaded && v.found_unannounced_change() && announced_late(v.id());
    Listed& listed = volumes.find(v.id())->second;  // announced_late may add none, drop none
    Volume::Next next = v.settle(*table, now, listed.due, late, *logger);
    if (next.due) schedule(listed, *next.due);
    if (next.check_now) mark(v.id(), *next.check_now);
    if (offloaded) {
      finish_offloaded(v);
      // The loop may be asleep with work now (a check owed, a retry due before it wakes).
      // Only then is it woken: a poll costs no hop back to the loop.
      if (!pending.empty() || (next.due && *next.due < loop_wakes_at)) seams.events->wake();
    }
  }
};

Hub::Hub(Seams seams, std::shared_ptr<spdlog::logger> logger)
    : state_(std::make_shared<State>()) {
  Digest::initialize();  // any exit-time cleanup of OpenSSL then runs after a static hub stops
  state_->seams = std::move(seams);
  state_->logger = logger ? std::move(logger) : default_logger();
  state_->table = std::make_unique<KernelWatchTable>(*state_->seams.events);
}

// A check still with the runner uses the logger and OpenSSL; a hub destroyed at exit
// (Hub::shared()) waits for it, unless it is stalled: a dead mount must not hold up exit.
Hub::~Hub() {
  stop_thread();
  if (!state_->seams.runner) return;
  std::chrono::nanoseconds patience;
  {
    std::lock_guard lock(state_->mu);
    patience = state_->longest_stall_timeout;
  }
  state_->seams.runner->drain(patience);
}

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
      SteadyTime now = s.seams.clock->now();
      if (s.pending.empty()) {  // due timers left over from the last wakeup give timeout 0
        SteadyTime next = deadline;
        if (const State::Listed* timer = s.next_timer()) next = std::min(next, timer->due);
        if (auto stall = s.next_stall()) next = std::min(next, *stall);
        if (auto release = s.next_release(now)) next = std::min(next, *release);
        timeout = std::max<std::chrono::nanoseconds>(next - now, 0ns);
      }
      s.loop_wakes_at = now + timeout;
    }
    s.batch.clear();
    if (s.seams.events->wait(timeout, s.batch)) s.batch.push_back(kOverflow);

    std::vector<State::Work> work;
    SteadyTime now;
    {
      std::lock_guard lock(s.mu);
      now = s.seams.clock->now();
      s.dispatch(s.batch, now);
      s.collect_due(now);
      s.note_stalls(now);
      work = s.take_pending(now);
    }
    for (State::Work& w : work) {
      if (!w.offloaded) {
        s.run_check(*w.volume, w.trigger, now, false);
        continue;
      }
      // The task keeps the hub's state alive: a check stuck on a dead mount may return
      // long after the hub is gone.
      s.checks_out.fetch_add(1, std::memory_order_relaxed);
      s.seams.runner->run([state = state_, v = std::move(w.volume), t = w.trigger, now] {
        state->run_check(*v, t, now, true);
        state->checks_out.fetch_sub(1, std::memory_order_release);
      });
    }
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

void Hub::check_all() noexcept {
  State& s = *state_;
  {
    std::lock_guard lock(s.mu);
    for (const auto& [id, v] : s.volumes) s.mark(id, Trigger::rehash);
  }
  s.seams.events->wake();
}

void Hub::attach(const std::shared_ptr<Watch>& watch) {
  State& s = *state_;
  watch->detached.store(false, std::memory_order_release);
  watch->ready.store(false, std::memory_order_release);
  Volume::Policy policy = Volume::Policy::of(watch->options());
  State::VolumeKey key{watch->volume(), policy};
  // The mode the watch will load in: its volume's, or the one a new volume would choose.
  std::optional<std::pair<ActiveMode, std::string>> joining;
  {
    std::lock_guard lock(s.mu);
    if (auto v = s.by_place.find(key); v != s.by_place.end())
      joining.emplace((*v)->mode(), (*v)->mode_reason());
  }
  Volume::ModeChoice choice;
  if (joining) choice = {joining->first, joining->second};
  else choice = Volume::choose_mode(*s.seams.filesystem, watch->volume(), policy.mode);
  watch->set_start_mode(choice.mode, choice.why);

  std::string message;
  if (std::error_code ec = watch->look_initial(*s.seams.filesystem, message))
    throw StartError(ec, message);

  // Joins before its callback runs, so that a writer at work meanwhile is seen.
  Volume::Next next;
  {
    std::lock_guard lock(s.mu);
    SteadyTime now = s.seams.clock->now();
    auto place = s.by_place.find(key);
    if (place == s.by_place.end()) {
      auto v = std::make_shared<Volume>(s.next_id++, watch->volume(), policy, choice);
      SteadyTime first = v->first_due(now);
      place = s.by_place.insert(v.get()).first;
      uint64_t new_id = v->id();
      auto& listed =
          s.volumes.emplace(new_id, State::Listed{std::move(v), State::kUnscheduled}).first->second;
      s.schedule(listed, first);
    }
    State::Listed& listed = s.volumes.at((*place)->id());
    Volume& v = *listed.volume;
    watch->volume_id = v.id();
    next = v.join(watch, *s.table, now, *s.logger);
    if (next.due) s.schedule(listed, *next.due);
  }
  if (std::error_code ec = watch->accept_initial_look(*s.seams.clock, message)) {
    leave(watch);
    throw StartError(ec, message);
  }
  {
    std::lock_guard lock(s.mu);
    watch->ready.store(true, std::memory_order_release);
    watch->announce_loaded();  // before any check of the volume can report on it
    ++s.watch_count;
    if (next.check_now) s.mark(watch->volume_id, *next.check_now);
  }
  s.seams.events->wake();
}

// A watch whose initial content was refused leaves the volume it joined for its look.
void Hub::leave(const std::shared_ptr<Watch>& watch) noexcept {
  State& s = *state_;
  std::lock_guard lock(s.mu);
  s.take_out(*watch);
}

void Hub::detach(Watch& watch) noexcept {
  State& s = *state_;
  std::unique_lock lock(s.mu);
  uint64_t id = watch.volume_id;
  auto v = s.volumes.find(id);
  if (id == 0 || v == s.volumes.end() || watch.detached.load()) return;
  --s.watch_count;
  s.take_out(watch);
  lock.unlock();
  // A callback in flight is waited for; a look stuck on a dead mount is not (what it
  // finds is dropped: the watch is detached).
  watch.stop_user_code();
}

std::size_t Hub::checks_out() const {
  return state_->checks_out.load(std::memory_order_acquire);
}

std::size_t Hub::watch_count() const {
  std::lock_guard lock(state_->mu);
  return state_->watch_count;
}

std::size_t Hub::volume_count() const {
  std::lock_guard lock(state_->mu);
  return state_->volumes.size();
}

std::size_t Hub::kernel_watch_count() const {
  std::lock_guard lock(state_->mu);
  return state_->table->kernel_watch_count();
}

Filesystem& Hub::filesystem() { return *state_->seams.filesystem; }
Clock& Hub::clock() { return *state_->seams.clock; }

}  // namespace hotreload

#include "volume.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>
#include <set>

#include "hotreload/errors.h"
#include "volume_kind.h"

namespace hotreload {

namespace {

using namespace std::chrono_literals;

// 0..1023, the same for a volume every time: spreads volumes started together.
uint64_t spread_of(uint64_t id) { return (id * 0x9E3779B97F4A7C15ull) >> 54; }

// Which of a volume's timers read first: one within the first `every`, spread by id.
unsigned first_read_offset(uint64_t id, unsigned every) {
  return every == 0 ? 0 : static_cast<unsigned>(spread_of(id) % every);
}

// The process's copy of policy. Ten thousand volumes with the same options keep one; a
// process has a handful of distinct policies, kept for its lifetime (and past its static
// destructors: a hub in a static object may outlive them).
const Volume::Policy& shared(const Volume::Policy& policy) {
  static std::mutex mu;
  static auto* all = new std::set<Volume::Policy>;  // NOLINT(cppcoreguidelines-owning-memory)
  std::lock_guard lock(mu);
  return *all->insert(policy).first;
}

}  // namespace

Volume::ModeChoice Volume::choose_mode(Filesystem& fs, const std::string& dir, Mode mode) {
  switch (mode) {
    case Mode::events: return {ActiveMode::events, {}};
    case Mode::poll: return {ActiveMode::poll, {}};
    case Mode::automatic: break;
  }
  auto type = fs.filesystem_type(dir);
  if (!type) return {ActiveMode::events, {}};
  VolumeKind kind = classify_volume(*type);
  if (!kind.misses_remote_changes) return {ActiveMode::events, {}};
  return {ActiveMode::poll, std::string("auto: ") + std::string(kind.name) +
                                " volumes miss changes made elsewhere, so polling"};
}

// The polls that read are staggered too: volumes started together would otherwise read
// every file in the same interval, every Nth (at 1,000 × 10 keys and every 10th, 96,000
// system calls in 10 s, then none for 90). A volume's first read comes sooner, never later.
Volume::Volume(uint64_t id, std::string dir, const Policy& policy, const ModeChoice& start)
    : id_(id),
      dir_(std::move(dir)),
      policy_(shared(policy)),
      mode_reason_(start.why),
      mode_(start.mode) {
  polls_ = first_read_offset(id, reads_every());  // reads_every() asks mode_
}

Volume::Next Volume::join(std::shared_ptr<Watch> watch, KernelWatchTable& table,
                          SteadyTime now, spdlog::logger& hub_log) {
  // The watch keeps what its initial look found until its first check, for the checks
  // made while it loads.
  const Watch::Found* found = watch->found();
  add(std::move(watch));
  // The content may have changed between the load and the arm: the check is cheap.
  Next next{.check_now = Trigger::event, .due = std::nullopt};
  if (mode_ != ActiveMode::events) return next;
  if (!anchored_) {
    table.anchor(dir_);
    anchored_ = true;
  }
  std::vector<Interest> wanted = table.interests_of(id_);  // the other watches'
  if (found)
    for (const Interest& i : found->interests)
      if (!is_kubelet_payload_dir(i.dir)) wanted.push_back(i);
  // A directory gone meanwhile: the check finds out.
  arm(table, std::move(wanted), found ? found->inodes : DirectoryInodes{}, hub_log, now, next);
  return next;
}

void Volume::add(std::shared_ptr<Watch> watch) {
  // Grown by a quarter, not doubled: most volumes stop at a few keys, and stay.
  if (watches_.size() == watches_.capacity()) watches_.reserve(watches_.size() * 5 / 4 + 1);
  // A watch that joins a volume already in another mode (it fell back to polling) says so.
  if (watch->mode() != mode_) watch->set_mode(mode_, mode_reason(), false);
  watches_.push_back(std::move(watch));
}

void Volume::remove(const Watch& watch) {
  std::erase_if(watches_, [&](const std::shared_ptr<Watch>& w) { return w.get() == &watch; });
}

std::chrono::nanoseconds Volume::interval() const {
  return mode_ == ActiveMode::poll ? policy_.poll_interval : policy_.safety_interval;
}

unsigned Volume::reads_every() const {
  return mode_ == ActiveMode::poll ? policy_.rehash_every : policy_.safety_rehash_every;
}

std::chrono::nanoseconds Volume::retry_delay() const {
  return std::min<std::chrono::nanoseconds>(policy_.poll_interval, 20ms);
}

// Volumes started together would poll together forever; the first interval is shortened
// by up to half of itself (deterministic, from the id) so their polls spread out. Never
// lengthened: a change no event announced is still found within one interval of start.
SteadyTime Volume::first_due(SteadyTime now) const {
  uint64_t spread = spread_of(id_);
  auto full = interval();
  return on_grid(now + full - full * static_cast<int64_t>(spread) / 2048);
}

// Safety polls spread evenly would wake the hub once per volume: 1,000 volumes, 100 times a
// second. Rounded down to a grid of 1/16 of the interval (at most 1 s), the polls that fall
// due close together share a wakeup. Earlier, never later; polls keep their exact times.
SteadyTime Volume::on_grid(SteadyTime t) const {
  if (mode_ != ActiveMode::events) return t;
  auto grain = std::min<std::chrono::nanoseconds>(policy_.safety_interval / 16, 1s);
  if (grain <= 0ns) return t;
  auto since_epoch = t.time_since_epoch();
  return SteadyTime(since_epoch - since_epoch % grain);
}

Trigger Volume::on_timer(SteadyTime now, SteadyTime& next_due) {
  Trigger trigger = Trigger::retry;
  if (retry_due_) {
    retry_due_ = false;
  } else {
    // Every Nth poll reads what stat cannot vouch for: a same-size rewrite with timestamps
    // frozen, or stamped by a server's clock behind ours, or hidden by an attribute cache.
    unsigned every = reads_every();
    bool reads = every != 0 && ++polls_ % every == 0;
    if (mode_ == ActiveMode::poll)
      trigger = reads ? Trigger::rehash : Trigger::poll;
    else
      trigger = reads ? Trigger::safety_read : Trigger::safety_poll;
  }
  next_due = on_grid(now + interval());
  return trigger;
}

// A poll of a volume at rest costs what it takes to see that nothing moved: each watch's
// shortcut, with the volume directory's attributes standing in for the links in it, and
// what the watches share looked at once. Anything in doubt, and every other trigger,
// checks every watch in full.
bool Volume::unchanged(LookupCache& cache, Trigger trigger,
                       const std::vector<std::shared_ptr<Watch>>& watches) {
  if (trigger != Trigger::poll && trigger != Trigger::safety_poll) return false;
  // Without the every-Nth full read (rehash_every 0, or safety_rehash_every 0 in events
  // mode), nothing would ever find out a directory whose stamps do not move: its links are
  // read at every poll then.
  LinkWitness links;
  if (dir_attributes_.type == FileType::directory && !dir_stamps_frozen_ && reads_every() != 0)
    links = LinkWitness(cache, dir_, dir_attributes_);
  for (const auto& w : watches) {
    if (w->detached.load(std::memory_order_acquire)) continue;
    if (!w->ready.load(std::memory_order_acquire) || w->found())
      return false;
    if (!w->unchanged_since_last_look(cache, trigger, links)) return false;
  }
  return true;
}

void Volume::check(Filesystem& fs, Clock& clock, Trigger trigger, SteadyTime noticed_at,
                   const std::vector<std::shared_ptr<Watch>>& watches) {
  LookupCache cache(fs);
  wants_retry_ = false;
  unannounced_change_ = false;
  found_.reset();
  at_rest_ = unchanged(cache, trigger, watches);
  if (at_rest_) return;  // what is armed stands
  // Before any link is read: what the next poll's witness compares with.
  std::optional<FileStat> attributes = LinkWitness::record(cache, dir_, wall_ns(clock));
  auto found = std::make_unique<Watch::Found>();
  std::vector<Interest>& wanted = found->interests;
  for (const auto& w : watches) {
    if (w->detached.load(std::memory_order_acquire)) continue;  // stopped by a callback
    if (!w->ready.load(std::memory_order_acquire)) {  // its initial callback is running
      if (const Watch::Found* found = w->found())
        for (const Interest& i : found->interests)
          if (!is_kubelet_payload_dir(i.dir)) wanted.push_back(i);
      continue;
    }
    w->check(cache, clock, trigger, noticed_at);
    Watch::Found its = w->take_found();
    for (Interest& i : its.interests)
      if (!is_kubelet_payload_dir(i.dir)) wanted.push_back(std::move(i));
    found->inodes.merge(its.inodes);
    wants_retry_ = wants_retry_ || w->wants_retry();
    unannounced_change_ = unannounced_change_ || w->found_unannounced_change();
    // A link re-pointed while the directory kept the attributes that were to vouch for it.
    if (w->links_moved() && attributes == dir_attributes_ &&
        !dir_stamps_frozen_)
      dir_stamps_frozen_ = frozen_unreported_ = true;
  }
  dir_attributes_ = attributes.value_or(FileStat{});
  found_ = std::move(found);
}

void Volume::leave(KernelWatchTable& table) {
  table.drop(id_);
  if (std::exchange(anchored_, false)) table.unanchor(dir_);
}

void Volume::fall_back_to_poll(KernelWatchTable& table, std::string_view why, bool quiet) {
  leave(table);
  mode_ = ActiveMode::poll;
  mode_reason_ = why;
  for (const auto& w : watches_) w->set_mode(mode_, why, quiet);
}

void Volume::set_stalled(std::optional<SteadyTime> since) {
  std::string why;
  if (since)
    why = "a filesystem call has not returned for " +
          std::to_string(policy_.stall_timeout.count()) + " ms; the other watches go on";
  else
    why = "the filesystem answers again; checking";
  for (const auto& w : watches_) w->set_stalled(since, why);
}

bool Volume::arm(KernelWatchTable& table, std::vector<Interest> wanted,
                 const DirectoryInodes& seen, spdlog::logger& hub_log, SteadyTime now,
                 Next& next) {
  // The table keeps the only copy of the interests.
  KernelWatchTable::Armed armed = table.arm(id_, std::move(wanted), seen);
  if (anchored_) table.arm_anchors(dir_);
  if (armed.refused) {
    bool first = table.first_refusal(armed.refused);
    if (first)
      hub_log.warn("event=inotify_unavailable error=\"{}\" errno={} detail=\"falling back to "
                   "polling; logged once per cause\"",
                   armed.refused.message(), error_name(armed.refused));
    fall_back_to_poll(table, "inotify_add_watch failed: " + armed.refused.message(), !first);
    next.due = now + policy_.poll_interval;
    return false;
  }
  // Anything that changed before a new kernel watch raised no event (or raised it on a
  // descriptor just released): look again, and read, since a same-size rewrite within one
  // timestamp tick leaves the signature as it was.
  if (armed.armed_now) next.check_now = Trigger::rehash;
  return static_cast<bool>(armed.gone);
}

Volume::Next Volume::settle(KernelWatchTable& table, SteadyTime now, SteadyTime current_due,
                            bool announced_late, spdlog::logger& hub_log) {
  Next next;
  if (std::exchange(frozen_unreported_, false))
    hub_log.warn("event=directory_stamps_frozen dir={} detail=\"a symlink in it changed with "
                 "its mtime and ctime unchanged; every poll reads its links from now on\"",
                 dir_);
  if (mode_ == ActiveMode::events && unannounced_change_ && !announced_late) {
    fall_back_to_poll(table, "safety poll found a change that no event announced", false);
    next.due = now + policy_.poll_interval;
  } else if (mode_ == ActiveMode::events && !at_rest_) {
    // A directory that went between the look and the arm: look again shortly.
    if (found_ && arm(table, std::move(found_->interests), found_->inodes, hub_log, now, next))
      wants_retry_ = true;
  }
  found_.reset();  // armed, or not wanted while polling
  if (wants_retry_) {
    retry_due_ = true;
    SteadyTime retry_at = now + retry_delay();
    if (retry_at < next.due.value_or(current_due)) next.due = retry_at;
  }
  return next;
}

}  // namespace hotreload

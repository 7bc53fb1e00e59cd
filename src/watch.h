// Watch: what hotreload knows and decides about one consumer of a volume — a FileWatcher's
// key (KeyWatch) or a VolumeWatcher's whole directory (SnapshotWatch).
//
// The decisions both kinds share live here: a content is offered only if its SHA-256
// differs from the active one and it was not just refused; a refusal or a failure keeps
// the active content; a failure is logged and counted once per cause; every decision is
// reported as one Decision. How a watch looks at the filesystem is its kind's business.
// A watch never touches a thread, a timer or the event source: its Volume decides when
// it looks, and reads back what the look found. load() runs on the caller's thread before
// the watch joins its volume; check() on one thread at a time (the hub's, or for a volume
// in poll mode a runner's); status() from any thread. User code (the callback,
// on_decision) never runs after stop_user_code() has returned.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <string>
#include <utility>
#include <vector>

#include "hotreload/clock.h"
#include "hotreload/decision.h"
#include "hotreload/options.h"
#include "hotreload/snapshot.h"
#include "hotreload/watcher.h"
#include "link_witness.h"
#include "lookup_cache.h"
#include "path_walk.h"
#include "rare_text.h"

namespace hotreload {

// Why a check runs. When several coincide they merge into the strongest (the largest).
enum class Trigger : uint8_t {
  poll,         // poll mode's interval
  safety_poll,  // events mode's slow interval: a change found here was never announced
  safety_read,  // every Nth safety poll: the same, and read even if the attributes say
                // nothing changed (a clock that differs from the files', frozen timestamps)
  retry,        // the last read found the file changing under it
  event,        // inotify named something the volume cares about
  rehash,       // every Nth poll, IN_CLOSE_WRITE, an overflow or a new kernel watch: read
                // and hash even if the attributes say nothing changed
};

// The coarsest file timestamp a signature is trusted with: a file last read less than this
// after its newest stamp is read again by the next look (FAT stamps every 2 s; Linux's
// own filesystems every jiffy, or finer). A stat-only poll is safe past it.
inline constexpr std::chrono::nanoseconds kTimestampTickMax = std::chrono::seconds(2);

int64_t wall_ns(const Clock& clock);
// The newest timestamp (mtime or ctime) of a file, or of the file a signature holds.
int64_t newest_stamp(const FileStat& st);
int64_t newest_stamp(const Signature& s);
// Whether a stamp seen by a look started at look_started_ns (wall clock) vouches for what
// it stamps: not if the look came within one timestamp tick of it, when a same-size
// rewrite in that tick would leave every stamp as it was.
inline bool settled(int64_t newest_stamp_ns, int64_t look_started_ns) {
  return look_started_ns - newest_stamp_ns >= kTimestampTickMax.count();
}

class Watch {
 public:
  // whole_volume: the watch is the whole directory at path (a VolumeWatcher's), not a file
  // in the directory above it. options: not null; watches started alike may share one.
  Watch(std::string path, bool whole_volume, std::shared_ptr<const Options> options);
  virtual ~Watch() = default;
  Watch(const Watch&) = delete;
  Watch& operator=(const Watch&) = delete;

  // The initial load, in two steps, so that the hub can arm the kernel watches in between:
  // a writer at work while the callback runs (a big config parses for seconds) is then
  // seen, and the first check waits for it. look_initial() reads the content and finds the
  // interests; accept_initial_look() offers that content to the callback. On failure each
  // returns the error and sets message to a sentence naming the path and the reason.
  virtual std::error_code look_initial(Filesystem& fs, std::string& message) = 0;
  virtual std::error_code accept_initial_look(Clock& clock, std::string& message) = 0;
  // Both steps, for a watch used without a hub.
  std::error_code load(Filesystem& fs, Clock& clock, std::string& message) {
    std::error_code ec = look_initial(fs, message);
    return ec ? ec : accept_initial_look(clock, message);
  }
  // Looks and, if the content changed, offers it to the callback. fs is the volume's
  // cache for this check.
  virtual void check(LookupCache& fs, Clock& clock, Trigger trigger, SteadyTime noticed_at) = 0;

  // A poll's shortcut, before any check: true if a few calls (no walk) show that nothing
  // the watch reads changed since its last look, which then stands, interests and all.
  // links: the volume directory's witness for the symlinks in it. False whenever in doubt:
  // the volume then checks every watch in full.
  virtual bool unchanged_since_last_look(LookupCache& /*fs*/, Trigger /*trigger*/,
                                         LinkWitness& /*links*/) {
    return false;
  }
  // After a check: a symlink directly in the volume's directory named another target than
  // at the watch's look before (the volume's test of its LinkWitness).
  bool links_moved() const { return links_moved_; }

  // Whether a change to name in dir (an event routed here) can change what the watch
  // reads: a writer at work on a file it never reads holds nothing back (an editor's swap
  // file beside the keys of a directory). Under the hub's lock.
  virtual bool reads(const std::string& /*dir*/, const std::string& /*name*/) const { return true; }

  // What the last look found, for the volume to act on: the interests, and the inodes
  // their directories had. Handed over: the kernel watch table keeps the only copy, and a
  // watch at rest holds nothing of it.
  struct Found {
    std::vector<Interest> interests;
    DirectoryInodes inodes;
  };
  Found take_found() { return found_ ? std::move(*std::exchange(found_, {})) : Found{}; }
  const Found* found() const { return found_.get(); }  // null once taken
  bool wants_retry() const { return wants_retry_; }
  bool found_unannounced_change() const { return unannounced_change_; }

  const std::string& path() const { return path_; }
  // The directory whose volume the watch belongs to.
  std::string volume() const { return whole_volume_ ? path_ : parent_of(path_); }
  const Options& options() const { return *options_; }
  Status status() const;
  ActiveMode mode() const { return mode_.load(std::memory_order_relaxed); }
  // Reports the change unless why is empty; quiet: to on_decision only, not the log (the
  // hub logs a cause shared by many watches once).
  void set_mode(ActiveMode mode, std::string_view why, bool quiet);
  // Before load(): the mode it starts in, said by the `loaded` decision (with why), so
  // that no line about a path comes before its `loaded`.
  void set_start_mode(ActiveMode mode, std::string why);
  // Under the hub's lock, once the loaded watch has joined its volume: reports `loaded`,
  // in the mode then in force (joining may have made the volume poll: the kernel refused
  // a watch). Until then, set_mode() only changes the mode `loaded` will name.
  void announce_loaded();
  // Under the hub's lock: a check of the volume has been inside a filesystem call since
  // `since` (stalled), or has returned (resumed). Reported once each way.
  void set_stalled(std::optional<SteadyTime> since, std::string_view detail);

  // After detached is set: waits for user code in flight on another thread; no user code
  // runs afterwards. A look stuck in a filesystem call is not waited for.
  void stop_user_code();

  // Set by the hub when the watch joins a volume and when it leaves it.
  uint64_t volume_id = 0;
  // Set by the hub once the callback has accepted the initial content. Until then the
  // watch is in its volume only for its interests: a check skips it, and keeps those of
  // its initial look (found(), which the volume reads but does not take).
  std::atomic<bool> ready{false};
  std::atomic<bool> detached{false};

 protected:
  using Invoke = std::function<Verdict()>;

  // The initial content: accepted, or the sentence for StartError.
  // Once accepted, the snapshot is moved into the watch, for the `loaded` decision.
  std::error_code accept_initial(const Digest& digest, const Invoke& invoke, Clock& clock,
                                 std::string& message, Snapshot* snapshot = nullptr);
  // A changed content: offered unless it is the active one or was just refused. Returns
  // true if the callback accepted it.
  bool offer(const Digest& digest, const Invoke& invoke, Clock& clock, SteadyTime noticed_at,
             const Snapshot* snapshot = nullptr);
  // A failure to read: logged and counted once per cause.
  void fail(std::error_code ec, const std::string& where);
  std::string describe(std::error_code ec, const std::string& where) const;

  // The start of a check: the signature to compare a look with, or null when the look
  // must read anyway: a rehash, or a signature that cannot vouch for the content (see
  // kTimestampTickMax).
  template <class Sig>
  const Sig* start_check(const std::optional<Sig>& signature, Trigger trigger, Clock& clock) {
    wants_retry_ = false;
    unannounced_change_ = false;
    look_started_ns_ = wall_ns(clock);
    bool reads_anyway = trigger == Trigger::rehash || trigger == Trigger::safety_read || racy_;
    return reads_anyway || !signature ? nullptr : &*signature;
  }

  // Records what a look found: a failure, nothing new, or the signature of what it read.
  // Returns true when there is a content to offer.
  template <class Sig>
  bool settle_look(std::optional<Sig>& signature, Trigger trigger, std::error_code error,
                   const std::string& where, bool unchanged, Sig now) {
    if (error) {
      signature.reset();
      look_failed(error, where);
      return false;
    }
    look_succeeded();
    if (unchanged) return false;
    // A signature that moved with no event to say so: this volume's events cannot be trusted.
    bool safety = trigger == Trigger::safety_poll || trigger == Trigger::safety_read;
    if (safety && signature && mode() == ActiveMode::events && !(*signature == now))
      unannounced_change_ = true;
    racy_ = !settled(newest_stamp(now), look_started_ns_);
    signature = std::move(now);
    return true;
  }

  // A file's initial content, held from look_initial() to accept_initial_look().
  std::string& initial_content();

  // What a look found to watch, as seen through its cache.
  void note_interests(LookupCache& fs, std::vector<Interest> interests) {
    DirectoryInodes inodes = directory_inodes(fs, interests);
    found_ = std::make_unique<Found>(Found{std::move(interests), std::move(inodes)});
  }

  // (The flags first, beside the public ones: a watch per key is worth packing.)
  bool wants_retry_ = false;
  bool unannounced_change_ = false;
  // The signature was read within one timestamp tick of its newest stamp: a same-size
  // rewrite in that tick would leave it as it is, so only reading can tell (as git's
  // "racily clean" index entries). The initial look has no clock: it counts as racy.
  bool racy_ = true;
  bool links_moved_ = false;  // see links_moved(); set by a kind that follows links
  bool checked_ = false;      // a check has looked since the initial look
  const bool whole_volume_;   // see volume()
  std::unique_ptr<Found> found_;
  int64_t look_started_ns_ = 0;  // wall clock, as the filesystems stamp files

 private:
  // A look that failed: unstable reads ask for a retry and count only after several
  // rounds; anything else fails at once.
  void look_failed(std::error_code ec, const std::string& where);
  void look_succeeded() { unstable_rounds_ = 0; }
  // initial: the load's callback, whose slowness is said after `loaded`, not before it.
  Verdict run_callback(const Invoke& invoke, Clock& clock, std::chrono::nanoseconds& took,
                       bool initial = false);
  // Logs d and hands it to on_decision. From a check (user_mu_ is taken), or under the
  // hub's lock (under_hub_lock: user_mu_ is not taken, since user code may wait for the
  // hub's lock; detached, set under that lock, suffices there).
  void report(Decision d, bool quiet = false, bool under_hub_lock = false);
  void notify(const Decision& d);

  spdlog::logger& logger() const;
  // The lock of status_: one of a few that every watch shares, since it is held only to
  // copy a few fields, never while another is taken. A watch keeps no mutex of its own
  // for it: ten thousand keys would keep ten thousand.
  std::mutex& status_mu() const;

  const std::string path_;
  // Shared: a process watching ten thousand files with the same options keeps one copy.
  const std::shared_ptr<const Options> options_;
  // What the `loaded` decision will say; freed by announce_loaded() (under the hub's lock),
  // so a watch does not carry its start for the rest of its life, and made again by a
  // restart. Null: announced, and set_mode() reports.
  struct Loading {
    std::string start_reason;  // why it started in mode_ (auto on a remote volume), or empty
    std::optional<Digest> hash;  // the accepted initial content
    std::unique_ptr<Snapshot> snapshot;
    std::chrono::nanoseconds took{0};  // the load's callback, if slow
    std::string content;  // a file's initial content, from its look to its acceptance
  };
  std::unique_ptr<Loading> loading_ = std::make_unique<Loading>();
  Loading& loading() {
    if (!loading_) loading_ = std::make_unique<Loading>();
    return *loading_;
  }

  // Hub-thread state.
  struct Refusal {
    Digest hash;
    std::string reason;
  };
  std::unique_ptr<Refusal> refused_;    // the content the callback last refused, if any
  std::error_code failure_;             // the cause last logged, so it is logged once
  int unstable_rounds_ = 0;             // consecutive looks that found the file moving
  // Set under the hub's lock, from the thread that starts a watch too (a volume that falls
  // back to polling as a watch joins it), while the hub thread checks its other watches.
  std::atomic<ActiveMode> mode_{ActiveMode::events};

  // Status without the path and volume, which status() adds: a watch keeps its path once.
  struct Standing {
    std::optional<Digest> hash;
    ActiveMode mode = ActiveMode::events;
    // Status's optionals, with min() for none: a watch per key is worth 16 bytes less.
    WallTime last_reload = WallTime::min();
    uint64_t reloads = 0;
    uint64_t errors = 0;
    RareText last_error;
    SteadyTime stalled_since = SteadyTime::min();
  };
  Standing status_;  // written on the hub thread under status_mu()

  std::mutex user_mu_;                          // held while user code runs
  std::atomic<std::thread::id> user_thread_{};  // the thread running it, if any
};

// Attempts at reading a file (or a snapshot) that keeps changing, within one look.
inline constexpr int kReadAttempts = 3;

bool is_missing(std::error_code ec);
// A read's error that says the file the walk found was replaced since: gone (ENOENT), a
// link where it was (ELOOP). The tree moved: walk and read again, it is no absence.
bool replaced_since_walk(std::error_code ec);
// A read's ESTALE: NFS answers it for a handle whose file the server replaced, so it is
// worth a fresh walk; a server that answers it every time (restarted) is reported as is.
bool read_again_if_stale(std::error_code ec, int attempt);

std::shared_ptr<spdlog::logger> default_logger();

}  // namespace hotreload

// SimWorld: one watched volume in the simulation, with its checkers.
//
// It owns the simulated seams, a Hub over them that it drives single-threaded (never
// start_thread), and on the volume /vol/cfg — a kubelet volume, or a plain directory
// written by an editor — a FileWatcher on its key app.yaml and a VolumeWatcher on the
// whole of it. Both callbacks accept only checksummed content. It records every content
// the key has had and every state the volume has been in. step() runs one SimCommand and
// then checks DESIGN.md's invariants:
//
//   safety (after every hub run and every command)
//     - a callback never runs twice at once;
//     - every content offered to the key's callback was, as a whole, the file's content at
//       some moment (never a mix of two versions), when the volume's timestamps let a
//       reader tell versions apart (1 ns); accepted content always was;
//     - every snapshot offered is one the volume held at some moment: in a kubelet volume
//       as a whole (never keys of two publishes); in a plain directory key by key;
//       a snapshot's hashes and its added/changed/removed keys are right;
//     - the active hash is the SHA-256 of the last accepted content (snapshot); reloads ==
//       accepted changes; nothing larger than read_size_max is accepted;
//     - a callback is offered only changes, and never again a content it has just refused
//       while the disk still holds it;
//     - no rollback: a newly accepted content (snapshot) was on disk after the previous one;
//     - nothing escaped: the hub logged no internal_error.
//   liveness (at quiesce: faults stop, then virtual time passes a bound derived from the
//   options, each watch's mode and which faults ran)
//     - the active content (snapshot) equals the disk's whenever the disk's is valid;
//     - a watch stays in events mode unless events were lost, delayed or refused, or a
//       writer other than the kubelet edited a kubelet volume in place.
//   a hung volume (its calls block until its server answers again)
//     - no call under it ever runs on the loop's thread (it would stall every watch);
//     - meanwhile the local watch converges, and the hung one reports stalled once its
//       check has been stuck for stall_timeout; once released, it resumes and converges.
// A second FileWatcher on the same hub (other.yaml, or the same file, or a path through
// the ..data directory symlink) can be started and stopped; it must keep the same promises
// and must not disturb the others, with which it shares a volume or kernel watches.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "checksummed_content.h"
#include "degradation_rows.h"
#include "hotreload/file_watcher.h"
#include "hotreload/hub.h"
#include "hotreload/volume_watcher.h"
#include "lockstep.h"
#include "sim_clock.h"
#include "sim_command.h"
#include "sim_events.h"
#include "sim_filesystem.h"
#include "writers.h"

namespace hotreload::harness {

// What the watched path holds when the watcher starts. Anything but `valid` must make
// start() throw StartError naming the path; once repaired, start() must succeed.
enum class InitialState : uint8_t {
  valid, missing, unreadable, corrupt, throwing, empty, dangling, loop, oversized, io_error,
};
inline constexpr int kInitialStateCount = 10;
std::string_view to_string(InitialState s);

// How the volume is written.
enum class Layout : uint8_t {
  kubelet,  // the kubelet's atomic writer: keys are links into the ..data directory
  plain,    // a plain directory: an editor saves one key after the other
};
std::string_view to_string(Layout l);

struct WorldConfig {
  uint64_t seed = 1;
  Layout layout = Layout::kubelet;
  bool watch_volume = true;  // a VolumeWatcher on the directory, beside the key's FileWatcher
  // The directories above the volume cannot be watched (no read permission for the
  // watcher): no anchor, so the kernel watch on the volume itself carries everything.
  bool ancestors_unwatchable = false;
  Mode mode = Mode::automatic;
  std::chrono::milliseconds poll_interval{1000};
  std::chrono::milliseconds safety_interval{10000};
  unsigned rehash_every = 10;
  unsigned safety_rehash_every = 30;
  std::size_t read_size_max = 4096;
  std::chrono::nanoseconds granularity{1};
  bool silent_volume = false;  // NFS-like: no events, statfs says NFS
  int watch_limit_errno = 0;   // add_watch fails with this from the start (0: never)
  InitialState initial = InitialState::valid;  // what start() finds on disk
  // The hung row: /vol is a remote volume (as silent_volume) whose server can stop
  // answering, and a FileWatcher on a local file, /local/app.yaml, shares the hub.
  bool hung_volume = false;
  std::chrono::milliseconds stall_timeout{3000};
  // The relinked_key row: directories keep their mtime and ctime when names in them change.
  bool frozen_dir_stamps = false;
};

struct Violation {
  std::string invariant;  // e.g. "converged", "never_mixed"
  std::string detail;
};

struct RowTally {
  uint64_t injected = 0;
  uint64_t checks_passed = 0;
};

class SimWorld {
 public:
  static constexpr const char* kDir = "/vol/cfg";
  static constexpr const char* kKey = "app.yaml";
  static constexpr const char* kPath = "/vol/cfg/app.yaml";

  explicit SimWorld(WorldConfig config);
  ~SimWorld();
  SimWorld(const SimWorld&) = delete;
  SimWorld& operator=(const SimWorld&) = delete;

  // Prepares config().initial, starts the watcher and checks that start() failed exactly
  // when it had to; after a failure, repairs the file and starts again.
  std::optional<Violation> start();
  // Starts the watcher on whatever the tree holds; returns StartError's message, if any.
  std::optional<std::string> try_start();

  // Runs one command, then checks safety (and, for quiesce, convergence).
  std::optional<Violation> step(const SimCommand& c);
  std::optional<Violation> check_safety();

  SimFilesystem& fs() { return *fs_; }
  SimEvents& events() { return *events_; }
  SimClock& clock() { return *clock_; }
  const WorldConfig& config() const { return config_; }
  Status status() const;
  Status volume_status() const;
  const std::vector<std::string>& trace() const { return trace_; }
  void keep_trace(bool on) { keep_trace_ = on; }
  // Simulated ops so far: writer ops, hub runs and faults switched on.
  uint64_t ops() const { return ops_; }
  const std::map<Row, RowTally>& tally() const { return tally_; }
  std::size_t accepted_count() const { return accepted_.size(); }
  std::size_t snapshots_accepted() const { return volume_accepted_.size(); }

 private:
  struct Accepted {
    std::string content;
    Digest digest;
    uint64_t disk_seq;  // when this content last appeared on disk, as of its acceptance
  };
  struct AcceptedSnapshot {
    Digest digest;
    std::map<std::string, Digest> keys;
    uint64_t disk_seq;
  };
  // What the volume holds, as a VolumeWatcher should see it (privileged, without faults).
  struct VolumeState {
    bool exists = false;                       // the directory (and ..data) resolve
    std::map<std::string, std::string> keys;
    bool offerable = false;                    // every key readable, valid, within limits
  };

  Verdict on_content(std::string_view content);
  Verdict on_snapshot(const Snapshot& snapshot);
  std::optional<Violation> judge_snapshot(const Snapshot& snapshot);
  VolumeState peek_volume() const;
  // What the volume's ..data link names now (a kubelet layout's ..<timestamp>), if any.
  std::optional<std::string> data_target() const;
  void record_disk();
  void note(const std::string& line);
  std::error_code apply_op(const TreeOp& op);
  void apply_plan(const std::vector<TreeOp>& ops, uint32_t interleave);
  std::map<std::string, std::string> payload(int version, ContentKind app, int keyset) const;
  void publish(const std::map<std::string, std::string>& payload, uint32_t interleave,
               unsigned mode = 0644);
  void save_keys(const std::string& dir, const std::map<std::string, std::string>& payload,
                 uint32_t interleave);
  void write_in_place(int version, int chunks, uint32_t interleave);
  void rename_ancestor(int version);
  void run_hub(std::chrono::nanoseconds span);
  std::optional<Violation> quiesce();
  std::optional<Violation> volume_converged();
  std::chrono::nanoseconds convergence_bound() const;
  std::chrono::nanoseconds bound_for(ActiveMode mode) const;
  void inject(const SimCommand& c);
  void count_effects();
  void credit_checks();
  void prepare_initial(InitialState s);
  std::optional<std::string> start_volume();
  Options watch_options() const;
  std::function<void(const Decision&)> traced(std::string who);
  void start_companion(int which);
  std::optional<Violation> check_companion() const;
  std::optional<Violation> companion_converged() const;
  void on_hung_call(const std::string& path);
  std::optional<Violation> quiesce_hung();
  std::optional<Violation> local_converged() const;

  WorldConfig config_;
  std::shared_ptr<SimClock> clock_;
  std::shared_ptr<SimFilesystem> fs_;
  SimEvents* events_ = nullptr;  // owned by the hub
  std::shared_ptr<spdlog::logger> logger_;
  std::shared_ptr<uint64_t> internal_errors_;
  std::shared_ptr<Lockstep> lockstep_;  // the hub's CheckRunner
  std::shared_ptr<Hub> hub_;
  std::unique_ptr<FileWatcher> watcher_;
  std::unique_ptr<VolumeWatcher> volume_;
  // A second watch on the same hub (other.yaml): starting and stopping it must not
  // disturb the first, whose kernel watches it shares.
  std::unique_ptr<FileWatcher> companion_;
  std::string companion_path_;
  std::vector<Digest> companion_accepted_;
  // The hung row's local watch, and what it last accepted.
  std::unique_ptr<FileWatcher> local_;
  std::string local_active_;
  bool hung_ = false;
  bool hub_running_ = false;
  std::optional<std::string> hung_on_loop_;  // a call under /vol the loop made while hung
  KubeletWriter kubelet_{kDir};

  // What the disk has held at kPath: content -> the sequence number of its last arrival.
  std::map<std::string, uint64_t> disk_seq_;
  std::optional<std::string> disk_now_;
  uint64_t seq_ = 0;
  int relinks_ = 0;  // relink_save's versions so far: each writes a file of its own

  // What the volume has held: snapshot hash -> the sequence number of its last arrival
  // (kubelet layout: states as a whole), and each key's contents (plain layout).
  std::map<std::string, uint64_t> volume_seq_;
  std::map<std::string, std::set<std::string>> key_contents_;
  std::set<std::set<std::string>> key_sets_;  // every set of keys the volume has had
  std::optional<std::string> volume_now_;  // the hash of the state now

  // What the callbacks saw.
  std::vector<Accepted> accepted_;
  std::vector<AcceptedSnapshot> volume_accepted_;
  std::optional<std::string> last_refused_snapshot_;
  // The last offer while it stands refused and the file has not changed since: offering
  // it again would break "never again for a content it has just refused".
  std::optional<std::string> last_refused_;
  bool started_ = false;

  // Faults since the last quiesce, which decide how long convergence may take.
  std::set<Row> active_rows_;
  bool needs_safety_poll_ = false;
  // A file of the kubelet's payload edited in place: a safety poll trusts the volume's
  // witness for it, so the one that reads finds it.
  bool payload_edited_ = false;
  bool stale_attributes_seen_ = false;  // fstat may have hidden a change under a read
  std::chrono::nanoseconds extra_delay_{0};
  // Sticky: something happened that lets a watch fall back to polling (events lost,
  // delayed or refused; the payload of a kubelet volume edited in place).
  bool demotion_excused_ = false;

  std::optional<Violation> pending_violation_;
  std::map<Row, RowTally> tally_;
  // The fault counters as last counted into tally_ (the errors field: those of other errnos).
  FsFaultCounts seen_fs_;
  EventFaultCounts seen_events_;
  std::vector<std::string> trace_;
  bool keep_trace_ = true;
  uint64_t ops_ = 0;
};

}  // namespace hotreload::harness

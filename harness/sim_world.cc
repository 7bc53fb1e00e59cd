#include "sim_world.h"

#include <spdlog/details/null_mutex.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <cstdio>

#include "checksummed_content.h"
#include "hotreload/errors.h"

namespace hotreload::harness {

namespace {

using namespace std::chrono_literals;

// Keeps the simulation's log off the terminal, and counts what must never be logged.
class CountingSink final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
 public:
  explicit CountingSink(std::shared_ptr<uint64_t> internal_errors)
      : internal_errors_(std::move(internal_errors)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string_view text(msg.payload.data(), msg.payload.size());
    if (text.find("internal_error") != std::string_view::npos) ++*internal_errors_;
  }
  void flush_() override {}

 private:
  std::shared_ptr<uint64_t> internal_errors_;
};

std::string version_of(std::string_view content) {
  if (content.substr(0, 8) != "version=") return "(" + std::to_string(content.size()) + " B)";
  auto end = content.find('\n');
  return "v" + std::string(content.substr(8, end == std::string_view::npos ? 0 : end - 8)) +
         (acceptable(content) ? "" : "(invalid)");
}

std::string describe_hash(const std::optional<Digest>& d) {
  return d ? d->short_hex() : std::string("none");
}

// The optional keys of a publish (SimCommand's arg bits), and the nested one.
constexpr const char* kExtraKey = "extra.yaml";
constexpr const char* kNestedKey = "rules/alerts.yaml";
constexpr const char* kOtherKey = "other.yaml";

std::string ms_text(std::chrono::nanoseconds d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) +
         " ms";
}

}  // namespace

SimWorld::SimWorld(WorldConfig config)
    : config_(config),
      clock_(std::make_shared<SimClock>()),
      fs_(std::make_shared<SimFilesystem>(clock_)),
      internal_errors_(std::make_shared<uint64_t>(0)) {
  if (config_.hung_volume) config_.silent_volume = true;  // a remote volume: polled
  fs_->set_timestamp_granularity(config_.granularity);
  fs_->set_directory_stamps_frozen(config_.frozen_dir_stamps);
  if (config_.silent_volume) fs_->set_filesystem_type(SimFilesystem::kNfsMagic);
  auto events = std::make_unique<SimEvents>(*fs_, clock_, config_.seed ^ 0x9e3779b97f4a7c15ull);
  events_ = events.get();
  if (config_.silent_volume) events_->set_delivers(false);
  if (config_.watch_limit_errno) events_->fail_add_watch(errno_code(config_.watch_limit_errno));
  logger_ = std::make_shared<spdlog::logger>("hotreload-sim",
                                             std::make_shared<CountingSink>(internal_errors_));
  logger_->set_level(spdlog::level::info);
  lockstep_ = std::make_shared<Lockstep>();
  hub_ = std::make_shared<Hub>(Seams{fs_, std::move(events), clock_, lockstep_}, logger_);
  fs_->set_hang("/vol", [this](const std::string& path) { on_hung_call(path); });
  fs_->set_after_change([this] { record_disk(); });
  unsigned above = config_.ancestors_unwatchable ? 0711 : 0755;  // search, but no listing
  apply_op({.kind = TreeOp::Kind::make_dir, .path = "/vol", .mode = above});
  apply_op({.kind = TreeOp::Kind::make_dir, .path = kDir, .mode = 0755});
  if (config_.ancestors_unwatchable) apply_op({.kind = TreeOp::Kind::chmod, .path = "/", .mode = above});
  if (config_.hung_volume) {
    apply_op({.kind = TreeOp::Kind::make_dir, .path = "/local", .mode = 0755});
    apply_plan(plan_editor_save("/local/app.yaml", make_content(1, ContentKind::valid)), 0);
  }
}

SimWorld::~SimWorld() {
  fs_->clear_faults();
  hung_ = false;  // the server answers again: a check parked in it finishes
  lockstep_->release();
  local_.reset();
  companion_.reset();
  volume_.reset();
  watcher_.reset();  // detaches from the hub before the seams go
  hub_.reset();
}

std::string_view to_string(Layout l) { return l == Layout::kubelet ? "kubelet" : "plain"; }

Status SimWorld::status() const {
  return watcher_ ? watcher_->status() : Status{};
}

Status SimWorld::volume_status() const {
  return volume_ ? volume_->status() : Status{};
}

void SimWorld::note(const std::string& line) {
  if (keep_trace_) trace_.push_back(line);
}

// --- the watched file's history and the callback ---

std::optional<std::string> SimWorld::data_target() const {
  auto target = fs_->read_link(std::string(kDir) + "/..data");
  if (!target) return std::nullopt;
  return std::move(*target);
}

SimWorld::VolumeState SimWorld::peek_volume() const {
  VolumeState v;
  std::string root = kDir;
  bool kubelet = false;
  if (auto data = data_target()) {
    kubelet = true;
    if (data->empty() || data->front() == '/' || data->find('/') != std::string::npos) return v;
    root += "/" + *data;
  }
  if (fs_->inode_of(root, true) == 0) return v;
  v.exists = true;
  v.offerable = true;
  // The keys as a VolumeWatcher with the default selection finds them: every file of the
  // ..data directory (nested ones too), or the visible regular files of a plain directory.
  std::vector<std::pair<std::string, std::string>> pending{{root, ""}};
  while (!pending.empty()) {
    auto [dir, prefix] = pending.back();
    pending.pop_back();
    for (const std::string& name : fs_->list(dir)) {
      if (!kubelet && name.front() == '.') continue;
      std::string key = prefix.empty() ? name : prefix + "/" + name;
      std::string path = dir + "/" + name;
      Peek p = fs_->peek(path);
      if (!p.regular) {
        if (p.error == std::errc::is_a_directory && kubelet && fs_->read_link(path).error())
          pending.push_back({path, key});
        continue;  // a directory of a plain volume, a dangling or looping link: no key
      }
      if (!p.readable || p.content.empty() || p.content.size() > config_.read_size_max ||
          !acceptable(p.content))
        v.offerable = false;
      v.keys.emplace(key, std::move(p.content));
    }
  }
  if (v.keys.empty()) v.offerable = false;
  return v;
}

namespace {

std::string state_hash(const std::map<std::string, std::string>& keys) {
  std::map<std::string, SnapshotKey, std::less<>> hashed;
  for (const auto& [key, content] : keys) hashed.emplace(key, SnapshotKey{{}, Digest::of(content)});
  return snapshot_hash(hashed).hex();
}

}  // namespace

void SimWorld::record_disk() {
  Peek p = fs_->peek(kPath);
  std::optional<std::string> now;
  if (p.regular) now = std::move(p.content);
  if (now != disk_now_) {
    disk_now_ = now;
    last_refused_.reset();  // the file changed: its next content may be offered, even if refused before
    if (disk_now_) disk_seq_[*disk_now_] = ++seq_;
  }
  VolumeState v = peek_volume();
  std::optional<std::string> state;
  if (v.exists) state = state_hash(v.keys);
  if (state == volume_now_) return;
  volume_now_ = state;
  last_refused_snapshot_.reset();
  if (!state) return;
  volume_seq_[*state] = ++seq_;
  std::set<std::string> names;
  for (const auto& [key, content] : v.keys) {
    key_contents_[key].insert(Digest::of(content).hex());
    names.insert(key);
  }
  key_sets_.insert(std::move(names));
}

Verdict SimWorld::on_content(std::string_view content) {
  auto seen = disk_seq_.find(std::string(content));
  bool was_on_disk = seen != disk_seq_.end();
  // A reader can tell versions apart only if their attributes differ: on 1 ns timestamps
  // without attribute caching, a mix offered to the callback is the watcher's fault.
  if (!was_on_disk && config_.granularity == 1ns && !stale_attributes_seen_ &&
      !pending_violation_)
    pending_violation_ = Violation{"never_mixed",
                                   "the callback was offered a content never on disk as a "
                                   "whole: " + version_of(content)};
  // FileWatcher's promise: called only for content whose hash differs from the active
  // one, and never again for a content it has just refused.
  if (!accepted_.empty() && accepted_.back().content == content && !pending_violation_)
    pending_violation_ = Violation{"offered_only_changes",
                                   "the active content " + version_of(content) + " was offered again"};
  if (last_refused_ == content && !pending_violation_)
    pending_violation_ = Violation{"refused_once", "the just-refused " + version_of(content) +
                                                       " was offered again"};
  last_refused_ = std::string(content);
  if (!checksum_ok(content)) return Verdict::reject("checksum line does not match");
  if (asks_to_throw(content)) throw std::runtime_error("the test callback throws on request");
  last_refused_.reset();
  if (!was_on_disk && !pending_violation_)
    pending_violation_ = Violation{"never_mixed", "accepted a content never on disk as a whole: " +
                                                      version_of(content)};
  uint64_t seq = was_on_disk ? seen->second : 0;
  if (!accepted_.empty() && seq < accepted_.back().disk_seq && !pending_violation_)
    pending_violation_ =
        Violation{"no_rollback", "accepted " + version_of(content) + " (on disk at #" +
                                     std::to_string(seq) + ") after " +
                                     version_of(accepted_.back().content) + " (on disk at #" +
                                     std::to_string(accepted_.back().disk_seq) + ")"};
  accepted_.push_back({std::string(content), Digest::of(content), seq});
  return Verdict::accept();
}

// What a snapshot offered to the VolumeWatcher's callback must be; nullopt if it is.
std::optional<Violation> SimWorld::judge_snapshot(const Snapshot& snapshot) {
  std::map<std::string, SnapshotKey, std::less<>> rehashed;
  for (const auto& [key, entry] : snapshot.keys) {
    if (!(entry.hash == Digest::of(entry.content)))
      return Violation{"snapshot_hash", "key " + key + " carries a hash not of its content"};
    rehashed.emplace(key, SnapshotKey{{}, entry.hash});
  }
  if (!(snapshot_hash(rehashed) == snapshot.hash))
    return Violation{"snapshot_hash", "the snapshot hash is not the hash of its keys"};
  // Added, changed and removed are against the active snapshot.
  const auto& active = volume_accepted_.back().keys;
  std::vector<std::string> added, changed, removed;
  for (const auto& [key, entry] : snapshot.keys) {
    auto was = active.find(key);
    if (was == active.end()) added.push_back(key);
    else if (!(was->second == entry.hash)) changed.push_back(key);
  }
  for (const auto& [key, hash] : active)
    if (!snapshot.keys.count(key)) removed.push_back(key);
  if (added != snapshot.added || changed != snapshot.changed || removed != snapshot.removed)
    return Violation{"key_changes", "added/changed/removed do not match the active snapshot"};
  std::string hash = snapshot.hash.hex();
  if (hash == volume_accepted_.back().digest.hex())
    return Violation{"offered_only_changes", "the active snapshot was offered again"};
  if (last_refused_snapshot_ == hash)
    return Violation{"refused_once", "the just-refused snapshot was offered again"};
  // Which keys there are is a listing, not a matter of timestamps: always one the volume had.
  std::set<std::string> names;
  for (const auto& [key, entry] : snapshot.keys) names.insert(key);
  if (!key_sets_.count(names))
    return Violation{"never_torn", "offered a snapshot whose set of keys the volume never had"};
  // A kubelet volume changes as a whole: a snapshot is one the volume held, never keys of
  // two publishes. A plain directory changes key by key: each key is a content it held.
  // Either way a key torn by a reader that cannot tell versions apart is excused.
  bool blind = config_.granularity != 1ns || stale_attributes_seen_;
  if (config_.layout == Layout::kubelet) {
    if (!volume_seq_.count(hash) && !blind)
      return Violation{"never_torn", "offered a snapshot the volume never held as a whole"};
  } else {
    for (const auto& [key, entry] : snapshot.keys)
      if (!blind && !key_contents_[key].count(entry.hash.hex()))
        return Violation{"never_torn", "offered " + key + " with a content it never held"};
  }
  return std::nullopt;
}

Verdict SimWorld::on_snapshot(const Snapshot& snapshot) {
  bool loading = volume_accepted_.empty();
  if (!loading && !pending_violation_) pending_violation_ = judge_snapshot(snapshot);
  std::string hash = snapshot.hash.hex();
  last_refused_snapshot_ = hash;
  for (const auto& [key, entry] : snapshot.keys)
    if (!checksum_ok(entry.content)) return Verdict::reject(key + ": checksum line does not match");
  for (const auto& [key, entry] : snapshot.keys)
    if (asks_to_throw(entry.content)) throw std::runtime_error(key + " asks the test callback to throw");
  last_refused_snapshot_.reset();
  // Accepted, so every key is whole: whatever the timestamps, the snapshot must be one the
  // volume held (as a whole, for a kubelet volume).
  auto seen = volume_seq_.find(hash);
  if (config_.layout == Layout::kubelet && seen == volume_seq_.end() && !pending_violation_)
    pending_violation_ = Violation{"never_torn", "accepted a snapshot the volume never held as a whole"};
  uint64_t seq = seen == volume_seq_.end() ? 0 : seen->second;
  if (config_.layout == Layout::kubelet && !loading && seq < volume_accepted_.back().disk_seq &&
      !pending_violation_)
    pending_violation_ = Violation{"no_rollback", "accepted a snapshot older than the active one"};
  AcceptedSnapshot accepted{snapshot.hash, {}, seq};
  for (const auto& [key, entry] : snapshot.keys) accepted.keys.emplace(key, entry.hash);
  volume_accepted_.push_back(std::move(accepted));
  return Verdict::accept();
}

Options SimWorld::watch_options() const {
  Options o;
  o.mode = config_.mode;
  o.poll_interval = config_.poll_interval;
  o.safety_interval = config_.safety_interval;
  o.rehash_every = config_.rehash_every;
  o.safety_rehash_every = config_.safety_rehash_every;
  o.read_size_max = config_.read_size_max;
  o.stall_timeout = config_.stall_timeout;
  o.logger = logger_;
  return o;
}

// A call under /vol while its server does not answer: a check the runner runs parks until
// the server is back; anywhere else, it would have blocked the thread that made it.
void SimWorld::on_hung_call(const std::string& path) {
  if (!hung_ || lockstep_->park()) return;
  if (!hung_on_loop_) hung_on_loop_ = path;
}

std::optional<Violation> SimWorld::local_converged() const {
  if (!local_) return std::nullopt;
  Peek p = fs_->peek("/local/app.yaml");
  if (p.regular && acceptable(p.content) && p.content != local_active_)
    return Violation{"converged", "the local watch, on another volume of the hub, holds " +
                                      version_of(local_active_) + " but its disk holds " +
                                      version_of(p.content) + (hung_ ? " while /vol is hung" : "")};
  return std::nullopt;
}

// Faults stop, but /vol's server stays dead: the local watch converges meanwhile, and the
// watches on /vol report their stuck check.
std::optional<Violation> SimWorld::quiesce_hung() {
  auto poll = std::chrono::nanoseconds(config_.poll_interval);
  std::chrono::nanoseconds bound = std::max(bound_for(local_->status().mode),
                                            2 * poll + config_.stall_timeout + extra_delay_);
  note("    quiet for " + ms_text(bound) + " (/vol still hung)");
  run_hub(bound);
  if (pending_violation_) return pending_violation_;
  if (auto v = local_converged()) return v;
  if (lockstep_->parked() > 0)
    for (const Status& st : {status(), volume_status()})
      if (!st.path.empty() && !st.stalled_since)
        return Violation{"stall_reported", st.path + " has had a check stuck in its hung volume "
                                           "for over " + ms_text(bound) + ", but does not report "
                                           "stalled"};
  return std::nullopt;
}

// Each decision of a watch, as a line of the trace.
std::function<void(const Decision&)> SimWorld::traced(std::string who) {
  return [this, who = std::move(who)](const Decision& d) {
    if (!keep_trace_) return;
    std::string line = "    " + who + " " + std::string(to_string(d.kind));
    if (d.hash) line += " " + d.hash->short_hex();
    if (d.error) line += " " + error_name(d.error);
    if (!d.detail.empty()) line += " (" + std::string(d.detail) + ")";
    note(line);
  };
}

std::optional<std::string> SimWorld::start_volume() {
  Options o = watch_options();
  o.on_decision = traced("volume");
  try {
    volume_ = std::make_unique<VolumeWatcher>(
        kDir, [this](const Snapshot& s) { return on_snapshot(s); }, o, KeySelection{}, hub_);
    volume_->start();
  } catch (const StartError& e) {
    volume_.reset();
    return std::string(e.what());
  }
  return std::nullopt;
}

std::optional<std::string> SimWorld::try_start() {
  Options o = watch_options();
  o.on_decision = traced("decision");
  try {
    watcher_ = std::make_unique<FileWatcher>(
        kPath, [this](std::string_view c) { return on_content(c); }, o, hub_);
    watcher_->start();
  } catch (const StartError& e) {
    watcher_.reset();
    return std::string(e.what());
  }
  started_ = true;
  if (config_.hung_volume && !local_) {
    Options lo = watch_options();
    lo.on_decision = traced("local");
    local_ = std::make_unique<FileWatcher>(
        "/local/app.yaml",
        [this](std::string_view c) {
          if (!acceptable(c)) return Verdict::reject("checksum mismatch");
          local_active_ = std::string(c);
          return Verdict::accept();
        },
        lo, hub_);
    local_->start();
  }
  if (!config_.watch_volume) return std::nullopt;
  // The whole volume: it must start exactly when the volume holds a valid snapshot.
  VolumeState v = peek_volume();
  std::optional<std::string> volume_failed = start_volume();
  if (v.offerable && volume_failed)
    pending_violation_ = Violation{"start", "the VolumeWatcher failed on a valid volume: " + *volume_failed};
  if (!v.offerable && !volume_failed)
    pending_violation_ = Violation{"initial_load_fails", "the VolumeWatcher started on an invalid volume"};
  started_ = true;
  return std::nullopt;
}

std::string_view to_string(InitialState s) {
  switch (s) {
    case InitialState::valid: return "valid";
    case InitialState::missing: return "missing";
    case InitialState::unreadable: return "unreadable";
    case InitialState::corrupt: return "corrupt";
    case InitialState::throwing: return "throwing";
    case InitialState::empty: return "empty";
    case InitialState::dangling: return "dangling";
    case InitialState::loop: return "loop";
    case InitialState::oversized: return "oversized";
    case InitialState::io_error: return "io_error";
  }
  return "?";
}

void SimWorld::prepare_initial(InitialState s) {
  using TK = TreeOp::Kind;
  const std::string dir = kDir;
  auto with = [&](ContentKind kind) {
    publish(payload(1, kind, 0), 0);
  };
  switch (s) {
    case InitialState::valid: with(ContentKind::valid); break;
    case InitialState::missing: {
      auto keys = payload(1, ContentKind::valid, 0);
      keys.erase(kKey);
      publish(keys, 0);
      break;
    }
    case InitialState::unreadable:
      if (config_.layout == Layout::kubelet) {
        auto keys = payload(1, ContentKind::valid, 0);
        publish(keys, 0, 0);  // the volume's defaultMode: nobody may read
      } else {
        with(ContentKind::valid);
        apply_op({.kind = TK::chmod, .path = kPath, .mode = 0});
      }
      break;
    case InitialState::corrupt: with(ContentKind::corrupt); break;
    case InitialState::throwing: with(ContentKind::throwing); break;
    case InitialState::empty: {
      auto keys = payload(1, ContentKind::valid, 0);
      keys[kKey].clear();
      publish(keys, 0);
      break;
    }
    case InitialState::dangling:
      with(ContentKind::valid);
      apply_op({.kind = TK::symlink, .path = dir + "/.app.tmp", .other = "..missing/app.yaml"});
      apply_op({.kind = TK::rename, .path = dir + "/.app.tmp", .other = kPath});
      break;
    case InitialState::loop:
      with(ContentKind::valid);
      apply_op({.kind = TK::symlink, .path = dir + "/.app.tmp", .other = kKey});
      apply_op({.kind = TK::rename, .path = dir + "/.app.tmp", .other = kPath});
      break;
    case InitialState::oversized: with(ContentKind::oversized); break;
    case InitialState::io_error:
      with(ContentKind::valid);
      fs_->inject_error(FsCall::open, errno_code(EIO), "/vol");
      break;
  }
}

std::optional<Violation> SimWorld::start() {
  using TK = TreeOp::Kind;
  InitialState s = config_.initial;
  note("start with a " + std::string(to_string(s)) + " file");
  prepare_initial(s);
  std::optional<std::string> failed = try_start();
  if (s != InitialState::valid) ++tally_[Row::initial_load].injected;
  // A volume that raises no events is a fault of the whole run, in effect from its start
  // (auto chooses polling, so no event is ever withheld to count).
  if (config_.silent_volume) ++tally_[Row::no_events].injected;
  if (s == InitialState::valid) {
    if (failed) return Violation{"start", *failed};
    return check_safety();
  }
  if (!failed)
    return Violation{"initial_load_fails",
                     "start() succeeded on a " + std::string(to_string(s)) + " file"};
  if (failed->find(kPath) == std::string::npos)
    return Violation{"initial_load_fails", "StartError does not name the path: " + *failed};
  note("    start failed as it must: " + *failed);
  ++tally_[Row::initial_load].checks_passed;
  // Repaired, the same watcher configuration must start.
  fs_->clear_faults();
  apply_op({.kind = TK::remove, .path = kPath});
  publish(payload(1, ContentKind::valid, 0), 0);
  if (auto again = try_start()) return Violation{"start", "after repair: " + *again};
  return check_safety();
}

void SimWorld::start_companion(int which) {
  if (companion_) return;
  const std::string dir = kDir;
  companion_path_ = which == 1 ? dir + "/..data/other.yaml"
                    : which == 2 ? std::string(kPath)  // the same file, watched twice
                                 : dir + "/other.yaml";
  companion_accepted_.clear();
  Options o = watch_options();
  companion_ = std::make_unique<FileWatcher>(
      companion_path_,
      [this](std::string_view c) {
        companion_accepted_.push_back(Digest::of(c));
        return Verdict::accept();
      },
      o, hub_);
  try {
    companion_->start();
    note("    second watcher started");
  } catch (const StartError& e) {
    note(std::string("    second watcher could not start: ") + e.what());
    companion_.reset();
  }
}

std::optional<Violation> SimWorld::check_companion() const {
  if (!companion_) return std::nullopt;
  Status st = companion_->status();
  if (companion_accepted_.empty() || !st.hash || !(*st.hash == companion_accepted_.back()))
    return Violation{"active_is_accepted", "second watcher: active hash " + describe_hash(st.hash) +
                                               " is not its last accepted content"};
  if (st.reloads != companion_accepted_.size() - 1)
    return Violation{"reload_count", "second watcher: " + std::to_string(st.reloads) +
                                         " reloads counted, " +
                                         std::to_string(companion_accepted_.size() - 1) +
                                         " accepted"};
  return std::nullopt;
}

std::optional<Violation> SimWorld::companion_converged() const {
  if (!companion_) return std::nullopt;
  Peek p = fs_->peek(companion_path_);
  if (!p.regular || !p.readable || p.content.empty() || p.content.size() > config_.read_size_max)
    return std::nullopt;
  Status st = companion_->status();
  if (st.hash && *st.hash == Digest::of(p.content)) return std::nullopt;
  return Violation{"converged", "second watcher on " + companion_path_ + " holds " +
                                    describe_hash(st.hash) + ", the disk " +
                                    Digest::of(p.content).short_hex() + " (mode " +
                                    std::string(to_string(st.mode)) + ")"};
}

// --- writers ---

std::error_code SimWorld::apply_op(const TreeOp& op) {
  clock_->advance(1us);  // a writer's syscall takes time, so versions get distinct mtimes
  ++ops_;
  std::error_code ec = fs_->apply(op);
  if (keep_trace_) note("    op " + to_string(op) + (ec ? " -> " + ec.message() : ""));
  return ec;
}

void SimWorld::apply_plan(const std::vector<TreeOp>& ops, uint32_t interleave) {
  for (std::size_t i = 0; i < ops.size(); ++i) {
    apply_op(ops[i]);
    if (i < 32 && (interleave & (1u << i))) run_hub(0ns);
  }
}

// A publish's keys: app.yaml of the given kind, other.yaml, and the optional ones.
std::map<std::string, std::string> SimWorld::payload(int version, ContentKind app,
                                                     int keyset) const {
  std::map<std::string, std::string> keys{
      {kKey, make_content(version, app, config_.read_size_max + 512)},
      {kOtherKey, make_content(version, ContentKind::valid)}};
  if (keyset & 1) keys[kExtraKey] = make_content(version, ContentKind::valid);
  // ConfigMap `items` paths are a kubelet matter; a plain directory is watched flat.
  if ((keyset & 2) && config_.layout == Layout::kubelet)
    keys[kNestedKey] = make_content(version, ContentKind::valid);
  return keys;
}

void SimWorld::publish(const std::map<std::string, std::string>& keys, uint32_t interleave,
                       unsigned mode) {
  if (config_.layout == Layout::kubelet) {
    std::optional<std::string> before = data_target();
    apply_plan(kubelet_.plan(*fs_, keys, mode), interleave);
    // A new ..<timestamp> directory: what was edited in place in the old one is gone, and
    // the swap is announced, or shows in the directory a safety poll looks at.
    if (data_target() != before) payload_edited_ = false;
    return;
  }
  save_keys(kDir, keys, interleave);
  if (mode != 0644)
    for (const auto& [key, content] : keys)
      apply_op({.kind = TreeOp::Kind::chmod, .path = std::string(kDir) + "/" + key, .mode = mode});
}

// A plain directory's "publish": an editor saves each key in turn, then the keys that are
// no longer wanted are removed. Not atomic: a snapshot may fall between two saves.
void SimWorld::save_keys(const std::string& dir, const std::map<std::string, std::string>& keys,
                         uint32_t interleave) {
  std::vector<TreeOp> ops;
  for (const auto& [key, content] : keys) {
    auto save = plan_editor_save(dir + "/" + key, content);
    ops.insert(ops.end(), save.begin(), save.end());
  }
  for (const std::string& name : fs_->list(dir))
    if (name.front() != '.' && !keys.count(name))
      ops.push_back({.kind = TreeOp::Kind::remove, .path = dir + "/" + name});
  apply_plan(ops, interleave);
}

// A non-atomic rewrite of the watched key. In a kubelet volume this is a writer that is
// not the kubelet editing the payload in place: no event announces it (the ..<timestamp>
// directories hold no kernel watch), so the reading safety poll finds it and the volume
// polls.
void SimWorld::write_in_place(int version, int chunks, uint32_t interleave) {
  std::string target = kPath;
  if (config_.layout == Layout::kubelet) {
    if (auto data = data_target()) target = std::string(kDir) + "/" + *data + "/" + kKey;
    needs_safety_poll_ = payload_edited_ = true;
    demotion_excused_ = true;
  }
  apply_plan(plan_in_place_write(target, make_content(version, ContentKind::valid),
                                 static_cast<std::size_t>(std::max(1, chunks))),
             interleave);
}

// Builds the next tree beside the live one, then swaps the directory two levels above the
// watched key: `mv /vol /vol.old && mv /vol.new /vol`. The old tree stays (until the next
// swap): nothing happens to the directory the volume's kernel watch is on.
void SimWorld::rename_ancestor(int version) {
  using TK = TreeOp::Kind;
  const std::string next = "/vol.new/cfg";
  if (fs_->exists("/vol.old")) apply_op({.kind = TK::remove_all, .path = "/vol.old"});
  if (config_.ancestors_unwatchable) {
    // Nothing above the volume is watched: only the safety poll can find this.
    needs_safety_poll_ = true;
    demotion_excused_ = true;
  }
  apply_op({.kind = TK::make_dir, .path = "/vol.new",
            .mode = config_.ancestors_unwatchable ? 0711u : 0755u});
  apply_op({.kind = TK::make_dir, .path = next, .mode = 0755});
  auto keys = payload(version, ContentKind::valid, 0);
  if (config_.layout == Layout::kubelet) {
    KubeletWriter writer(next);
    apply_plan(writer.plan(*fs_, keys), 0);
  } else {
    save_keys(next, keys, 0);
  }
  apply_op({.kind = TK::rename, .path = "/vol", .other = "/vol.old"});
  apply_op({.kind = TK::rename, .path = "/vol.new", .other = "/vol"});
}

// --- the hub ---

void SimWorld::run_hub(std::chrono::nanoseconds span) {
  if (!started_) {
    clock_->advance(span);
    return;
  }
  SteadyTime deadline = clock_->now() + span;
  constexpr int kRunsMax = 100000;
  int runs = 0;
  do {
    hub_running_ = true;
    hub_->run_once(deadline);
    hub_running_ = false;
    ++ops_;
    if (auto v = check_safety(); v && !pending_violation_) pending_violation_ = v;
  } while (clock_->now() < deadline && ++runs < kRunsMax);
  if (runs >= kRunsMax && !pending_violation_)
    pending_violation_ = Violation{"hub_progress", "run_once did not let virtual time pass"};
}

std::optional<Violation> SimWorld::check_safety() {
  if (pending_violation_) return pending_violation_;
  if (hung_on_loop_)
    return Violation{"loop_never_blocks", "a call under the hung volume (" + *hung_on_loop_ +
                                              ") was made on the loop's thread: every watch "
                                              "of the hub would stall behind it"};
  if (!started_) return std::nullopt;
  Status st = status();
  if (accepted_.empty()) return Violation{"active_is_accepted", "nothing was ever accepted"};
  if (!st.hash || !(*st.hash == accepted_.back().digest))
    return Violation{"active_is_accepted",
                     "active hash " + describe_hash(st.hash) + " is not the SHA-256 of the last "
                     "accepted content " + version_of(accepted_.back().content)};
  if (st.reloads != accepted_.size() - 1)
    return Violation{"reload_count", std::to_string(st.reloads) + " reloads counted, " +
                                         std::to_string(accepted_.size() - 1) + " accepted"};
  if (accepted_.back().content.size() > config_.read_size_max)
    return Violation{"size_limit", "accepted " + std::to_string(accepted_.back().content.size()) +
                                       " B over a limit of " +
                                       std::to_string(config_.read_size_max)};
  if (*internal_errors_ > 0)
    return Violation{"nothing_escaped", "the hub logged an internal_error"};
  if (volume_) {
    Status vs = volume_status();
    if (!vs.hash || !(*vs.hash == volume_accepted_.back().digest))
      return Violation{"active_is_accepted", "the volume's active hash " + describe_hash(vs.hash) +
                                                 " is not its last accepted snapshot's"};
    if (vs.reloads != volume_accepted_.size() - 1)
      return Violation{"reload_count", "volume: " + std::to_string(vs.reloads) + " reloads counted, " +
                                           std::to_string(volume_accepted_.size() - 1) + " accepted"};
  }
  return check_companion();
}

// --- faults, quiet periods and convergence ---

// How long a watch in `mode` may take to see a change, once faults have stopped.
std::chrono::nanoseconds SimWorld::bound_for(ActiveMode mode) const {
  auto poll = std::chrono::nanoseconds(config_.poll_interval);
  auto safety = std::chrono::nanoseconds(config_.safety_interval);
  // On a silent volume `auto` must have chosen polling: hold it to that bound, whatever
  // the watch says, or a watch left in events mode would pass on its safety poll.
  if (config_.silent_volume && config_.mode == Mode::automatic) mode = ActiveMode::poll;
  if (mode == ActiveMode::poll) {
    // Same size, same mtime tick: only the every-Nth-poll rehash can tell. So for a link
    // re-pointed in a directory that keeps its stamps, the first time (the volume then
    // reads its links at every poll).
    bool blind = config_.granularity > 1ns || stale_attributes_seen_ || config_.frozen_dir_stamps;
    return (blind ? poll * (config_.rehash_every + 1) : 2 * poll) + extra_delay_;
  }
  // Lost events, or a silent volume watched in forced events mode: the safety poll. A lost
  // IN_CLOSE_WRITE leaves its file's writer at work for the hub: looks wait a safety
  // interval without writes first.
  bool unannounced = needs_safety_poll_ || config_.silent_volume;
  if (!unannounced) return poll + extra_delay_;
  // Safety polls compare attributes: what an attribute cache hides, and a payload edited in
  // place (they do not look at it), wait for the one in safety_rehash_every that reads.
  bool reads_only = stale_attributes_seen_ || config_.frozen_dir_stamps || payload_edited_;
  auto safety_polls = reads_only ? std::max(config_.safety_rehash_every + 1, 2u) : 2u;
  return safety * safety_polls + 2 * poll + extra_delay_;
}

// The slowest of the watches decides.
std::chrono::nanoseconds SimWorld::convergence_bound() const {
  std::chrono::nanoseconds bound = bound_for(status().mode);
  if (volume_) bound = std::max(bound, bound_for(volume_status().mode));
  if (companion_) bound = std::max(bound, bound_for(companion_->status().mode));
  return bound;
}

std::optional<Violation> SimWorld::volume_converged() {
  if (!volume_) return std::nullopt;
  VolumeState v = peek_volume();
  Status vs = volume_status();
  if (v.offerable && (!vs.hash || vs.hash->hex() != state_hash(v.keys)))
    return Violation{"converged", "the volume's active snapshot is not the one on disk (" +
                                      std::to_string(v.keys.size()) + " keys; mode " +
                                      std::string(to_string(vs.mode)) + ", last error \"" +
                                      vs.last_error + "\")"};
  return std::nullopt;
}

std::optional<Violation> SimWorld::quiesce() {
  fs_->clear_faults();
  events_->clear_faults();
  if (config_.watch_limit_errno) events_->fail_add_watch(errno_code(config_.watch_limit_errno));
  if (hung_) return quiesce_hung();
  std::chrono::nanoseconds bound = convergence_bound();
  if (local_) bound = std::max(bound, bound_for(local_->status().mode));
  note("    quiet for " + ms_text(bound));
  run_hub(bound);
  if (pending_violation_) return pending_violation_;
  // Events told everything, so nothing may have made a watch fall back to polling (checked
  // first: a watch that did is also late, and this is why).
  bool events_expected = config_.mode != Mode::poll && !config_.silent_volume &&
                         !config_.watch_limit_errno && !demotion_excused_;
  if (events_expected) {
    for (const Status& st : {status(), volume_status()})
      if (st.mode != ActiveMode::events && !st.path.empty())
        return Violation{"stays_in_events", st.path + " fell back to polling though no event was "
                                            "lost: \"" + st.last_error + "\""};
  }
  Peek p = fs_->peek(kPath);
  if (started_ && p.regular && p.readable && acceptable(p.content) &&
      p.content.size() <= config_.read_size_max) {
    Status st = status();
    if (!st.hash || !(*st.hash == Digest::of(p.content)))
      return Violation{"converged",
                       "after " + ms_text(bound) + " without faults the active content is " +
                           version_of(accepted_.back().content) + " but the disk holds " +
                           version_of(p.content) + " (mode " + std::string(to_string(st.mode)) +
                           ", last error \"" + st.last_error + "\")"};
  }
  if (auto v = companion_converged()) return v;
  if (auto v = volume_converged()) return v;
  if (auto v = local_converged()) return v;
  for (const Status& st : {status(), volume_status()})
    if (st.stalled_since)
      return Violation{"resumed", st.path + " still reports stalled though its volume has "
                                  "answered for " + ms_text(bound)};
  credit_checks();
  active_rows_.clear();
  needs_safety_poll_ = payload_edited_ = false;
  stale_attributes_seen_ = false;  // a mix offered under a stale cache was excused then
  extra_delay_ = 0ns;
  return std::nullopt;
}

// Faults armed by a command (an error for the next calls, events lost from now on…) count
// when they take effect, in whatever step that is, for the row they stand for.
void SimWorld::count_effects() {
  const FsFaultCounts& f = fs_->fault_counts();
  const EventFaultCounts& e = events_->fault_counts();
  auto took = [this](Row row, uint64_t now, uint64_t& seen) {
    tally_[row].injected += now - seen;
    seen = now;
  };
  took(Row::file_deleted, f.enoent_errors, seen_fs_.enoent_errors);
  took(Row::bad_symlink, f.eloop_errors, seen_fs_.eloop_errors);
  uint64_t other_errors = f.errors - f.enoent_errors - f.eloop_errors;
  took(Row::unreadable, other_errors, seen_fs_.errors);
  took(Row::swap_mid_read, f.mid_read_changes - f.named_mid_read_changes, seen_fs_.mid_read_changes);
  took(Row::torn_publish, f.named_mid_read_changes, seen_fs_.named_mid_read_changes);
  took(Row::no_events, f.stale_answers, seen_fs_.stale_answers);
  took(Row::no_events, e.suppressed, seen_events_.suppressed);
  took(Row::lost_events, e.lost, seen_events_.lost);
  took(Row::lost_events, e.duplicated, seen_events_.duplicated);
  took(Row::lost_events, e.delayed, seen_events_.delayed);
  took(Row::lost_events, e.reordered_batches, seen_events_.reordered_batches);
  took(Row::lost_events, e.overflows, seen_events_.overflows);
  took(Row::inotify_limits, e.add_watch_errors, seen_events_.add_watch_errors);
}

void SimWorld::credit_checks() {
  for (Row row : active_rows_) ++tally_[row].checks_passed;
}

void SimWorld::inject(const SimCommand& c) {
  using K = SimCommand::Kind;
  ++ops_;
  switch (c.kind) {
    case K::fs_error:
      fs_->inject_error(c.call, errno_code(c.error), "/vol", c.arg);
      needs_safety_poll_ = true;  // nothing on disk changes when it ends: no event
      demotion_excused_ = true;
      break;
    case K::swap_mid_read: {
      int v = c.version;
      fs_->on_next_read([this, v] {
        clock_->advance(1ms);
        publish(payload(v, ContentKind::valid, 0), 0);
      });
      break;
    }
    case K::publish_mid_snapshot: {
      int v = c.version;
      // extra.yaml is read by the VolumeWatcher alone, between app.yaml and other.yaml.
      fs_->on_next_read([this, v] {
        clock_->advance(1ms);
        publish(payload(v, ContentKind::valid, 1), 0);
      }, std::string("/") + kExtraKey);
      break;
    }
    case K::replace_mid_read: {
      int v = c.version;
      fs_->set_short_reads(64);
      fs_->on_next_read([this, v] {
        clock_->advance(1ms);
        write_in_place(v, 1, 0);
      });
      break;
    }
    case K::short_reads: fs_->set_short_reads(static_cast<std::size_t>(c.arg)); break;
    case K::stale_attributes:
      fs_->set_attribute_cache(std::chrono::milliseconds(c.arg));
      stale_attributes_seen_ = true;
      needs_safety_poll_ = true;  // an event's check trusts the stale signature
      demotion_excused_ = true;
      break;
    case K::lose_events:
      events_->lose_next(static_cast<unsigned>(c.arg));
      needs_safety_poll_ = true;
      demotion_excused_ = true;
      break;
    case K::duplicate_events: events_->set_duplicate_per_mille(static_cast<unsigned>(c.arg)); break;
    case K::delay_events:
      events_->set_delay(std::chrono::milliseconds(c.arg));
      extra_delay_ = std::max<std::chrono::nanoseconds>(extra_delay_,
                                                        std::chrono::milliseconds(c.arg));
      demotion_excused_ = true;  // a safety poll may find the change before its event
      break;
    case K::reorder_events: events_->set_reorder(true); break;
    case K::overflow_queue:
      events_->set_queue_max(static_cast<std::size_t>(c.arg));
      demotion_excused_ = true;
      break;
    case K::watch_limit:
      events_->fail_add_watch(errno_code(c.error));
      demotion_excused_ = true;
      break;
    default: break;
  }
}

std::optional<Violation> SimWorld::step(const SimCommand& c) {
  using K = SimCommand::Kind;
  using TK = TreeOp::Kind;
  if (keep_trace_) {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(clock_->elapsed()).count();
    char at[48];
    std::snprintf(at, sizeof at, "t=%lld.%06llds ", static_cast<long long>(us / 1000000),
                  static_cast<long long>(us % 1000000));
    note(at + to_string(c));
  }
  const std::string dir = kDir;
  const bool kubelet_layout = config_.layout == Layout::kubelet;
  auto content = [&](ContentKind kind) {
    return make_content(c.version, kind, config_.read_size_max + 512);
  };
  auto publish_as = [&](ContentKind kind, int keyset) {
    publish(payload(c.version, kind, keyset), c.interleave);
  };
  auto swap_key = [&](const std::string& target) {
    apply_op({.kind = TK::symlink, .path = dir + "/.app.yaml.tmp", .other = target});
    apply_op({.kind = TK::rename, .path = dir + "/.app.yaml.tmp", .other = kPath});
  };
  // The watched key's mode, the way its writer sets it.
  auto set_mode = [&](unsigned mode) {
    if (!kubelet_layout) {
      apply_op({.kind = TK::chmod, .path = kPath, .mode = mode});
      return;
    }
    VolumeState now = peek_volume();  // the same keys again, with another defaultMode
    publish(now.keys.empty() ? payload(c.version, ContentKind::valid, 0) : now.keys, 0, mode);
  };
  std::optional<Violation> result;
  switch (c.kind) {
    case K::publish: publish_as(ContentKind::valid, c.arg); break;
    case K::publish_corrupt: publish_as(ContentKind::corrupt, 0); break;
    case K::publish_throwing: publish_as(ContentKind::throwing, 0); break;
    case K::publish_oversized: {
      // Far over the limit, or at its edge: exactly the limit (offerable), one byte over.
      static constexpr std::size_t kOver[] = {512, 0, 1};
      auto keys = payload(c.version, ContentKind::valid, 0);
      keys[kKey] = make_content(c.version, ContentKind::oversized,
                                config_.read_size_max + kOver[static_cast<std::size_t>(c.arg) % 3]);
      publish(keys, c.interleave);
      break;
    }
    case K::publish_without_key: {
      auto keys = payload(c.version, ContentKind::valid, 0);
      keys.erase(kKey);
      publish(keys, c.interleave);
      break;
    }
    case K::publish_bad_key: {
      auto keys = payload(c.version, ContentKind::valid, 1);
      static constexpr ContentKind kinds[] = {ContentKind::corrupt, ContentKind::throwing,
                                              ContentKind::oversized, ContentKind::valid};
      keys[kOtherKey] = make_content(c.version, kinds[c.arg & 3], config_.read_size_max + 512);
      publish(keys, c.interleave);
      if ((c.arg & 3) == 3) {  // unreadable: a mode the kubelet would not set for one key alone,
                               // so the other's editor it is; the kubelet's own is set_mode
        std::string other = dir + "/" + kOtherKey;
        if (auto data = data_target(); data && kubelet_layout)
          other = dir + "/" + *data + "/" + kOtherKey;
        apply_op({.kind = TK::chmod, .path = other, .mode = 0});
        if (kubelet_layout) {
          needs_safety_poll_ = payload_edited_ = true;  // an edit of the payload in place: no event
          demotion_excused_ = true;
        }
      }
      break;
    }
    case K::rename_ancestor: rename_ancestor(c.version); break;
    case K::editor_save:
      apply_plan(plan_editor_save(kPath, content(ContentKind::valid)), c.interleave);
      break;
    case K::in_place_write: write_in_place(c.version, c.arg, c.interleave); break;
    case K::make_unreadable: set_mode(0); break;
    case K::make_readable: set_mode(0644); break;
    case K::remove_dir:
      apply_op({.kind = TK::remove_all, .path = dir});
      // Its return can be watched for only in the directory above, if that can be watched.
      if (config_.ancestors_unwatchable) demotion_excused_ = true;
      break;
    case K::recreate_dir:
      apply_op({.kind = TK::make_dir, .path = dir, .mode = 0755});
      publish_as(ContentKind::valid, 0);
      break;
    case K::dangle_data:
      apply_op({.kind = TK::symlink, .path = dir + "/..data_tmp", .other = "..missing"});
      apply_op({.kind = TK::rename, .path = dir + "/..data_tmp", .other = dir + "/..data"});
      break;
    case K::heal_dangling:
      // The kubelet's discipline: a ..<name> directory appears whole, by a rename.
      apply_op({.kind = TK::make_dir, .path = dir + "/.heal", .mode = 0755});
      for (const auto& [key, data] : payload(c.version, ContentKind::valid, 0))
        apply_op({.kind = TK::write_file, .path = dir + "/.heal/" + key, .content = data});
      apply_op({.kind = TK::rename, .path = dir + "/.heal", .other = dir + "/..missing"});
      break;
    case K::loop_key: swap_key(kKey); break;
    case K::restore_key:
      if (kubelet_layout) swap_key(std::string("..data/") + kKey);
      break;
    case K::companion_start:
      // start() loads on the calling thread: on a dead mount it would block it, as it
      // would block any caller; that is not what the harness looks at.
      if (hung_) note("    second watcher not started: /vol is hung");
      else start_companion(c.arg);
      break;
    case K::hang_volume:
      // Only a poll-mode volume's checks leave the loop; an events volume that hangs
      // blocks its hub, which is the documented limit, not a fault to test.
      if (!config_.hung_volume) break;
      hung_ = true;
      lockstep_->threaded(true);
      break;
    case K::release_volume:
      if (!config_.hung_volume) break;
      hung_ = false;
      lockstep_->release();  // each parked check finishes, on its own thread
      lockstep_->threaded(false);
      break;
    case K::local_save:
      if (config_.hung_volume)
        apply_plan(plan_editor_save("/local/app.yaml", make_content(c.version, ContentKind::valid)),
                   c.interleave);
      break;
    case K::relink_save:
      if (!kubelet_layout) {
        std::string version = ".app.yaml.v" + std::to_string(c.version) + "-" + std::to_string(++relinks_);
        apply_plan({{.kind = TK::write_file, .path = dir + "/" + version,
                     .content = content(ContentKind::valid), .mode = 0644},
                    {.kind = TK::symlink, .path = dir + "/.app.yaml.tmp", .other = version},
                    {.kind = TK::rename, .path = dir + "/.app.yaml.tmp", .other = kPath}},
                   c.interleave);
      }
      break;
    case K::companion_stop:
      companion_.reset();
      note("    second watcher stopped");
      break;
    case K::run_hub: run_hub(std::chrono::milliseconds(c.arg)); break;
    case K::quiesce: result = quiesce(); break;
    default: inject(c); break;
  }
  if (auto row = fault_row(c)) {
    if (!arms_a_fault(c)) ++tally_[*row].injected;
    active_rows_.insert(*row);
  }
  count_effects();
  if (!result) result = check_safety();
  if (!result && c.kind != K::quiesce) credit_checks();
  if (result) note("    VIOLATION " + result->invariant + ": " + result->detail);
  return result;
}

}  // namespace hotreload::harness

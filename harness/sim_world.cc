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
  fs_->set_timestamp_granularity(config_.granularity);
  if (config_.silent_volume) fs_->set_filesystem_type(SimFilesystem::kNfsMagic);
  auto events = std::make_unique<SimEvents>(*fs_, clock_, config_.seed ^ 0x9e3779b97f4a7c15ull);
  events_ = events.get();
  if (config_.silent_volume) events_->set_delivers(false);
  if (config_.watch_limit_errno) events_->fail_add_watch(errno_code(config_.watch_limit_errno));
  logger_ = std::make_shared<spdlog::logger>("hotreload-sim",
                                             std::make_shared<CountingSink>(internal_errors_));
  logger_->set_level(spdlog::level::info);
  hub_ = std::make_shared<Hub>(Seams{fs_, std::move(events), clock_}, logger_);
  fs_->set_after_change([this] { record_disk(); });
  apply_op({.kind = TreeOp::Kind::make_dir, .path = "/vol", .mode = 0755});
  apply_op({.kind = TreeOp::Kind::make_dir, .path = kDir, .mode = 0755});
}

SimWorld::~SimWorld() {
  fs_->clear_faults();
  companion_.reset();
  watcher_.reset();  // detaches from the hub before the seams go
  hub_.reset();
}

Status SimWorld::status() const {
  return watcher_ ? watcher_->status() : Status{};
}

void SimWorld::note(const std::string& line) {
  if (keep_trace_) trace_.push_back(line);
}

// --- the watched file's history and the callback ---

void SimWorld::record_disk() {
  Peek p = fs_->peek(kPath);
  std::optional<std::string> now;
  if (p.regular) now = std::move(p.content);
  if (now == disk_now_) return;
  disk_now_ = now;
  last_refused_.reset();  // the file changed: its next content may be offered, even if refused before
  if (disk_now_) disk_seq_[*disk_now_] = ++seq_;
}

Verdict SimWorld::on_content(std::string_view content) {
  struct Depth {
    int& n;
    explicit Depth(int& d) : n(d) { ++n; }
    ~Depth() { --n; }
  } depth(in_callback_);
  max_in_callback_ = std::max(max_in_callback_, in_callback_);
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

std::optional<std::string> SimWorld::try_start() {
  Options o;
  o.mode = config_.mode;
  o.poll_interval = config_.poll_interval;
  o.safety_interval = config_.safety_interval;
  o.rehash_every = config_.rehash_every;
  o.read_size_max = config_.read_size_max;
  o.logger = logger_;
  o.on_decision = [this](const Decision& d) {
    if (!keep_trace_) return;
    std::string line = "    decision " + std::string(to_string(d.kind));
    if (d.hash) line += " " + d.hash->short_hex();
    if (d.error) line += " " + error_name(d.error);
    if (!d.detail.empty()) line += " (" + std::string(d.detail) + ")";
    note(line);
  };
  try {
    watcher_ = std::make_unique<FileWatcher>(
        kPath, [this](std::string_view c) { return on_content(c); }, o, hub_);
    watcher_->start();
  } catch (const StartError& e) {
    watcher_.reset();
    return std::string(e.what());
  }
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
  auto with = [&](std::string content) {
    publish({{kKey, std::move(content)}, {"other.yaml", "other=1\n"}}, 0);
  };
  switch (s) {
    case InitialState::valid: with(make_content(1, ContentKind::valid)); break;
    case InitialState::missing: publish({{"other.yaml", "other=1\n"}}, 0); break;
    case InitialState::unreadable:
      with(make_content(1, ContentKind::valid));
      apply_op({.kind = TK::chmod, .path = kPath, .mode = 0});
      break;
    case InitialState::corrupt: with(make_content(1, ContentKind::corrupt)); break;
    case InitialState::throwing: with(make_content(1, ContentKind::throwing)); break;
    case InitialState::empty: with(""); break;
    case InitialState::dangling:
      with(make_content(1, ContentKind::valid));
      apply_op({.kind = TK::symlink, .path = dir + "/..data_tmp", .other = "..missing"});
      apply_op({.kind = TK::rename, .path = dir + "/..data_tmp", .other = dir + "/..data"});
      break;
    case InitialState::loop:
      with(make_content(1, ContentKind::valid));
      apply_op({.kind = TK::symlink, .path = dir + "/app.yaml.tmp", .other = kKey});
      apply_op({.kind = TK::rename, .path = dir + "/app.yaml.tmp", .other = kPath});
      break;
    case InitialState::oversized:
      with(make_content(1, ContentKind::oversized, config_.read_size_max + 512));
      break;
    case InitialState::io_error:
      with(make_content(1, ContentKind::valid));
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
  apply_op({.kind = TK::symlink, .path = std::string(kDir) + "/app.yaml.tmp",
            .other = std::string("..data/") + kKey});
  apply_op({.kind = TK::rename, .path = std::string(kDir) + "/app.yaml.tmp", .other = kPath});
  publish({{kKey, make_content(1, ContentKind::valid)}, {"other.yaml", "other=1\n"}}, 0);
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
  Options o;
  o.mode = config_.mode;
  o.poll_interval = config_.poll_interval;
  o.safety_interval = config_.safety_interval;
  o.rehash_every = config_.rehash_every;
  o.logger = logger_;
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
  if (!p.regular || !p.readable || p.content.empty()) return std::nullopt;
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

void SimWorld::publish(const std::map<std::string, std::string>& payload, uint32_t interleave) {
  apply_plan(kubelet_.plan(*fs_, payload), interleave);
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
    hub_->run_once(deadline);
    ++ops_;
    if (auto v = check_safety(); v && !pending_violation_) pending_violation_ = v;
  } while (clock_->now() < deadline && ++runs < kRunsMax);
  if (runs >= kRunsMax && !pending_violation_)
    pending_violation_ = Violation{"hub_progress", "run_once did not let virtual time pass"};
}

std::optional<Violation> SimWorld::check_safety() {
  if (pending_violation_) return pending_violation_;
  if (!started_) return std::nullopt;
  if (max_in_callback_ > 1) return Violation{"callback_not_concurrent", "callback re-entered"};
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
    // Same size, same mtime tick: only the every-Nth-poll rehash can tell.
    bool blind = config_.granularity > 1ns || stale_attributes_seen_;
    return (blind ? poll * (config_.rehash_every + 1) : 2 * poll) + extra_delay_;
  }
  // Lost events, or a silent volume watched in forced events mode: the safety poll.
  bool unannounced = needs_safety_poll_ || config_.silent_volume;
  return (unannounced ? safety + 2 * poll : poll) + extra_delay_;
}

// The slowest of the watches decides.
std::chrono::nanoseconds SimWorld::convergence_bound() const {
  std::chrono::nanoseconds bound = bound_for(status().mode);
  if (companion_) bound = std::max(bound, bound_for(companion_->status().mode));
  return bound;
}

std::optional<Violation> SimWorld::quiesce() {
  fs_->clear_faults();
  events_->clear_faults();
  if (config_.watch_limit_errno) events_->fail_add_watch(errno_code(config_.watch_limit_errno));
  std::chrono::nanoseconds bound = convergence_bound();
  note("    quiet for " + ms_text(bound));
  run_hub(bound);
  if (pending_violation_) return pending_violation_;
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
  credit_checks();
  active_rows_.clear();
  needs_safety_poll_ = false;
  stale_attributes_seen_ = false;  // a mix offered under a stale cache was excused then
  extra_delay_ = 0ns;
  return std::nullopt;
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
      break;
    case K::swap_mid_read: {
      int v = c.version;
      fs_->on_next_read([this, v] {
        clock_->advance(1ms);
        publish({{kKey, make_content(v, ContentKind::valid)}, {"other.yaml", "other\n"}}, 0);
      });
      break;
    }
    case K::replace_mid_read: {
      int v = c.version;
      fs_->set_short_reads(64);
      fs_->on_next_read([this, v] {
        clock_->advance(1ms);
        apply_op({.kind = TreeOp::Kind::write_file, .path = kPath,
                  .content = make_content(v, ContentKind::valid)});
      });
      break;
    }
    case K::short_reads: fs_->set_short_reads(static_cast<std::size_t>(c.arg)); break;
    case K::stale_attributes:
      fs_->set_attribute_cache(std::chrono::milliseconds(c.arg));
      stale_attributes_seen_ = true;
      needs_safety_poll_ = true;  // an event's check trusts the stale signature
      break;
    case K::lose_events:
      events_->lose_next(static_cast<unsigned>(c.arg));
      needs_safety_poll_ = true;
      break;
    case K::duplicate_events: events_->set_duplicate_per_mille(static_cast<unsigned>(c.arg)); break;
    case K::delay_events:
      events_->set_delay(std::chrono::milliseconds(c.arg));
      extra_delay_ = std::max<std::chrono::nanoseconds>(extra_delay_,
                                                        std::chrono::milliseconds(c.arg));
      break;
    case K::reorder_events: events_->set_reorder(true); break;
    case K::overflow_queue: events_->set_queue_max(static_cast<std::size_t>(c.arg)); break;
    case K::watch_limit: events_->fail_add_watch(errno_code(c.error)); break;
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
  auto content = [&](ContentKind kind) {
    return make_content(c.version, kind, config_.read_size_max + 512);
  };
  auto kubelet = [&](ContentKind kind) {
    publish({{kKey, content(kind)}, {"other.yaml", "other=" + std::to_string(c.version) + "\n"}},
            c.interleave);
  };
  auto swap_key = [&](const std::string& target) {
    apply_op({.kind = TK::symlink, .path = dir + "/app.yaml.tmp", .other = target});
    apply_op({.kind = TK::rename, .path = dir + "/app.yaml.tmp", .other = kPath});
  };
  std::optional<Violation> result;
  switch (c.kind) {
    case K::publish: kubelet(ContentKind::valid); break;
    case K::publish_corrupt: kubelet(ContentKind::corrupt); break;
    case K::publish_throwing: kubelet(ContentKind::throwing); break;
    case K::publish_oversized: kubelet(ContentKind::oversized); break;
    case K::publish_without_key: publish({{"other.yaml", "other=gone\n"}}, c.interleave); break;
    case K::editor_save:
      apply_plan(plan_editor_save(kPath, content(ContentKind::valid)), c.interleave);
      break;
    case K::in_place_write:
      apply_plan(plan_in_place_write(kPath, content(ContentKind::valid),
                                     static_cast<std::size_t>(std::max(1, c.arg))),
                 c.interleave);
      break;
    case K::make_unreadable: apply_op({.kind = TK::chmod, .path = kPath, .mode = 0}); break;
    case K::make_readable: apply_op({.kind = TK::chmod, .path = kPath, .mode = 0644}); break;
    case K::remove_dir: apply_op({.kind = TK::remove_all, .path = dir}); break;
    case K::recreate_dir:
      apply_op({.kind = TK::make_dir, .path = dir, .mode = 0755});
      kubelet(ContentKind::valid);
      break;
    case K::dangle_data:
      apply_op({.kind = TK::symlink, .path = dir + "/..data_tmp", .other = "..missing"});
      apply_op({.kind = TK::rename, .path = dir + "/..data_tmp", .other = dir + "/..data"});
      break;
    case K::heal_dangling:
      apply_op({.kind = TK::make_dir, .path = dir + "/..missing", .mode = 0755});
      apply_op({.kind = TK::write_file, .path = dir + "/..missing/app.yaml",
                .content = content(ContentKind::valid)});
      break;
    case K::loop_key: swap_key(kKey); break;
    case K::restore_key: swap_key(std::string("..data/") + kKey); break;
    case K::companion_start: start_companion(c.arg); break;
    case K::companion_stop:
      companion_.reset();
      note("    second watcher stopped");
      break;
    case K::run_hub: run_hub(std::chrono::milliseconds(c.arg)); break;
    case K::quiesce: result = quiesce(); break;
    default: inject(c); break;
  }
  if (auto row = fault_row(c)) {
    ++tally_[*row].injected;
    active_rows_.insert(*row);
  }
  if (!result) result = check_safety();
  if (!result && c.kind != K::quiesce) credit_checks();
  if (result) note("    VIOLATION " + result->invariant + ": " + result->detail);
  return result;
}

}  // namespace hotreload::harness

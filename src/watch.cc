#include "watch.h"

#include <algorithm>
#include <array>
#include <cerrno>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "hotreload/errors.h"
#include "hotreload/snapshot.h"

namespace hotreload {

namespace {

// Consecutive unstable looks (each kReadAttempts reads, a retry delay apart) before a
// file that never holds still is reported as a read error.
constexpr int kUnstableRoundsReported = 5;

}  // namespace

bool is_missing(std::error_code ec) {
  return ec == std::errc::no_such_file_or_directory || ec == std::errc::not_a_directory;
}

bool replaced_since_walk(std::error_code ec) {
  return is_missing(ec) || ec == std::errc::too_many_symbolic_link_levels;
}

bool read_again_if_stale(std::error_code ec, int attempt) {
  return ec == std::error_condition(ESTALE, std::generic_category()) &&
         attempt + 1 < kReadAttempts;
}

int64_t wall_ns(const Clock& clock) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             clock.wall_now().time_since_epoch()).count();
}

int64_t newest_stamp(const FileStat& st) { return std::max(st.mtime_ns, st.ctime_ns); }

int64_t newest_stamp(const Signature& s) { return newest_stamp(s.file); }

std::shared_ptr<spdlog::logger> default_logger() {
  static const std::shared_ptr<spdlog::logger> logger = [] {
    auto l = std::make_shared<spdlog::logger>(
        "hotreload", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    l->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ hotreload %v");
    return l;
  }();
  return logger;
}

Watch::Watch(std::string path, bool whole_volume, std::shared_ptr<const Options> options)
    : whole_volume_(whole_volume), path_(std::move(path)), options_(std::move(options)) {}

std::string& Watch::initial_content() { return loading().content; }

spdlog::logger& Watch::logger() const {
  return options_->logger ? *options_->logger : *default_logger();
}

std::mutex& Watch::status_mu() const {
  static std::array<std::mutex, 64> stripes;
  // Watches are allocated at least 64 bytes apart: the low bits say nothing.
  return stripes[(reinterpret_cast<std::uintptr_t>(this) >> 6) % stripes.size()];
}

std::string Watch::describe(std::error_code ec, const std::string& where) const {
  std::string text = ec.message();
  if (!where.empty() && where != path_) text += " (at " + where + ")";
  return text;
}

std::error_code Watch::accept_initial(const Digest& digest, const Invoke& invoke, Clock& clock,
                                      std::string& message, Snapshot* snapshot) {
  std::chrono::nanoseconds took{};
  Verdict verdict = run_callback(invoke, clock, took, true);
  Loading& start = loading();
  if (took > options_->slow_callback) start.took = took;
  if (!verdict.accepted) {
    message = "hotreload: cannot load " + path_ + ": content rejected: " + verdict.reason;
    return make_error_code(Errc::rejected);
  }
  {
    std::lock_guard lock(status_mu());
    status_.hash = digest;
    status_.last_reload = clock.wall_now();
  }
  start.hash = digest;
  if (snapshot) start.snapshot = std::make_unique<Snapshot>(std::move(*snapshot));
  return {};
}

void Watch::announce_loaded() {
  if (!loading_) return;
  const std::unique_ptr<Loading> start = std::move(loading_);
  if (!start->hash) return;
  report({.kind = DecisionKind::loaded, .hash = *start->hash, .detail = start->start_reason,
          .snapshot = start->snapshot.get()},
         false, true);
  if (start->took > std::chrono::nanoseconds{0})
    report({.kind = DecisionKind::slow_callback, .callback_duration = start->took}, false, true);
}

bool Watch::offer(const Digest& digest, const Invoke& invoke, Clock& clock,
                  SteadyTime noticed_at, const Snapshot* snapshot) {
  // The path's last logged word must say what it holds now: a failure logged since the
  // active content was last seen is followed by `restored` when that content is back.
  if (status_.hash == digest) {  // same content as active: nothing to reload
    bool was_failing = static_cast<bool>(failure_);
    failure_.clear();
    refused_.reset();
    {
      std::lock_guard lock(status_mu());
      status_.last_error.clear();
    }
    if (was_failing) report({.kind = DecisionKind::restored, .hash = digest, .snapshot = snapshot});
    return false;
  }
  if (refused_ && refused_->hash == digest) {  // refused before: not offered again
    bool logged_since = failure_ != Errc::rejected;  // a read failure was logged meanwhile
    failure_ = make_error_code(Errc::rejected);
    {
      std::lock_guard lock(status_mu());
      status_.last_error = "content rejected: " + refused_->reason;
      if (logged_since) ++status_.errors;
    }
    if (logged_since)
      report({.kind = DecisionKind::rejected, .hash = digest,
              .error = make_error_code(Errc::rejected), .detail = refused_->reason,
              .snapshot = snapshot});
    return false;
  }
  std::chrono::nanoseconds took{};
  Verdict verdict = run_callback(invoke, clock, took);
  auto latency = clock.now() - noticed_at;
  if (verdict.accepted) {
    failure_.clear();
    refused_.reset();
    std::optional<Digest> previous;
    {
      std::lock_guard lock(status_mu());
      previous = std::exchange(status_.hash, digest);
      status_.last_reload = clock.wall_now();
      ++status_.reloads;
      status_.last_error.clear();
    }
    report({.kind = DecisionKind::reloaded, .hash = digest, .previous = previous,
            .latency = latency,
            .callback_duration = took, .snapshot = snapshot});
    return true;
  }
  refused_ = std::make_unique<Refusal>(Refusal{digest, verdict.reason});
  failure_ = make_error_code(Errc::rejected);
  {
    std::lock_guard lock(status_mu());
    ++status_.errors;
    status_.last_error = "content rejected: " + verdict.reason;
  }
  report({.kind = DecisionKind::rejected, .hash = digest,
          .error = make_error_code(Errc::rejected), .detail = verdict.reason,
          .latency = latency, .callback_duration = took, .snapshot = snapshot});
  return false;
}

Verdict Watch::run_callback(const Invoke& invoke, Clock& clock, std::chrono::nanoseconds& took,
                            bool initial) {
  Verdict verdict;
  SteadyTime start = clock.now();
  try {
    std::lock_guard user(user_mu_);
    // Stopped while the look ran (it may have hung for minutes): the owner is gone.
    if (detached.load(std::memory_order_acquire)) return Verdict::reject("watch stopped");
    user_thread_.store(std::this_thread::get_id(), std::memory_order_relaxed);
    struct Clear {
      std::atomic<std::thread::id>& t;
      ~Clear() { t.store({}, std::memory_order_relaxed); }
    } clear{user_thread_};
    verdict = invoke();
  } catch (const std::exception& e) {
    verdict = Verdict::reject(*e.what() ? e.what() : "callback threw");
  } catch (...) {
    verdict = Verdict::reject("callback threw a non-standard exception");
  }
  if (!verdict.accepted && verdict.reason.empty()) verdict.reason = "refused by callback";
  took = clock.now() - start;
  if (took > options_->slow_callback && !initial)
    report({.kind = DecisionKind::slow_callback, .callback_duration = took});
  return verdict;
}

// A failure is logged and counted once per cause: a file that stays unreadable across a
// hundred polls is one error, not a hundred.
void Watch::fail(std::error_code ec, const std::string& where) {
  if (ec == failure_) return;
  failure_ = ec;
  std::string text = describe(ec, where);
  {
    std::lock_guard lock(status_mu());
    ++status_.errors;
    status_.last_error = text;
  }
  report({.kind = is_missing(ec) ? DecisionKind::missing : DecisionKind::read_error,
          .error = ec, .detail = where != path_ ? std::string_view(where) : ""});
}

// A file that keeps changing under the reads is a writer at work, not a failure: look
// again shortly, and report it only if it goes on for several rounds.
void Watch::look_failed(std::error_code ec, const std::string& where) {
  bool unstable = ec == Errc::unstable;
  wants_retry_ = unstable;
  if (!unstable || ++unstable_rounds_ >= kUnstableRoundsReported) fail(ec, where);
}

void Watch::set_start_mode(ActiveMode mode, std::string why) {
  mode_.store(mode, std::memory_order_relaxed);
  loading().start_reason = std::move(why);
  std::lock_guard lock(status_mu());
  status_.mode = mode;
}

void Watch::set_mode(ActiveMode mode, std::string_view why, bool quiet) {
  if (loading_) return set_start_mode(mode, std::string(why));
  bool changed = mode_.exchange(mode, std::memory_order_relaxed) != mode;
  {
    std::lock_guard lock(status_mu());
    status_.mode = mode;
  }
  if (changed && !why.empty()) report({.kind = DecisionKind::mode, .detail = why}, quiet, true);
}

void Watch::set_stalled(std::optional<SteadyTime> since, std::string_view detail) {
  {
    std::lock_guard lock(status_mu());
    bool stalled = status_.stalled_since != SteadyTime::min();
    if (stalled == since.has_value()) return;
    status_.stalled_since = since.value_or(SteadyTime::min());
  }
  report({.kind = since ? DecisionKind::stalled : DecisionKind::resumed, .detail = detail},
         false, true);
}

void Watch::stop_user_code() {
  if (user_thread_.load(std::memory_order_relaxed) == std::this_thread::get_id()) return;
  std::lock_guard wait(user_mu_);
}

Status Watch::status() const {
  Status copy;
  {
    std::lock_guard lock(status_mu());
    copy.hash = status_.hash;
    if (status_.last_reload != WallTime::min()) copy.last_reload = status_.last_reload;
    copy.reloads = status_.reloads;
    copy.errors = status_.errors;
    copy.mode = status_.mode;
    copy.last_error = status_.last_error.str();
    if (status_.stalled_since != SteadyTime::min()) copy.stalled_since = status_.stalled_since;
  }
  copy.path = path_;
  copy.volume = volume();
  return copy;
}

void Watch::report(Decision d, bool quiet, bool under_hub_lock) {
  std::string volume_dir = volume();
  d.path = path_;
  d.volume = volume_dir;
  d.mode = mode();
  {
    std::lock_guard lock(status_mu());
    d.reloads = status_.reloads;
    d.errors = status_.errors;
  }
  if (detached.load(std::memory_order_acquire)) return;  // stopped: nobody to tell
  if (!quiet) log_decision(logger(), d);
  if (!options_->on_decision) return;
  if (under_hub_lock || user_thread_.load(std::memory_order_relaxed) == std::this_thread::get_id())
    return notify(d);
  std::lock_guard user(user_mu_);
  if (!detached.load(std::memory_order_acquire)) notify(d);
}

void Watch::notify(const Decision& d) {
  try {
    options_->on_decision(d);
  } catch (...) {
    // A broken observer must not take the watch down; the decision is already logged.
  }
}

}  // namespace hotreload

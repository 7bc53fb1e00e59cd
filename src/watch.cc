#include "watch.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "consistent_read.h"
#include "hotreload/errors.h"

namespace hotreload {

namespace {

constexpr int kReadAttempts = 3;
// Consecutive unstable checks (each kReadAttempts reads, a retry delay apart) before a
// file that never holds still is reported as a read error.
constexpr int kUnstableRoundsReported = 5;

bool is_missing(std::error_code ec) {
  return ec == std::errc::no_such_file_or_directory || ec == std::errc::not_a_directory;
}

std::string describe(std::error_code ec, const std::string& path, const std::string& where) {
  std::string text = ec.message();
  if (!where.empty() && where != path) text += " (at " + where + ")";
  return text;
}

}  // namespace

std::shared_ptr<spdlog::logger> default_logger() {
  static const std::shared_ptr<spdlog::logger> logger = [] {
    auto l = std::make_shared<spdlog::logger>(
        "hotreload", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    l->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ hotreload %v");
    return l;
  }();
  return logger;
}

struct Watch::Look {
  PathWalk walk;
  std::optional<FileContent> content;
  std::error_code error;
  std::string error_path;
  bool unchanged = false;
};

Watch::Watch(std::string path, Callback callback, Options options)
    : path_(std::move(path)),
      callback_(std::move(callback)),
      options_(std::move(options)),
      logger_(options_.logger ? options_.logger : default_logger()) {
}

// Walks the path and, unless the signature is the known one, reads the file. A file that
// changes under the read is walked and read again, a few times.
namespace {

// A walk takes several syscalls, so it can fail on a tree caught between two steps of a
// writer: the kubelet removes the old ..<timestamp> directory right after the swap, and a
// walk that read the old ..data target finds it gone. A failure counts only when a second
// walk stops at the same place for the same reason; otherwise the later walk stands.
PathWalk settled_walk(Filesystem& fs, const std::string& path) {
  PathWalk walk = walk_path(fs, path);
  for (int attempt = 1; walk.error && attempt < kReadAttempts; ++attempt) {
    PathWalk again = walk_path(fs, path);
    if (again.error == walk.error && again.error_path == walk.error_path) break;
    walk = std::move(again);
  }
  return walk;
}

}  // namespace

Watch::Look Watch::look(Filesystem& fs, const Signature* known) {
  Look result;
  for (int attempt = 0; attempt < kReadAttempts; ++attempt) {
    result.walk = settled_walk(fs, path_);
    if (result.walk.error) {
      result.error = result.walk.error;
      result.error_path = result.walk.error_path;
      return result;
    }
    if (known && *known == result.walk.signature) {
      result.unchanged = true;
      return result;
    }
    auto read = consistent_read(fs, result.walk.file, result.walk.signature.file,
                                options_.read_size_max);
    if (read) {
      result.content = std::move(*read);
      return result;
    }
    result.error = read.error();
    result.error_path = result.walk.file;
    // The file the walk found is gone or replaced by the time it is opened: the tree moved
    // between the two, which is instability, not absence.
    if (is_missing(read.error()) || read.error() == std::errc::too_many_symbolic_link_levels)
      result.error = make_error_code(Errc::unstable);
    if (result.error != Errc::unstable) return result;
  }
  return result;
}

std::error_code Watch::load(Filesystem& fs, Clock& clock, std::string& message) {
  Look seen = look(fs, nullptr);
  interests_ = seen.walk.interests;
  std::error_code ec = seen.error;
  std::string reason;
  if (!ec && seen.content->bytes.empty() && !options_.allow_empty)
    ec = make_error_code(Errc::empty_file);
  if (ec) {
    reason = describe(ec, path_, seen.error_path);
  } else {
    std::chrono::nanoseconds took{};
    Verdict verdict = run_callback(seen.content->bytes, clock, took);
#if HOTRELOAD_MUTANT == 12  // test-only mutant (harness/CMakeLists.txt): refusal ignored
    verdict.accepted = true;
#endif
    if (!verdict.accepted) {
      ec = make_error_code(Errc::rejected);
      reason = "content rejected: " + verdict.reason;
    }
  }
  if (ec) {
    message = "hotreload: cannot load " + path_ + ": " + reason;
    return ec;
  }
  signature_ = Signature{std::move(seen.walk.signature.links), seen.content->stat};
  {
    std::lock_guard lock(status_mu_);
    status_.hash = Digest::of(seen.content->bytes);
    status_.last_reload = clock.wall_now();
  }
  report({.kind = DecisionKind::loaded, .hash = status_.hash});
  return {};
}

void Watch::check(Filesystem& fs, Clock& clock, Trigger trigger, SteadyTime noticed_at) {
  wants_retry_ = false;
  unannounced_change_ = false;
  // The safety poll reads too: when events were lost, a same-size rewrite within one
  // timestamp tick leaves the signature as it was, and only the content can tell.
  bool reads_anyway = trigger == Trigger::rehash || trigger == Trigger::safety_poll;
  const Signature* known = reads_anyway || !signature_ ? nullptr : &*signature_;
  bool had_signature = signature_.has_value();
  Look seen = look(fs, known);
#if HOTRELOAD_MUTANT == 4  // test-only mutant: a failed walk keeps the old interests
  if (!seen.error) interests_ = std::move(seen.walk.interests);
#else
  interests_ = std::move(seen.walk.interests);
#endif
  if (seen.error) {
    signature_.reset();
    // A file that keeps changing under the reads is a writer at work, not a failure: look
    // again shortly, and report it only if it goes on for several rounds.
    bool unstable = seen.error == Errc::unstable;
    wants_retry_ = unstable;
    if (!unstable || ++unstable_rounds_ >= kUnstableRoundsReported)
      fail(seen.error, seen.error_path);
    return;
  }
  unstable_rounds_ = 0;
  if (seen.unchanged) return;
  Signature now{std::move(seen.walk.signature.links), seen.content->stat};
  // A signature that moved with no event to say so: this volume's events cannot be trusted.
  if (trigger == Trigger::safety_poll && had_signature && mode_ == ActiveMode::events &&
      !(*signature_ == now))
    unannounced_change_ = true;
  signature_ = std::move(now);
  offer(seen.content->bytes, clock, noticed_at);
}

void Watch::offer(std::string_view content, Clock& clock, SteadyTime noticed_at) {
  if (content.empty() && !options_.allow_empty) {
    fail(make_error_code(Errc::empty_file), path_);
    return;
  }
  Digest digest = Digest::of(content);
  if (status_.hash == digest) {  // same content as active: healthy again, nothing to do
    failure_.clear();
    refused_.reset();
    std::lock_guard lock(status_mu_);
    status_.last_error.clear();
    return;
  }
  if (refused_ == digest) {  // already refused and logged; it is still the file's content
    failure_ = make_error_code(Errc::rejected);
    std::lock_guard lock(status_mu_);
    status_.last_error = refused_reason_;
    return;
  }
  std::chrono::nanoseconds took{};
  Verdict verdict = run_callback(content, clock, took);
  auto latency = clock.now() - noticed_at;
#if HOTRELOAD_MUTANT == 6  // test-only mutant: a refused content is committed anyway
  verdict.accepted = true;
#endif
  if (verdict.accepted) {
    failure_.clear();
    refused_.reset();
    {
      std::lock_guard lock(status_mu_);
      status_.hash = digest;
      status_.last_reload = clock.wall_now();
      ++status_.reloads;
      status_.last_error.clear();
    }
    report({.kind = DecisionKind::reloaded, .hash = digest, .latency = latency,
            .callback_duration = took});
    return;
  }
  refused_ = digest;
  refused_reason_ = verdict.reason;
  failure_ = make_error_code(Errc::rejected);
  {
    std::lock_guard lock(status_mu_);
    ++status_.errors;
    status_.last_error = "content rejected: " + verdict.reason;
  }
  report({.kind = DecisionKind::rejected, .hash = digest,
          .error = make_error_code(Errc::rejected), .detail = verdict.reason,
          .latency = latency, .callback_duration = took});
}

Verdict Watch::run_callback(std::string_view content, Clock& clock,
                            std::chrono::nanoseconds& took) {
  Verdict verdict;
  SteadyTime start = clock.now();
  try {
    verdict = callback_(content);
  } catch (const std::exception& e) {
    verdict = Verdict::reject(*e.what() ? e.what() : "callback threw");
  } catch (...) {
    verdict = Verdict::reject("callback threw a non-standard exception");
  }
  if (!verdict.accepted && verdict.reason.empty()) verdict.reason = "refused by callback";
  took = clock.now() - start;
  if (took > options_.slow_callback)
    report({.kind = DecisionKind::slow_callback, .callback_duration = took});
  return verdict;
}

// A failure is logged and counted once per cause: a file that stays unreadable across a
// hundred polls is one error, not a hundred.
void Watch::fail(std::error_code ec, const std::string& where) {
  if (ec == failure_) return;
  failure_ = ec;
  std::string text = describe(ec, path_, where);
  {
    std::lock_guard lock(status_mu_);
    ++status_.errors;
    status_.last_error = text;
  }
  report({.kind = is_missing(ec) ? DecisionKind::missing : DecisionKind::read_error,
          .error = ec, .detail = where != path_ ? std::string_view(where) : ""});
}

void Watch::set_mode(ActiveMode mode, std::string_view why, bool quiet) {
  bool changed = mode != mode_;
  mode_ = mode;
  {
    std::lock_guard lock(status_mu_);
    status_.mode = mode;
  }
  if (changed && !why.empty()) report({.kind = DecisionKind::mode, .detail = why}, quiet);
}

Status Watch::status() const {
  Status copy;
  {
    std::lock_guard lock(status_mu_);
    copy = status_;
  }
  copy.path = path_;  // not stored twice
  return copy;
}

void Watch::report(Decision d, bool quiet) {
  d.path = path_;
  d.mode = mode_;
  {
    std::lock_guard lock(status_mu_);
    d.reloads = status_.reloads;
    d.errors = status_.errors;
  }
  if (!quiet) log_decision(*logger_, d);
  if (options_.on_decision) {
    try {
      options_.on_decision(d);
    } catch (...) {
      // A broken observer must not take the watch down; the decision is already logged.
    }
  }
}

}  // namespace hotreload

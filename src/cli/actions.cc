#include "actions.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <nlohmann/json.hpp>

#include "name_text.h"
#include "process_lookup.h"
#include "signal_names.h"
#include "small_file.h"
#include "subprocess.h"

namespace hotreload::cli {

namespace {

// A pid file holds a number and a newline; anything much larger is not one.
constexpr std::size_t kPidFileBytesMax = 4096;

// A command's stderr line longer than this is passed on in pieces.
constexpr std::size_t kStderrLineMax = std::size_t{64} * 1024;

// Passes a command's stderr on to ours whole, a complete line per write, so that its
// lines and our own log lines never cut into each other.
class StderrRelay {
 public:
  void feed(std::string_view chunk) {
    partial_.append(chunk);
    std::size_t end = partial_.rfind('\n');
    if (end != std::string::npos) {
      write(std::string_view(partial_).substr(0, end + 1));
      partial_.erase(0, end + 1);
    }
    if (partial_.size() > kStderrLineMax) flush();
  }
  void flush() {
    if (partial_.empty()) return;
    partial_.push_back('\n');
    write(partial_);
    partial_.clear();
  }

 private:
  static void write(std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stderr);
    std::fflush(stderr);
  }
  std::string partial_;
};

}  // namespace

Parsed<pid_t> read_pid_file(const std::string& path) {
  std::string s;
  if (auto why = read_small_file(path, kPidFileBytesMax, s)) {
    if (why->starts_with("is larger"))
      return "pid file " + path + " " + *why + ": not a pid file";
    if (why->starts_with("cannot be read: "))
      return "cannot read pid file " + path + ": " + why->substr(16);
    return "pid file " + path + " " + *why + ": give the file the process writes its id to";
  }
  auto first = s.find_first_not_of(" \t\r\n");
  auto last = s.find_last_not_of(" \t\r\n");
  if (first == std::string::npos) return "pid file " + path + " is empty";
  std::string_view digits(s.data() + first, last - first + 1);
  long pid = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), pid);
  if (ec != std::errc() || end != digits.data() + digits.size() || pid <= 0)
    return "pid file " + path + " does not hold a process id: \"" + std::string(digits) + "\"";
  return static_cast<pid_t>(pid);
}

std::optional<std::string> signal_target_refusal(pid_t pid) {
  if (pid == 1)
    return "refusing to signal PID 1: in a shared process namespace it is the pause "
           "container or init, not the service to reload";
  if (pid == ::getpid())
    return "refusing to signal PID " + std::to_string(pid) + ": it is hotreload itself";
  return std::nullopt;
}

ActionRunner::ActionRunner(ActionConfig config, EventLog& log)
    : config_(std::move(config)), log_(log) {
  if (config_.webhook) {
    for (const WebhookUrl& url : config_.webhook->urls)
      webhooks_.push_back(std::make_unique<WebhookClient>(*config_.webhook, url));
    if (config_.webhook->ready_url)
      ready_ = std::make_unique<WebhookClient>(*config_.webhook, *config_.webhook->ready_url);
  }
  if (config_.any()) worker_ = std::thread([this] { work(); });
}

ActionRunner::~ActionRunner() { stop(); }

void ActionRunner::enqueue(ActionJob job) {
  if (!config_.any()) return;
  if (job.webhook_only && webhooks_.empty()) return;
  std::optional<ActionJob> dropped;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    auto waiting = std::find_if(queue_.begin(), queue_.end(),
                                [&job](const ActionJob& j) { return j.path == job.path; });
    if (waiting != queue_.end()) {
      // Superseded: the new job tells what changed since the last action that ran.
      if (!waiting->webhook_only) ++superseded_[{waiting->path, waiting->volume}];
      job.previous_hash = std::move(waiting->previous_hash);
      if (waiting->keys && job.keys) job.keys = waiting->keys->then(*job.keys);
      *waiting = std::move(job);
      return;
    }
    if (queue_.size() >= config_.queue_max) {
      dropped = std::move(queue_.front());
      queue_.pop_front();
    }
    queue_.push_back(std::move(job));
  }
  wake_.notify_all();
  if (dropped) {
    count(*dropped, "queue", false);
    failed(*dropped, "queue",
           "action queue full (" + std::to_string(config_.queue_max) +
               " paths waiting): dropped the actions for hash " + dropped->hash,
           0);
  }
}

void ActionRunner::stop() {
  std::deque<ActionJob> dropped;
  std::map<DeliveryKey, Delivery> undelivered;
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !worker_.joinable()) return;
    stopping_ = true;
    dropped.swap(queue_);
  }
  stop_source_.request_stop();
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
  {
    std::lock_guard lock(mu_);
    undelivered.swap(deliveries_);
  }
  for (const ActionJob& job : dropped)
    log_.warning("stopping: did not run the actions queued for " + job.path + " hash " + job.hash);
  for (const auto& [key, d] : undelivered)
    log_.warning("stopping: " + webhooks_[key.second]->url().text + " has not accepted hash " +
                 d.job.hash + " of " + d.job.path + " (" + std::to_string(d.failures) +
                 " failed attempt" + (d.failures == 1 ? "" : "s") + ")");
}

bool ActionRunner::delivered_any() const {
  std::lock_guard lock(mu_);
  return delivered_any_;
}

bool ActionRunner::actions_ok(const std::string& path) const {
  std::lock_guard lock(mu_);
  if (auto it = failing_.find(path); it != failing_.end() && it->second) return false;
  for (const auto& [key, d] : deliveries_)
    if (key.first == path && d.failures > 0) return false;
  return true;
}

std::optional<std::string> ActionRunner::busy_longer_than(std::chrono::milliseconds limit) const {
  std::lock_guard lock(mu_);
  if (!busy_with_) return std::nullopt;
  auto busy = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - busy_since_);
  if (busy < limit) return std::nullopt;
  return busy_with_->first + " for " + escape_name(busy_with_->second) + " has been running for " +
         std::to_string(busy.count()) + "s";
}

void ActionRunner::busy(const char* action, const std::string& path) {
  std::lock_guard lock(mu_);
  if (action) {
    busy_with_.emplace(action, path);
    busy_since_ = Clock::now();
  } else {
    busy_with_.reset();
  }
}

std::optional<ActionRunner::Clock::time_point> ActionRunner::next_due() const {
  std::optional<Clock::time_point> next;
  for (const auto& [key, d] : deliveries_)
    if (!next || d.due < *next) next = d.due;
  return next;
}

std::optional<ActionRunner::DeliveryKey> ActionRunner::due_delivery(Clock::time_point now) const {
  const DeliveryKey* first = nullptr;
  const Delivery* earliest = nullptr;
  for (const auto& [key, d] : deliveries_) {
    if (d.due > now || (earliest && earliest->due <= d.due)) continue;
    first = &key;
    earliest = &d;
  }
  if (!first) return std::nullopt;
  return *first;
}

void ActionRunner::work() {
  for (;;) {
    std::optional<ActionJob> job;
    std::optional<DeliveryKey> delivery;
    {
      std::unique_lock lock(mu_);
      for (;;) {
        if (stopping_) return;
        if (!queue_.empty()) {
          job = std::move(queue_.front());
          queue_.pop_front();
          break;
        }
        delivery = due_delivery(Clock::now());
        if (delivery) break;
        if (auto next = next_due()) wake_.wait_until(lock, *next);
        else wake_.wait(lock);
      }
    }
    if (job) run(*job);
    if (delivery) deliver(*delivery);
  }
}

void ActionRunner::run(const ActionJob& job) {
  bool failing = false;
  if (!job.webhook_only) {
    if (!config_.exec_command.empty()) {
      busy("exec", job.path);
      failing |= !run_exec(job);
    }
    if (config_.signal) {
      busy("signal", job.path);
      failing |= !run_signal(job);
    }
    busy(nullptr, {});
    std::lock_guard lock(mu_);
    failing_[job.path] = failing;
  }
  if (!webhooks_.empty()) schedule_webhooks(job);
}

// Each URL gets the job as a delivery due now. A delivery still pending for the path is
// superseded: the service gets the newest content, told what changed since the content
// it last accepted.
void ActionRunner::schedule_webhooks(const ActionJob& job) {
  std::lock_guard lock(mu_);
  webhook_paths_[job.path] = job.volume;
  const auto now = Clock::now();
  for (std::size_t url = 0; url < webhooks_.size(); ++url) {
    Delivery fresh{job, 0, now, now, config_.webhook->backoff_first, {}};
    auto [it, added] = deliveries_.try_emplace({job.path, url}, fresh);
    if (added) continue;
    Delivery& d = it->second;
    if (url == 0) ++superseded_[{d.job.path, d.job.volume}];
    fresh.job.previous_hash = std::move(d.job.previous_hash);
    if (d.job.keys && fresh.job.keys) fresh.job.keys = d.job.keys->then(*fresh.job.keys);
    fresh.behind_since = d.behind_since;
    d = std::move(fresh);
  }
}
bool ActionRunner::run_exec(const ActionJob& job) {
  std::vector<std::pair<std::string, std::string>> environment{
      {"HOTRELOAD_PATH", job.path},
      {"HOTRELOAD_HASH", job.hash},
      {"HOTRELOAD_PREVIOUS_HASH", job.previous_hash}};
  if (job.keys) {
    environment.emplace_back("HOTRELOAD_DIR", job.path);
    for (auto& variable : job.keys->environment()) environment.push_back(std::move(variable));
  }
  // The command's own complaints go on to our stderr, all of them; only the first line
  // goes into the event.
  StderrRelay relay;
  CommandResult r = run_shell_command({
      .command = config_.exec_command,
      .environment = std::move(environment),
      .timeout = config_.exec_timeout,
      .on_stderr = [&relay](std::string_view chunk) { relay.feed(chunk); },
  });
  relay.flush();
  bool ok = r.succeeded();
  count(job, "exec", ok);
  if (!ok) {
    std::string error = "exec " + r.describe(config_.exec_timeout);
    if (std::string line = r.first_stderr_line(); !line.empty()) error += ": " + line;
    failed(job, "exec", error);
  }
  return ok;
}

bool ActionRunner::run_signal(const ActionJob& job) {
  pid_t pid = 0;
  std::string source;  // where the pid came from, for an error
  if (config_.pid) {
    pid = *config_.pid;
  } else {
    auto found = config_.process_name.empty() ? read_pid_file(config_.pid_file)
                                              : find_process_by_name(config_.process_name);
    if (auto* why = std::get_if<std::string>(&found)) {
      count(job, "signal", false);
      failed(job, "signal", *why);
      return false;
    }
    pid = std::get<pid_t>(found);
    source = config_.process_name.empty() ? " (read from " + config_.pid_file + ")"
                                          : " (the process called " + config_.process_name + ")";
  }
  if (auto why = signal_target_refusal(pid)) {
    count(job, "signal", false);
    failed(job, "signal",
           *why + source);
    return false;
  }
  bool ok = ::kill(pid, *config_.signal) == 0;
  const int error = errno;
  count(job, "signal", ok);
  if (!ok)
    failed(job, "signal",
           "kill(" + std::to_string(pid) + ", " + signal_name(*config_.signal) +
               "): " + std::strerror(error) + source);
  return ok;
}

namespace {

std::string webhook_body(const ActionJob& job) {
  // Names as in the JSON log (escape_name: UTF-8, lossless).
  nlohmann::json body = {{"path", escape_name(job.path)},
                         {"volume", escape_name(job.volume)},
                         {"hash", job.hash},
                         {"previous_hash", job.previous_hash}};
  if (job.keys) {
    body["added"] = escape_names(job.keys->added);
    body["changed"] = escape_names(job.keys->changed);
    body["removed"] = escape_names(job.keys->removed);
  }
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string attempts_text(unsigned n) {
  return std::to_string(n) + " attempt" + (n == 1 ? "" : "s");
}

}  // namespace

// One attempt at a due delivery (after --ready-url answers, when it is given). The worker
// alone changes deliveries_, so the entry is the same before and after the attempt.
void ActionRunner::deliver(const DeliveryKey& key) {
  Delivery d;
  {
    std::lock_guard lock(mu_);
    d = deliveries_.at(key);
  }
  if (!service_ready(d, key)) return;
  busy("webhook", d.job.path);
  WebhookAttempt attempt = webhooks_[key.second]->attempt(webhook_body(d.job), stop_source_.get_token());
  busy(nullptr, {});
  count(d.job, "webhook", attempt.ok);
  if (!attempt.ok) {
    retry_later(d, key, attempt.error, true);
    return;
  }
  {
    std::lock_guard lock(mu_);
    deliveries_.erase(key);
    delivered_any_ = true;
  }
  if (!d.last_error.empty())  // a failure was logged: say it is over
    log_.action_delivered(d.job.path, d.job.volume, "webhook", webhooks_[key.second]->url().text,
                          d.failures + 1);
}

// Before the first delivery, and after a failure, the service must answer --ready-url
// first: it may still be starting. A service not ready costs no attempt.
bool ActionRunner::service_ready(Delivery& d, const DeliveryKey& key) {
  if (!ready_) return true;
  {
    std::lock_guard lock(mu_);
    if (service_ready_) return true;
  }
  busy("webhook", d.job.path);
  WebhookAttempt probe = ready_->probe(stop_source_.get_token());
  busy(nullptr, {});
  if (!probe.ok) {
    retry_later(d, key, "not ready: " + probe.error, false);
    return false;
  }
  std::lock_guard lock(mu_);
  service_ready_ = true;
  return true;
}

void ActionRunner::retry_later(Delivery& d, const DeliveryKey& key, const std::string& error,
                               bool attempted) {
  if (attempted) ++d.failures;
  const auto& cap = config_.webhook->retries;
  const bool give_up = attempted && cap && d.failures > *cap;
  const bool news = error != d.last_error;
  const auto retry_in = d.backoff;
  {
    std::lock_guard lock(mu_);
    service_ready_ = false;
    if (give_up) {
      deliveries_.erase(key);
      failing_[d.job.path] = true;
    } else {
      d.due = Clock::now() + d.backoff;
      d.backoff = std::min(d.backoff * 2, config_.webhook->backoff_max);
      d.last_error = error;
      deliveries_.at(key) = d;
    }
  }
  if (give_up)
    failed(d.job, "webhook", error + " (gave up after " + attempts_text(d.failures) + ")",
           d.failures);
  else if (stop_source_.stop_requested())
    failed(d.job, "webhook", error, d.failures);  // no retry: stopping
  else if (news)
    failed(d.job, "webhook", error, d.failures, retry_in);
}

void ActionRunner::count(const ActionJob& job, const char* action, bool ok) {
  std::lock_guard lock(mu_);
  Counts& c = counts_[{job.path, job.volume, action}];
  ++c.runs;
  if (!ok) ++c.failures;
}

void ActionRunner::failed(const ActionJob& job, const char* action, const std::string& error,
                          unsigned attempts, std::optional<std::chrono::milliseconds> retry_in) {
  log_.action_failed(job.path, job.volume, action, error, attempts, retry_in);
}

std::vector<MetricFamily> ActionRunner::metric_families() const {
  MetricFamily runs{"action_runs_total",
                    "Action attempts after accepted changes (each webhook attempt counts).",
                    "counter", {}};
  MetricFamily failures{"action_failures_total",
                        "Action attempts that failed (logged as event=action_failed once per "
                        "cause).",
                        "counter", {}};
  MetricFamily pending{"action_pending_seconds",
                       "How long the service has been behind: seconds since the oldest "
                       "accepted content a webhook URL has not yet accepted (0: none).",
                       "gauge", {}};
  MetricFamily superseded{
      "action_superseded_total",
      "Actions not run: newer accepted content of the same path replaced them while they waited.",
      "counter",
      {}};
  std::lock_guard lock(mu_);
  for (const auto& [key, n] : superseded_) {
    std::vector<std::pair<std::string, std::string>> labels{{"path", key.first}};
    if (!key.second.empty()) labels.emplace_back("volume", key.second);
    superseded.samples.push_back({labels, double(n)});
  }
  for (const auto& [key, c] : counts_) {
    const auto& [path, volume, action] = key;
    std::vector<std::pair<std::string, std::string>> labels{{"path", path}};
    if (!volume.empty()) labels.emplace_back("volume", volume);
    labels.emplace_back("action", action);
    runs.samples.push_back({labels, double(c.runs)});
    failures.samples.push_back({labels, double(c.failures)});
  }
  const auto now = Clock::now();
  for (const auto& [path, volume] : webhook_paths_) {
    std::optional<Clock::time_point> since;
    for (auto it = deliveries_.lower_bound({path, 0});
         it != deliveries_.end() && it->first.first == path; ++it)
      if (!since || it->second.behind_since < *since) since = it->second.behind_since;
    std::vector<std::pair<std::string, std::string>> labels{{"path", path}};
    if (!volume.empty()) labels.emplace_back("volume", volume);
    labels.emplace_back("action", "webhook");
    double seconds = since ? std::chrono::duration<double>(now - *since).count() : 0.0;
    pending.samples.push_back({labels, seconds});
  }
  return {runs, failures, superseded, pending};
}

}  // namespace hotreload::cli

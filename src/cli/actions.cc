#include "actions.h"

#include <errno.h>
#include <signal.h>

#include <charconv>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "name_text.h"
#include "signal_names.h"
#include "subprocess.h"

namespace hotreload::cli {

Parsed<pid_t> read_pid_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return "cannot read pid file " + path + ": " + std::strerror(errno);
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
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

ActionRunner::ActionRunner(ActionConfig config, EventLog& log)
    : config_(std::move(config)), log_(log) {
  if (config_.any()) worker_ = std::thread([this] { work(); });
}

ActionRunner::~ActionRunner() { stop(); }

void ActionRunner::enqueue(ActionJob job) {
  if (!config_.any()) return;
  std::optional<ActionJob> dropped;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
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
               " jobs): dropped the actions for hash " + dropped->hash,
           0);
  }
}

void ActionRunner::stop() {
  std::deque<ActionJob> dropped;
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !worker_.joinable()) return;
    stopping_ = true;
    dropped.swap(queue_);
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
  for (const ActionJob& job : dropped)
    log_.warning("stopping: did not run the actions queued for " + job.path + " hash " + job.hash);
}

bool ActionRunner::wait_unless_stopping(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return !wake_.wait_for(lock, d, [&] { return stopping_; });
}

void ActionRunner::work() {
  for (;;) {
    ActionJob job;
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    run(job);
  }
}

void ActionRunner::run(const ActionJob& job) {
  if (!config_.exec_command.empty()) run_exec(job);
  if (config_.signal) run_signal(job);
  if (config_.webhook) run_webhook(job);
}

void ActionRunner::run_exec(const ActionJob& job) {
  std::vector<std::pair<std::string, std::string>> environment{
      {"HOTRELOAD_PATH", job.path},
      {"HOTRELOAD_HASH", job.hash},
      {"HOTRELOAD_PREVIOUS_HASH", job.previous_hash}};
  if (job.keys) {
    environment.emplace_back("HOTRELOAD_DIR", job.path);
    for (auto& variable : job.keys->environment()) environment.push_back(std::move(variable));
  }
  CommandResult r = run_shell_command({
      .command = config_.exec_command,
      .environment = std::move(environment),
      .timeout = config_.exec_timeout,
  });
  // Pass the command's own complaints on; only the first line goes into the event.
  if (!r.stderr_head.empty()) std::fwrite(r.stderr_head.data(), 1, r.stderr_head.size(), stderr);
  bool ok = r.succeeded();
  count(job, "exec", ok);
  if (!ok) {
    std::string error = "exec " + r.describe(config_.exec_timeout);
    if (std::string line = r.first_stderr_line(); !line.empty()) error += ": " + line;
    failed(job, "exec", error);
  }
}

void ActionRunner::run_signal(const ActionJob& job) {
  pid_t pid = 0;
  if (config_.pid) {
    pid = *config_.pid;
  } else {
    auto read = read_pid_file(config_.pid_file);
    if (auto* why = std::get_if<std::string>(&read)) {
      count(job, "signal", false);
      failed(job, "signal", *why);
      return;
    }
    pid = std::get<pid_t>(read);
  }
  bool ok = ::kill(pid, *config_.signal) == 0;
  count(job, "signal", ok);
  if (!ok)
    failed(job, "signal",
           "kill(" + std::to_string(pid) + ", " + signal_name(*config_.signal) +
               "): " + std::strerror(errno));
}

void ActionRunner::run_webhook(const ActionJob& job) {
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
  WebhookOutcome out = post_webhook(
      *config_.webhook, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
      [this](std::chrono::milliseconds d) { return wait_unless_stopping(d); });
  count(job, "webhook", out.ok);
  if (!out.ok)
    failed(job, "webhook",
           "POST " + config_.webhook->url + ": " + out.error + " after " +
               std::to_string(out.attempts) + " attempt" + (out.attempts == 1 ? "" : "s"),
           out.attempts);
}

void ActionRunner::count(const ActionJob& job, const char* action, bool ok) {
  std::lock_guard lock(mu_);
  Counts& c = counts_[{job.path, job.volume, action}];
  ++c.runs;
  if (!ok) ++c.failures;
}

void ActionRunner::failed(const ActionJob& job, const char* action, const std::string& error,
                          unsigned attempts) {
  log_.action_failed(job.path, job.volume, action, error, attempts);
}

std::vector<MetricFamily> ActionRunner::metric_families() const {
  MetricFamily runs{"action_runs_total", "Actions run after accepted changes.", "counter", {}};
  MetricFamily failures{"action_failures_total",
                        "Actions that failed (logged as event=action_failed).", "counter", {}};
  std::lock_guard lock(mu_);
  for (const auto& [key, c] : counts_) {
    const auto& [path, volume, action] = key;
    std::vector<std::pair<std::string, std::string>> labels{{"path", path}};
    if (!volume.empty()) labels.emplace_back("volume", volume);
    labels.emplace_back("action", action);
    runs.samples.push_back({labels, double(c.runs)});
    failures.samples.push_back({labels, double(c.failures)});
  }
  return {runs, failures};
}

}  // namespace hotreload::cli

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
#include "signal_names.h"
#include "subprocess.h"

namespace hotreload::cli {

namespace {

// A pid file holds a number and a newline; anything much larger is not one.
constexpr std::size_t kPidFileBytesMax = 4096;

// A command's stderr line longer than this is passed on in pieces.
constexpr std::size_t kStderrLineMax = std::size_t{64} * 1024;

std::string_view file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a regular file";
}

std::string not_regular(const std::string& path, mode_t mode) {
  return "pid file " + path + " is " + std::string(file_kind(mode)) +
         ", not a regular file: give the file the process writes its id to";
}

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
  // Looked at before it is opened (opening a device may do something), and after.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return "cannot read pid file " + path + ": " + std::strerror(errno);
  if (!S_ISREG(st.st_mode)) return not_regular(path, st.st_mode);
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return "cannot read pid file " + path + ": " + std::strerror(errno);
  std::string s;
  std::optional<std::string> why;
  if (::fstat(fd, &st) != 0) {
    why = "cannot read pid file " + path + ": " + std::strerror(errno);
  } else if (!S_ISREG(st.st_mode)) {
    why = not_regular(path, st.st_mode);
  } else {
    char buffer[512];
    for (;;) {
      ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        why = "cannot read pid file " + path + ": " + std::strerror(errno);
        break;
      }
      if (n == 0) break;
      s.append(buffer, static_cast<std::size_t>(n));
      if (s.size() > kPidFileBytesMax) {
        why = "pid file " + path + " is larger than " + std::to_string(kPidFileBytesMax) +
              " bytes: not a pid file";
        break;
      }
    }
  }
  ::close(fd);
  if (why) return *why;
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
  if (config_.webhook) webhook_ = std::make_unique<WebhookClient>(*config_.webhook);
  if (config_.any()) worker_ = std::thread([this] { work(); });
}

ActionRunner::~ActionRunner() { stop(); }

void ActionRunner::enqueue(ActionJob job) {
  if (!config_.any()) return;
  std::optional<ActionJob> dropped;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    auto waiting = std::find_if(queue_.begin(), queue_.end(),
                                [&job](const ActionJob& j) { return j.path == job.path; });
    if (waiting != queue_.end()) {
      // Superseded: the new job tells what changed since the last action that ran.
      ++superseded_[{waiting->path, waiting->volume}];
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
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !worker_.joinable()) return;
    stopping_ = true;
    dropped.swap(queue_);
  }
  stop_source_.request_stop();
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
  for (const ActionJob& job : dropped)
    log_.warning("stopping: did not run the actions queued for " + job.path + " hash " + job.hash);
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
  if (auto why = signal_target_refusal(pid)) {
    count(job, "signal", false);
    failed(job, "signal",
           config_.pid_file.empty() ? *why : *why + " (read from " + config_.pid_file + ")");
    return;
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
  WebhookOutcome out = webhook_->post(
      body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
      stop_source_.get_token());
  count(job, "webhook", out.ok);
  if (!out.ok)
    failed(job, "webhook",
           "POST " + webhook_->config().url + ": " + out.error + " after " +
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
  return {runs, failures, superseded};
}

}  // namespace hotreload::cli

// ActionRunner: what `hotreload watch` does after a change was accepted — run a command,
// signal a process, POST a webhook — on its own worker thread.
//
// The hub thread runs every watch's callback, so it only enqueues (never blocks); the
// worker runs the jobs in order, each action of a job in the order exec, signal, webhook.
// A failed action is logged (event=action_failed) and counted, never fatal.
//
// A job waiting for the worker is pointless once its path has newer accepted content, so
// the queue holds at most one job per path: a newer one takes the waiting one's place (its
// previous hash and key changes folded in), and the superseded job is counted
// (action_superseded_total), not logged. The queue is bounded across paths too: beyond
// queue_max paths waiting, the oldest job is dropped, logged and counted.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "event_log.h"
#include "hotreload/metrics.h"
#include "key_changes.h"
#include "webhook.h"

namespace hotreload::cli {

struct ActionConfig {
  std::string exec_command;                      // empty: no --exec
  std::chrono::milliseconds exec_timeout{30'000};
  std::optional<int> signal;                     // --signal
  std::optional<pid_t> pid;                      // --pid
  std::string pid_file;                          // --pid-file, read before every signal
  std::optional<WebhookConfig> webhook;          // --webhook
  std::size_t queue_max = 256;                   // paths with a job waiting

  bool any() const { return !exec_command.empty() || signal || webhook; }
};

// One accepted change: of a file, or of a directory's snapshot.
struct ActionJob {
  std::string path;           // the watched file or directory
  std::string hash;           // the new content's (snapshot's) SHA-256, hex
  std::string previous_hash;  // the content it replaced
  std::string volume;         // the directory path belongs to (path itself for a directory)
  std::optional<KeyChanges> keys;  // a directory's: the keys added, changed, removed
};

class ActionRunner {
 public:
  ActionRunner(ActionConfig config, EventLog& log);
  ~ActionRunner();
  ActionRunner(const ActionRunner&) = delete;
  ActionRunner& operator=(const ActionRunner&) = delete;

  // From any thread; returns at once.
  void enqueue(ActionJob job);
  // Drops queued jobs and ends the action in flight: a webhook attempt or backoff is cut
  // short at once, a command runs to its end or its --exec-timeout.
  void stop();

  // action_runs_total / action_failures_total by path, volume and action, and
  // action_superseded_total by path and volume, for /metrics.
  std::vector<MetricFamily> metric_families() const;

 private:
  void work();
  void run(const ActionJob& job);
  void run_exec(const ActionJob& job);
  void run_signal(const ActionJob& job);
  void run_webhook(const ActionJob& job);
  void count(const ActionJob& job, const char* action, bool ok);
  void failed(const ActionJob& job, const char* action, const std::string& error,
              unsigned attempts = 1);

  const ActionConfig config_;
  EventLog& log_;
  std::unique_ptr<WebhookClient> webhook_;  // with config_.webhook: its kept connection

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<ActionJob> queue_;
  bool stopping_ = false;
  std::stop_source stop_source_;
  struct Counts {
    uint64_t runs = 0;
    uint64_t failures = 0;
  };
  std::map<std::tuple<std::string, std::string, std::string>, Counts> counts_;  // path, volume, action
  std::map<std::pair<std::string, std::string>, uint64_t> superseded_;  // path, volume
  std::thread worker_;
};

// The pid in a pid file ("1234\n"), or why there is none. Only a regular file is read
// (a FIFO would block the reader, a device might never end); it is opened non-blocking.
Parsed<pid_t> read_pid_file(const std::string& path);

// Why pid must not be signalled, if it must not: PID 1 (in a shared process namespace,
// the pause container or init — never the service) or this process itself.
std::optional<std::string> signal_target_refusal(pid_t pid);

}  // namespace hotreload::cli

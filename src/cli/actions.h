// ActionRunner: what `hotreload watch` does after a change was accepted — run a command,
// signal a process, POST a webhook — on its own worker thread.
//
// The hub thread runs every watch's callback, so it only enqueues (never blocks); the
// worker runs the jobs in order, each action of a job in the order exec, signal, webhook.
// A failed action is logged (event=action_failed) and counted, never fatal. The queue is
// bounded: a flood of changes beyond it drops the oldest job, logged and counted.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
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
  std::size_t queue_max = 256;

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
  // Finishes the action in flight (cutting webhook backoff short), drops queued jobs.
  void stop();

  // action_runs_total / action_failures_total by path, volume and action, for /metrics.
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
  bool wait_unless_stopping(std::chrono::milliseconds d);

  const ActionConfig config_;
  EventLog& log_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<ActionJob> queue_;
  bool stopping_ = false;
  struct Counts {
    uint64_t runs = 0;
    uint64_t failures = 0;
  };
  std::map<std::tuple<std::string, std::string, std::string>, Counts> counts_;  // path, volume, action
  std::thread worker_;
};

// The pid in a pid file ("1234\n"), or why there is none.
Parsed<pid_t> read_pid_file(const std::string& path);

}  // namespace hotreload::cli

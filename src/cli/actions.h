// ActionRunner: what `hotreload watch` does after a change was accepted — run a command,
// signal a process, deliver a webhook — on its own worker thread.
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
//
// A webhook is delivered until the service accepts it: a failed attempt is tried again
// after a backoff (doubling, capped), between the other jobs, until it succeeds, newer
// content of the same path supersedes it, the --webhook-retries cap is reached, or the
// runner stops. A failure is logged once per cause (the attempts go on quietly), a success
// after failures is logged (event=action_delivered), and action_pending_seconds tells how
// long the service has been behind.
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
  std::string process_name;                      // --process-name, looked up before every signal
  std::optional<WebhookConfig> webhook;          // --webhook (one or more URLs)
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
  bool webhook_only = false;  // the initial content, delivered when the service is ready
};

class ActionRunner {
 public:
  using Clock = std::chrono::steady_clock;

  ActionRunner(ActionConfig config, EventLog& log);
  ~ActionRunner();
  ActionRunner(const ActionRunner&) = delete;
  ActionRunner& operator=(const ActionRunner&) = delete;

  // From any thread; returns at once.
  void enqueue(ActionJob job);
  // Drops queued jobs and deliveries not yet accepted (logging each), and ends the action
  // in flight: a webhook attempt is cut short at once, a command runs to its end or its
  // --exec-timeout.
  void stop();

  // Whether a webhook delivery has been accepted since the start (for /readyz with
  // --ready-url: the service has its configuration).
  bool delivered_any() const;
  // Whether path's newest accepted content has had all its actions done, or is on its way
  // without a failure so far: no failed exec or signal, no webhook attempt failing or given
  // up. A path without actions is fine.
  bool actions_ok(const std::string& path) const;
  // What the worker has been doing for at least `limit` (for /healthz: "exec of /p for
  // 95s"), or nothing.
  std::optional<std::string> busy_longer_than(std::chrono::milliseconds limit) const;

  // action_runs_total / action_failures_total (attempts) by path, volume and action,
  // action_superseded_total by path and volume, action_pending_seconds by path, volume and
  // action, for /metrics.
  std::vector<MetricFamily> metric_families() const;

 private:
  // A webhook's pending delivery: the newest accepted content of a path that one URL has
  // not yet accepted.
  struct Delivery {
    ActionJob job;
    unsigned failures = 0;           // failed attempts at this content
    Clock::time_point due;           // the next attempt
    Clock::time_point behind_since;  // the oldest content the URL has not accepted
    std::chrono::milliseconds backoff{};
    std::string last_error;          // logged once per cause
  };
  using DeliveryKey = std::pair<std::string, std::size_t>;  // path, URL

  void work();
  void run(const ActionJob& job);
  bool run_exec(const ActionJob& job);  // whether it succeeded
  bool run_signal(const ActionJob& job);
  void schedule_webhooks(const ActionJob& job);
  void deliver(const DeliveryKey& key);
  bool service_ready(Delivery& d, const DeliveryKey& key);
  void retry_later(Delivery& d, const DeliveryKey& key, const std::string& error, bool attempted);
  std::optional<DeliveryKey> due_delivery(Clock::time_point now) const;
  std::optional<Clock::time_point> next_due() const;
  void busy(const char* action, const std::string& path);
  void count(const ActionJob& job, const char* action, bool ok);
  void failed(const ActionJob& job, const char* action, const std::string& error,
              unsigned attempts = 1, std::optional<std::chrono::milliseconds> retry_in = {});

  const ActionConfig config_;
  EventLog& log_;
  std::vector<std::unique_ptr<WebhookClient>> webhooks_;  // one per URL, its kept connection
  std::unique_ptr<WebhookClient> ready_;                    // --ready-url

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<ActionJob> queue_;
  std::map<DeliveryKey, Delivery> deliveries_;
  bool stopping_ = false;
  bool service_ready_ = false;  // --ready-url answered 2xx since the last failure
  bool delivered_any_ = false;
  std::stop_source stop_source_;
  struct Counts {
    uint64_t runs = 0;
    uint64_t failures = 0;
  };
  std::map<std::tuple<std::string, std::string, std::string>, Counts> counts_;  // path, volume, action
  std::map<std::pair<std::string, std::string>, uint64_t> superseded_;  // path, volume
  std::map<std::string, std::string> webhook_paths_;  // path -> volume, for pending_seconds
  std::map<std::string, bool> failing_;  // path -> its newest content's exec or signal failed,
                                         // or a webhook gave up
  std::optional<std::pair<std::string, std::string>> busy_with_;  // action, path
  Clock::time_point busy_since_{};
  std::thread worker_;
};

// The pid in a pid file ("1234\n"), or why there is none. Only a regular file is read
// (a FIFO would block the reader, a device might never end); it is opened non-blocking.
Parsed<pid_t> read_pid_file(const std::string& path);

// Why pid must not be signalled, if it must not: PID 1 (in a shared process namespace,
// the pause container or init — never the service) or this process itself.
std::optional<std::string> signal_target_refusal(pid_t pid);

}  // namespace hotreload::cli

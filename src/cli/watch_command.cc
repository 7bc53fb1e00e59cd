#include "watch_command.h"

#include <signal.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <iostream>
#include <set>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>

#include "actions.h"
#include "event_log.h"
#include "key_changes.h"
#include "exit_codes.h"
#include "hotreload/file_watcher.h"
#include "hotreload/hub.h"
#include "hotreload/metrics.h"
#include "hotreload/volume_watcher.h"
#include "metrics_server.h"
#include "mountinfo.h"
#include "name_text.h"
#include "path_walk.h"
#include "render.h"
#include "signal_names.h"
#include "validator.h"
#include "watch_options.h"

namespace hotreload::cli {

namespace {

// Hub-level messages (inotify unavailable, queue overflow) are not per-file decisions:
// they go to stderr, so that stdout carries only the event log, in the log's format.
std::shared_ptr<spdlog::logger> hub_logger(EventLog& log) {
  return std::make_shared<spdlog::logger>("hotreload-hub", log.library_sink());
}

// Decisions reach the EventLog through on_decision; the library's own lines would repeat them.
std::shared_ptr<spdlog::logger> discarding_logger() {
  return std::make_shared<spdlog::logger>("hotreload-quiet",
                                          std::make_shared<spdlog::sinks::null_sink_mt>());
}

// The paths whose newest content on disk is not in force: after a rejection, a read error
// or a vanishing, until the path holds accepted content again. Empty while all is well, so
// that ten thousand healthy paths cost nothing here.
class FailingPaths {
 public:
  void set(std::string_view path, bool failing) {
    std::lock_guard lock(mu_);
    if (!failing) {
      if (auto it = paths_.find(path); it != paths_.end()) paths_.erase(it);
    } else {
      paths_.emplace(path);
    }
  }
  bool contains(std::string_view path) const {
    std::lock_guard lock(mu_);
    return paths_.find(path) != paths_.end();
  }

 private:
  mutable std::mutex mu_;
  std::set<std::string, std::less<>> paths_;
};

int usage_error(const std::string& message) {
  std::cerr << "hotreload watch: " << message << "\nTry 'hotreload watch --help'.\n";
  return kExitUsage;
}

// The signals the main thread takes with sigwait(): SIGHUP asks every watch to check now
// (the usual "re-read your configuration" of a daemon); SIGTERM, SIGINT and the other
// signals whose default action would kill us without a word (SIGQUIT, SIGUSR1, SIGUSR2,
// SIGALRM) stop cleanly, with the stopped lines. Blocking them before any thread starts
// makes every thread inherit the block, so none is interrupted by them.
sigset_t handled_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int signo : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM})
    sigaddset(&set, signo);
  return set;
}

// Runs on the hub thread for every decision (on the caller's for the initial load): logs
// it, records it for /metrics, and queues the actions of an accepted change. Never blocks.
// With --ready-url, the first content is delivered too (webhook only), once the service is
// ready: a service starting beside the sidecar gets its configuration confirmed.
std::function<void(const Decision&)> decision_handler(EventLog& log, MetricsRecorder& recorder,
                                                      ActionRunner& actions, FailingPaths& failing,
                                                      bool deliver_first) {
  return [&log, &recorder, &actions, &failing, deliver_first](const Decision& d) {
    // The metrics and the health first, then the line: whoever acts on the line (a script
    // that scrapes /metrics once it reads `rejected`) finds them saying the same.
    recorder.record(d);
    switch (d.kind) {
      case DecisionKind::rejected:
      case DecisionKind::read_error:
      case DecisionKind::missing: failing.set(d.path, true); break;
      case DecisionKind::restored:
      case DecisionKind::reloaded: failing.set(d.path, false); break;
      default: break;
    }
    log.decision(d);
    if (!d.hash) return;
    if (d.kind == DecisionKind::loaded && deliver_first) {
      std::optional<KeyChanges> keys;
      if (d.snapshot) keys = KeyChanges::of(*d.snapshot);
      actions.enqueue({std::string(d.path), d.hash->hex(), "", std::string(d.volume),
                       std::move(keys), /*webhook_only=*/true});
    }
    if (d.kind == DecisionKind::reloaded) {
      std::string hash = d.hash->hex();
      std::string previous = d.previous ? d.previous->hex() : std::string();
      std::optional<KeyChanges> keys;
      if (d.snapshot) keys = KeyChanges::of(*d.snapshot);
      actions.enqueue({std::string(d.path), hash, previous, std::string(d.volume), std::move(keys)});
    }
  };
}

// system_error appends ": <message>" to what(); the library's sentence says it already.
std::string start_error_message(const StartError& e) {
  std::string what = e.what(), suffix = ": " + e.code().message();
  if (what.size() > suffix.size() && what.ends_with(suffix)) what.resize(what.size() - suffix.size());
  return what;
}

// Every watcher started, files then directories, each held in place: a deque never moves
// its elements (a file's check points into its watcher), and ten thousand files need no
// allocation and pointer each.
struct Watchers {
  std::deque<FileWatcher> files;
  std::deque<VolumeWatcher> dirs;

  template <class F>
  void each(F&& f) {
    for (auto& w : files) f(w);
    for (auto& w : dirs) f(w);
  }
  template <class F>
  void each(F&& f) const {
    for (const auto& w : files) f(w);
    for (const auto& w : dirs) f(w);
  }
};

// /healthz's complaint: each watch stalled for `limit` or longer, and an action running for
// as long, one line each.
std::string stalled_too_long(const Watchers& watchers, const ActionRunner& actions,
                             std::chrono::milliseconds limit) {
  std::string lines;
  if (auto busy = actions.busy_longer_than(limit)) lines += "stuck: " + *busy + "\n";
  const SteadyTime now = std::chrono::steady_clock::now();
  watchers.each([&](const Watcher& w) {
    Status s = w.status();
    if (!s.stalled_since || now - *s.stalled_since < limit) return;
    auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now - *s.stalled_since);
    lines += "stalled: " + escape_name(s.path) + " (a filesystem call has not returned for " +
             std::to_string(seconds.count()) + "s)\n";
  });
  return lines;
}

// 1 while a path's newest content on disk was accepted and its actions have not failed; 0
// after a rejection, a read error, a vanishing, a failed exec or signal, or a webhook not
// accepted (kube-prometheus's alert on config reloaders reads this).
MetricFamily last_reload_successful(const Watchers& watchers, const FailingPaths& failing,
                                    const ActionRunner& actions) {
  MetricFamily f{"last_reload_successful",
                 "1 if the newest content on disk was accepted and its actions succeeded (or "
                 "are on their way without a failure), else 0.",
                 "gauge",
                 {}};
  watchers.each([&](const Watcher& w) {
    Status s = w.status();
    std::vector<std::pair<std::string, std::string>> labels{{"path", s.path}};
    if (!s.volume.empty()) labels.emplace_back("volume", s.volume);
    bool ok = !failing.contains(s.path) && actions.actions_ok(s.path);
    f.samples.push_back({labels, ok ? 1.0 : 0.0});
  });
  return f;
}

}  // namespace

int watch_command(WatchConfig config) {
  sigset_t signals = handled_signals();
  ::pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);  // a closed webhook socket or validator stdin is an error, not death

  EventLog log(config.log_format);
  for (const std::string& path : config.paths)
    if (auto mount = find_single_file_mount(path)) log.warning(single_file_mount_warning(path, *mount));

  // Declared in the order that makes destruction safe: the server (which reads the
  // watchers) goes first, then the watchers (whose callbacks use everything above them).
  std::atomic<bool> stopping{false};
  MetricsRecorder recorder;
  ActionRunner actions(config.actions, log);
  auto hub = Hub::make_posix(hub_logger(log));
  Validator validator(config.validator, [&log](std::string_view why) { log.warning(why); });
  FailingPaths failing;
  auto quiet = discarding_logger();
  Watchers watchers;
  std::atomic<bool> loaded{false};
  const bool deliver_first = config.actions.webhook && config.actions.webhook->ready_url;
  MetricsServer server(
      [&] {
        MetricsSnapshot snapshot;
        watchers.each(
            [&](const Watcher& w) { snapshot.watches.push_back(recorder.collect(w.status())); });
        snapshot.extra = actions.metric_families();
        snapshot.extra.push_back(last_reload_successful(watchers, failing, actions));
        return render_prometheus(snapshot, config.metrics_prefix);
      },
      [&] {
        return stopping.load() ? std::string("stopping\n")
                               : stalled_too_long(watchers, actions, config.unhealthy_after_stall);
      },
      [&]() -> std::string {
        if (stopping.load()) return "stopping\n";
        if (!loaded.load()) return "loading\n";
        if (deliver_first && !actions.delivered_any())
          return "waiting for the service to accept a first webhook delivery (--ready-url " +
                 config.actions.webhook->ready_url->text + ")\n";
        return {};
      });
  if (config.metrics_listen) {
    if (auto why = server.bind(*config.metrics_listen)) {
      log.fatal("hotreload watch: " + *why);
      return kExitListenFailed;
    }
  }

  const Lookup lookup = process_environment();
  // One copy for every watch: at ten thousand files, a copy each would cost ~200 bytes a file.
  auto options = std::make_shared<Options>(config.watch);
  options->logger = quiet;
  options->on_decision = decision_handler(log, recorder, actions, failing, deliver_first);
  // Files, then directories, all on the one hub; the first that cannot be loaded ends it.
  // Starts the watcher last added to list; one that cannot be loaded is dropped.
  auto start_last = [&](auto& list) -> std::optional<int> {
    try {
      list.back().start();
    } catch (const StartError& e) {
      list.pop_back();
      log.fatal(start_error_message(e));
      return kExitLoadFailed;
    }
    return std::nullopt;
  };
  // What a file's check reads besides its content. Each check holds a pointer to this and
  // to its path, which std::function keeps in place, without an allocation per file.
  struct FileCheck {
    Validator& validator;
    const WatchConfig& config;
    const Lookup& lookup;
  } const context{validator, config, lookup};
  // Each file's check names its path as the watch keeps it (absolute), through a slot
  // filled as soon as the watcher exists, before its first check: at ten thousand files,
  // one copy of each path instead of two. The given paths go once handed over.
  std::vector<const std::string*> file_path_of(config.paths.size(), nullptr);
  try {
    for (std::size_t i = 0; i < config.paths.size(); ++i) {
      const std::string* const* path = &file_path_of[i];
      auto check = [&context, path](std::string_view content) {
        std::string rendered;
        if (context.config.envsubst) {
          auto text = envsubst(content, context.lookup);
          if (auto* why = std::get_if<1>(&text)) return Verdict::reject("--envsubst: " + *why);
          rendered = std::move(std::get<0>(text));
          content = rendered;
        }
        Verdict verdict = context.validator.validate(**path, content);
        const std::string& render_to = context.config.render_to;
        if (verdict.accepted && !render_to.empty())
          if (auto why = write_file_atomically(render_to, content))
            return Verdict::reject("--render-to: " + *why);
        return verdict;
      };
      const FileWatcher& watcher =
          watchers.files.emplace_back(std::exchange(config.paths[i], {}), check, options, hub);
      file_path_of[i] = &watcher.path();
      if (auto failed = start_last(watchers.files)) return *failed;
    }
    for (const std::string& given : config.dirs) {
      auto check = [&validator, &config, lookup](const Snapshot& snapshot) {
        std::optional<Snapshot> rendered;
        if (config.envsubst) {
          auto made = envsubst(snapshot, lookup);
          if (auto* why = std::get_if<std::string>(&made))
            return Verdict::reject("--envsubst: " + *why);
          rendered = std::move(std::get<Snapshot>(made));
        }
        const Snapshot& candidate = rendered ? *rendered : snapshot;
        Verdict verdict = validator.validate(candidate);
        if (verdict.accepted && !config.render_to.empty())
          if (auto why = publish_directory(config.render_to, candidate))
            return Verdict::reject("--render-to: " + *why);
        return verdict;
      };
      watchers.dirs.emplace_back(absolute_normal(given), check, options, config.keys, hub);
      if (auto failed = start_last(watchers.dirs)) return *failed;
    }
  } catch (const std::invalid_argument& e) {
    return usage_error(e.what());
  }
  loaded = true;
  if (config.metrics_listen) {
    server.start();
    log.notice("serving /metrics, /healthz and /readyz on " + config.metrics_listen->host + ":" +
               std::to_string(server.port()));
  }

  for (int signo = 0;;) {
    ::sigwait(&signals, &signo);
    if (signo != SIGHUP) {
      if (signo != SIGTERM && signo != SIGINT)
        log.notice("stopping on " + signal_name(signo) + " (handled as SIGTERM)");
      break;
    }
    watchers.each([&](const Watcher& w) { log.recheck(w.status(), signal_name(signo)); });
    hub->check_all();
  }
  stopping = true;
  server.stop();
  watchers.each([](Watcher& w) { w.stop(); });
  actions.stop();
  watchers.each([&](const Watcher& w) { log.stopped(w.status()); });
  hub->stop_thread();
  if (hub->checks_out() > 0) {
    // A look is stuck in a mount that does not answer. It cannot be joined, and exit()'s
    // destructors (and, in sanitizer builds, the leak check, which stops every thread)
    // would wait for it or race it: end here, every line already written and flushed.
    std::fflush(nullptr);
    std::_Exit(kExitOk);
  }
  return kExitOk;
}

}  // namespace hotreload::cli

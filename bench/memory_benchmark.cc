// Memory per watcher: resident set and heap, at N watchers, minus the baseline of a
// process that already has its Hub (thread, inotify fd) and one watcher running.
//
// Each measurement runs in a fork()ed child, so that memory one measurement frees and
// malloc keeps does not flatter the next. The watched files are kubelet volumes (the
// watcher resolves key -> ..data/key -> ..<timestamp>/key and keeps a kernel watch on the
// volume and on the timestamped directory). The callback keeps nothing, so the figures
// are the watcher's own cost, beyond whatever content the application keeps.
//
// The measurement is taken once the hub has run every new watcher's first check: a
// watcher started after the N is changed, and its callback (the hub checks in start
// order) proves the N before it are done.
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>

#include "bench_support.h"
#include "hotreload/file_watcher.h"
#include "hotreload/hub.h"
#include "posix_tree.h"
#include "writers.h"

namespace hotreload::bench {
namespace {

using namespace std::chrono_literals;

struct Measured {
  double rss_per_watcher = 0;
  double heap_per_watcher = 0;
  double rss_baseline = 0;
  double heap_baseline = 0;
  double kernel_watches = 0;
  double in_other_mode = 0;
  int ok = 0;
};

class Flag {
 public:
  void set() {
    {
      std::lock_guard lock(mu_);
      set_ = true;
    }
    cv_.notify_all();
  }
  bool wait(std::chrono::milliseconds bound) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, bound, [&] { return set_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool set_ = false;
};

Measured measure(Mode mode, long n) {
  Measured m;
  VolumePool& pool = VolumePool::get();
  std::vector<std::string> paths;
  paths.reserve(static_cast<std::size_t>(n));
  for (long i = 0; i < n; ++i) paths.push_back(pool.key_path(static_cast<std::size_t>(i)));
  Scratch scratch("hotreload-bench-mem");
  harness::PosixTree tree;
  const std::string sentinel_write = scratch.write_path() + "/sentinel.conf";
  if (harness::apply_all(tree, harness::plan_editor_save(sentinel_write, "one"))) return m;

  auto hub = Hub::make_posix(quiet_logger());
  Options options;
  options.mode = mode;
  options.logger = quiet_logger();
  std::vector<std::unique_ptr<FileWatcher>> watchers;
  watchers.reserve(static_cast<std::size_t>(n));
  // One watcher before the baseline, so that first-use costs are not charged per watcher.
  FileWatcher first(pool.key_path(static_cast<std::size_t>(n)),
                    [](std::string_view) { return Verdict::accept(); }, options, hub);
  first.start();

  std::size_t rss0 = rss_bytes(), heap0 = heap_bytes();
  for (long i = 0; i < n; ++i) {
    watchers.push_back(std::make_unique<FileWatcher>(
        paths[static_cast<std::size_t>(i)], [](std::string_view) { return Verdict::accept(); },
        options, hub));
    watchers.back()->start();
  }
  Flag changed;
  FileWatcher sentinel(
      scratch.watch_path() + "/sentinel.conf",
      [&changed](std::string_view content) {
        if (content == "two") changed.set();
        return Verdict::accept();
      },
      options, hub);
  sentinel.start();
  if (harness::apply_all(tree, harness::plan_editor_save(sentinel_write, "two"))) return m;
  if (!changed.wait(30s)) return m;
  std::size_t rss1 = rss_bytes(), heap1 = heap_bytes();

  const double count = static_cast<double>(n + 1);  // the sentinel is a watcher too
  m.rss_per_watcher = (static_cast<double>(rss1) - static_cast<double>(rss0)) / count;
  m.heap_per_watcher = (static_cast<double>(heap1) - static_cast<double>(heap0)) / count;
  m.rss_baseline = static_cast<double>(rss0);
  m.heap_baseline = static_cast<double>(heap0);
  m.kernel_watches = static_cast<double>(hub->kernel_watch_count());
  ActiveMode expected = first.status().mode;
  for (const auto& w : watchers)
    if (w->status().mode != expected) m.in_other_mode += 1;
  m.ok = 1;
  return m;
}

void memory(benchmark::State& state, Mode mode, long n) {
  VolumePool::get().ensure(static_cast<std::size_t>(n + 1));
  Measured m;
  for (auto _ : state) {
    int fds[2];
    if (::pipe(fds) != 0) {
      state.SkipWithError("pipe failed");
      break;
    }
    pid_t pid = ::fork();
    if (pid == 0) {
      ::close(fds[0]);
      Measured child = measure(mode, n);
      [[maybe_unused]] ssize_t w = ::write(fds[1], &child, sizeof child);
      ::_exit(0);  // no static destructors: the pool belongs to the parent
    }
    ::close(fds[1]);
    ssize_t got = pid > 0 ? ::read(fds[0], &m, sizeof m) : -1;
    ::close(fds[0]);
    int status = 0;
    if (pid > 0) ::waitpid(pid, &status, 0);
    if (got != static_cast<ssize_t>(sizeof m) || !m.ok) {
      state.SkipWithError("the measuring child failed");
      break;
    }
  }
  state.counters["watchers"] = static_cast<double>(n);
  state.counters["rss_bytes_per_watcher"] = m.rss_per_watcher;
  state.counters["heap_bytes_per_watcher"] = m.heap_per_watcher;
  state.counters["rss_baseline_bytes"] = m.rss_baseline;
  state.counters["heap_baseline_bytes"] = m.heap_baseline;
  state.counters["kernel_watches"] = m.kernel_watches;
  state.counters["watchers_in_other_mode"] = m.in_other_mode;
}

}  // namespace
}  // namespace hotreload::bench

int main(int argc, char** argv) {
  using namespace hotreload::bench;
  Config c = parse_args(
      &argc, argv,
      "Resident set and heap per watcher at N watchers (kubelet volumes), each measurement in "
      "a fork()ed child.",
      {{"modes", OwnFlag::Kind::text, "events,poll,auto: which to run (default events,poll)"},
       {"watchers", OwnFlag::Kind::numbers, "watcher counts (default 1000,10000)"}});
  std::vector<long> counts =
      c.numbers("watchers", c.smoke ? std::vector<long>{100} : std::vector<long>{1000, 10000});
  std::string modes = c.text("modes", "events,poll");
  for (auto [name, mode] : {std::pair{"events", hotreload::Mode::events},
                            std::pair{"poll", hotreload::Mode::poll},
                            std::pair{"auto", hotreload::Mode::automatic}}) {
    if (("," + modes + ",").find(std::string(",") + name + ",") == std::string::npos) continue;
    for (long n : counts) {
      std::string bench = std::string("memory/") + name + "/watchers:" + std::to_string(n);
      benchmark::RegisterBenchmark(bench.c_str(),
                                   [mode = mode, n](benchmark::State& s) { memory(s, mode, n); })
          ->Iterations(1)
          ->Unit(benchmark::kMillisecond);
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

// Reload latency: from the rename that publishes a kubelet-style update (..data_tmp onto
// ..data, the kubelet's atomic switch) to the callback receiving the new content.
//
// One process, one Hub, N watchers each on its own kubelet volume; one of them changes.
// The clock starts just before the rename(2) and stops on the callback's first line, so
// the figure is what the library adds to the kernel's own event delivery and nothing of
// the benchmark's own bookkeeping. Each iteration is one update; the counters give the
// distribution (p50/p90/p99/max, µs) and the manual time is the mean.
//
// In poll mode the update lands at a random phase of the poll interval (a uniform wait
// before the rename), so the samples show detection against the interval.
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <atomic>
#include <mutex>
#include <random>
#include <thread>

#include "bench_support.h"
#include "hotreload/file_watcher.h"
#include "hotreload/hub.h"
#include "posix_tree.h"
#include "writers.h"

namespace hotreload::bench {
namespace {

using namespace std::chrono_literals;

// Records when each numbered update ("update <n>\n…") first reached the callback.
class Arrivals {
 public:
  Verdict on_content(std::string_view content) {
    SteadyTime at = std::chrono::steady_clock::now();
    uint64_t n = 0;
    constexpr std::string_view kPrefix = "update ";
    if (content.substr(0, kPrefix.size()) == kPrefix)
      std::from_chars(content.data() + kPrefix.size(), content.data() + content.size(), n);
    {
      std::lock_guard lock(mu_);
      if (n > seq_) {
        seq_ = n;
        at_ = at;
      }
    }
    cv_.notify_all();
    return Verdict::accept();
  }

  bool wait(uint64_t n, std::chrono::milliseconds bound, SteadyTime& at) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, bound, [&] { return seq_ >= n; })) return false;
    at = at_;
    return true;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t seq_ = 0;
  SteadyTime at_{};
};

std::string content_of(uint64_t seq, std::size_t bytes) {
  std::string s = "update " + std::to_string(seq) + "\n";
  if (s.size() < bytes) s.append(bytes - s.size(), 'x');
  return s;
}

std::string file_name_of(std::string name) {
  std::replace(name.begin(), name.end(), '/', '_');
  std::replace(name.begin(), name.end(), ':', '-');
  return name;
}

void latency(benchmark::State& state, Mode mode, long watchers, long interval_ms,
             long safety_ms, const std::string& name) {
  const auto content_bytes = static_cast<std::size_t>(config().number("content-bytes", 1024));
  const long gap_us = config().number("gap-ms", config().smoke ? 0 : 5) * 1000;
  VolumePool& pool = VolumePool::get();
  pool.ensure(static_cast<std::size_t>(watchers - 1));

  auto hub = Hub::make_posix(quiet_logger());
  Options options;
  options.mode = mode;
  options.poll_interval = std::chrono::milliseconds(interval_ms);
  options.safety_interval = std::chrono::milliseconds(safety_ms);
  options.logger = quiet_logger();

  // The quiet ones: watched, never changed.
  std::vector<std::unique_ptr<FileWatcher>> quiet;
  quiet.reserve(static_cast<std::size_t>(watchers - 1));
  for (long i = 0; i + 1 < watchers; ++i) {
    quiet.push_back(std::make_unique<FileWatcher>(
        pool.key_path(static_cast<std::size_t>(i)),
        [](std::string_view) { return Verdict::accept(); }, options, hub));
    quiet.back()->start();
  }

  // The one that changes, started last.
  Scratch scratch("hotreload-bench-change");
  harness::PosixTree tree;
  harness::KubeletWriter kubelet(scratch.write_path());
  if (auto ec = harness::apply_all(tree, kubelet.plan(tree, {{"key", content_of(0, content_bytes)}}))) {
    state.SkipWithError(("initial kubelet write failed: " + ec.message()).c_str());
    return;
  }
  Arrivals arrivals;
  FileWatcher changing(
      scratch.watch_path() + "/key",
      [&arrivals](std::string_view content) { return arrivals.on_content(content); }, options,
      hub);
  changing.start();
  const bool polling = changing.status().mode == ActiveMode::poll;

  std::mt19937_64 rng(42);
  std::uniform_int_distribution<long> phase_us(0, interval_ms * 1000 - 1);
  std::uniform_int_distribution<long> pause_us(0, std::max<long>(gap_us - 1, 0));
  const auto bound = std::chrono::milliseconds(std::max<long>(30'000, 3 * interval_ms));
  std::vector<double> samples;
  samples.reserve(static_cast<std::size_t>(state.max_iterations));
  uint64_t seq = 0;
  for (auto _ : state) {
    ++seq;
    auto ops = kubelet.plan(tree, {{"key", content_of(seq, content_bytes)}});
    auto rename = std::find_if(ops.begin(), ops.end(), [](const harness::TreeOp& op) {
      return op.kind == harness::TreeOp::Kind::rename;
    });
    if (rename == ops.end()) {
      state.SkipWithError("kubelet plan has no rename");
      break;
    }
    std::vector<harness::TreeOp> before(ops.begin(), rename);
    std::vector<harness::TreeOp> after(rename + 1, ops.end());
    if (auto ec = harness::apply_all(tree, before)) {
      state.SkipWithError(("kubelet write failed: " + ec.message()).c_str());
      break;
    }
    // Poll mode: land at a random phase of the interval. Events mode: a random pause, so
    // that updates meet the hub in every state (idle, safety polls running) and not only
    // just after the previous update.
    long pause = polling ? phase_us(rng) : gap_us > 0 ? pause_us(rng) : 0;
    if (pause > 0) std::this_thread::sleep_for(std::chrono::microseconds(pause));

    SteadyTime t0 = std::chrono::steady_clock::now();
    if (auto ec = tree.apply(*rename)) {
      state.SkipWithError(("rename failed: " + ec.message()).c_str());
      break;
    }
    SteadyTime at{};
    if (!arrivals.wait(seq, bound, at)) {
      state.SkipWithError("an update never reached the callback");
      break;
    }
    double ns = std::chrono::duration<double, std::nano>(at - t0).count();
    samples.push_back(ns);
    state.SetIterationTime(ns / 1e9);
    if (auto ec = harness::apply_all(tree, after)) {
      state.SkipWithError(("kubelet cleanup failed: " + ec.message()).c_str());
      break;
    }
  }

  long off_mode = 0;
  for (const auto& w : quiet)
    if (w->status().mode != changing.status().mode) ++off_mode;
  state.SetLabel(std::string("mode=") + std::string(to_string(changing.status().mode)));
  state.counters["watchers"] = static_cast<double>(watchers);
  state.counters["kernel_watches"] = static_cast<double>(hub->kernel_watch_count());
  state.counters["watchers_in_other_mode"] = static_cast<double>(off_mode);
  state.counters["interval_ms"] = polling ? static_cast<double>(interval_ms) : 0.0;
  state.counters["safety_ms"] = polling ? 0.0 : static_cast<double>(safety_ms);
  report_latency(state, std::move(samples), file_name_of(name));
}

// The floor: the same updates, seen by a thread blocked in read(2) on its own inotify
// descriptor watching the volume, timestamped when IN_MOVED_TO "..data" arrives. What
// hotreload adds is the rest of the latency above.
void raw_inotify(benchmark::State& state, const std::string& name) {
  const auto content_bytes = static_cast<std::size_t>(config().number("content-bytes", 1024));
  const long gap_us = config().number("gap-ms", config().smoke ? 0 : 5) * 1000;
  Scratch scratch("hotreload-bench-raw");
  harness::PosixTree tree;
  harness::KubeletWriter kubelet(scratch.write_path());
  if (auto ec = harness::apply_all(tree, kubelet.plan(tree, {{"key", content_of(0, content_bytes)}}))) {
    state.SkipWithError(("initial kubelet write failed: " + ec.message()).c_str());
    return;
  }
  int fd = ::inotify_init1(IN_CLOEXEC);
  if (fd < 0 || ::inotify_add_watch(fd, scratch.watch_path().c_str(), IN_MOVED_TO) < 0) {
    state.SkipWithError("inotify unavailable");
    if (fd >= 0) ::close(fd);
    return;
  }
  Arrivals arrivals;
  std::atomic<uint64_t> published{0};
  std::thread reader([&] {
    alignas(struct inotify_event) char buf[4096];
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) return;
      for (ssize_t at = 0; at < n;) {
        auto* ev = reinterpret_cast<struct inotify_event*>(buf + at);
        if (ev->len && std::string_view(ev->name) == "..data") {
          uint64_t seq = published.load();
          if (seq == UINT64_MAX) return;
          arrivals.on_content("update " + std::to_string(seq));
        }
        at += static_cast<ssize_t>(sizeof(struct inotify_event) + ev->len);
      }
    }
  });
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<long> pause_us(0, std::max<long>(gap_us - 1, 0));
  std::vector<double> samples;
  uint64_t seq = 0;
  for (auto _ : state) {
    ++seq;
    auto ops = kubelet.plan(tree, {{"key", content_of(seq, content_bytes)}});
    auto rename = std::find_if(ops.begin(), ops.end(), [](const harness::TreeOp& op) {
      return op.kind == harness::TreeOp::Kind::rename;
    });
    if (auto ec = harness::apply_all(tree, {ops.begin(), rename})) {
      state.SkipWithError(("kubelet write failed: " + ec.message()).c_str());
      break;
    }
    if (gap_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(pause_us(rng)));
    published.store(seq);
    SteadyTime t0 = std::chrono::steady_clock::now();
    tree.apply(*rename);
    SteadyTime at{};
    if (!arrivals.wait(seq, 30s, at)) {
      state.SkipWithError("no IN_MOVED_TO arrived");
      break;
    }
    double ns = std::chrono::duration<double, std::nano>(at - t0).count();
    samples.push_back(ns);
    state.SetIterationTime(ns / 1e9);
    harness::apply_all(tree, {rename + 1, ops.end()});
  }
  // Wake the reader with one more event, then let it go.
  published.store(UINT64_MAX);
  auto ops = kubelet.plan(tree, {{"key", content_of(0, 1)}});
  harness::apply_all(tree, ops);
  reader.join();
  ::close(fd);
  state.SetLabel("mode=raw_inotify");
  report_latency(state, std::move(samples), file_name_of(name));
}

Mode parse_mode(const std::string& m) {
  if (m == "events") return Mode::events;
  if (m == "poll") return Mode::poll;
  if (m == "auto") return Mode::automatic;
  throw std::invalid_argument("unknown mode " + m + " (events, poll, auto)");
}

}  // namespace
}  // namespace hotreload::bench

int main(int argc, char** argv) {
  using namespace hotreload::bench;
  using Kind = OwnFlag::Kind;
  Config c = parse_args(
      &argc, argv,
      "Change noticed -> callback done, per mode. events/auto: --watchers in one hub, one "
      "changing, --updates of it, a random pause below --gap-ms between updates; the largest "
      "watcher count runs again with the safety poll every --busy-safety-ms (0: not), so "
      "updates meet polls in progress. poll: --poll-files polled every --poll-interval-ms, "
      "one changing. inotify: raw inotify, the floor.",
      {{"modes", Kind::text, "inotify,events,poll,auto: which to run (default inotify,events,poll)"},
       {"watchers", Kind::numbers, "watcher counts (default 1,100,10000)"},
       {"updates", Kind::number, "updates per run (default 1000)"},
       {"poll-files", Kind::numbers, "files polled (default 1,1000)"},
       {"poll-interval-ms", Kind::number, "poll interval (default 100)"},
       {"poll-updates", Kind::number, "updates per poll run (default 100)"},
       {"content-bytes", Kind::number, "size of each content (default 1024)"},
       {"gap-ms", Kind::number, "longest random pause between updates (default 5)"},
       {"safety-ms", Kind::number, "safety poll interval (default 10000)"},
       {"busy-safety-ms", Kind::number, "the busy run's safety interval (default 1000)"}});
  std::vector<long> watchers = c.numbers("watchers", c.smoke ? std::vector<long>{1, 10}
                                                             : std::vector<long>{1, 100, 10000});
  std::vector<long> poll_files =
      c.numbers("poll-files", c.smoke ? std::vector<long>{1} : std::vector<long>{1, 1000});
  long updates = c.number("updates", c.smoke ? 5 : 1000);
  long poll_updates = c.number("poll-updates", c.smoke ? 3 : 100);
  long interval_ms = c.number("poll-interval-ms", c.smoke ? 10 : 100);
  long safety_ms = c.number("safety-ms", 10000);
  long busy_safety_ms = c.number("busy-safety-ms", c.smoke ? 0 : 1000);

  std::string modes = c.text("modes", "inotify,events,poll");
  std::size_t start = 0;
  while (start < modes.size()) {
    auto comma = modes.find(',', start);
    if (comma == std::string::npos) comma = modes.size();
    std::string m = modes.substr(start, comma - start);
    start = comma + 1;
    if (m == "inotify") {
      std::string name = "latency/raw_inotify";
      benchmark::RegisterBenchmark(name.c_str(),
                                   [=](benchmark::State& s) { raw_inotify(s, name); })
          ->Iterations(updates)
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond);
      continue;
    }
    hotreload::Mode mode = parse_mode(m);
    // events and auto are measured against the watcher count, poll against the files polled.
    bool poll = mode == hotreload::Mode::poll;
    std::vector<std::pair<long, long>> runs;  // (watchers or files, safety interval)
    for (long n : poll ? poll_files : watchers) runs.emplace_back(n, safety_ms);
    if (mode == hotreload::Mode::events && busy_safety_ms > 0 && !watchers.empty())
      runs.emplace_back(*std::max_element(watchers.begin(), watchers.end()), busy_safety_ms);
    // Not a structured binding: clang 14 cannot capture one in the lambda below.
    for (const auto& run : runs) {
      const long n = run.first, safety = run.second;
      std::string name = "latency/" + m + (poll ? "/files:" : "/watchers:") + std::to_string(n);
      if (poll) name += "/interval_ms:" + std::to_string(interval_ms);
      if (safety != safety_ms) name += "/safety_ms:" + std::to_string(safety);
      benchmark::RegisterBenchmark(name.c_str(),
                                   [=](benchmark::State& s) {
                                     latency(s, mode, n, interval_ms, safety, name);
                                   })
          ->Iterations(poll || mode == hotreload::Mode::automatic ? poll_updates : updates)
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond);
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

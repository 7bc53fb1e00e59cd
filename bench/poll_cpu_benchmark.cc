// CPU cost of polling: nanoseconds of hub-thread CPU per watched file per poll.
//
// A Hub over the real filesystem and inotify but a manual clock, with no thread of its
// own: each iteration moves the clock one interval on and calls run_once() on this
// thread until every file has been polled once. CPU time is this thread's (CLOCK_THREAD_CPUTIME_ID),
// so other processes on the machine do not count. With the default rehash_every = 10,
// every tenth poll reads and hashes every file; the iteration count is a multiple of 10,
// so the mean is the amortised cost and the median the cost of a stat-only poll.
//
// poll_floor runs the same syscalls a poll must make (lstat, readlink) with nothing
// around them: the kernel's share of the cost, which no change to the library removes.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <numeric>

#include "bench_support.h"
#include "hotreload/file_watcher.h"
#include "hotreload/hub.h"
#include "hotreload/volume_watcher.h"
#include "posix/posix_seams.h"
#include "posix_tree.h"
#include "writers.h"

namespace hotreload::bench {
namespace {

using namespace std::chrono_literals;

// The real filesystem, counting the calls the watcher makes through it.
class CountingFilesystem final : public Filesystem {
 public:
  Result<FileStat> lstat(const std::string& p) override {
    ++calls;
    return real_.lstat(p);
  }
  Result<std::string> readlink(const std::string& p) override {
    ++calls;
    return real_.readlink(p);
  }
  Result<std::unique_ptr<OpenFile>> open(const std::string& p) override {
    ++calls;
    return real_.open(p);
  }
  Result<std::vector<std::string>> read_directory(const std::string& p) override {
    ++calls;
    return real_.read_directory(p);
  }
  Result<uint64_t> filesystem_type(const std::string& p) override {
    return real_.filesystem_type(p);
  }
  uint64_t calls = 0;

 private:
  posix::PosixFilesystem real_;
};

std::string path_of(VolumePool& pool, bool kubelet, std::size_t i) {
  return kubelet ? pool.key_path(i) : pool.plain_path(i);
}

void per_file_counters(benchmark::State& state, std::vector<double> per_file_ns, long files) {
  if (per_file_ns.empty()) return;
  double mean = std::accumulate(per_file_ns.begin(), per_file_ns.end(), 0.0) /
                static_cast<double>(per_file_ns.size());
  std::sort(per_file_ns.begin(), per_file_ns.end());
  state.counters["files"] = static_cast<double>(files);
  state.counters["cpu_ns_per_file"] = mean;
  state.counters["cpu_ns_per_file_p50"] = percentile(per_file_ns, 50);
  state.counters["cpu_ns_per_file_max"] = per_file_ns.back();
}

// Polls every watch of hub once per iteration (the clock moved one interval on) and
// records the CPU per watched file; returns the filesystem calls per poll.
double measure_polls(benchmark::State& state, Hub& hub, CountingFilesystem& fs,
                     ManualClock& clock, std::chrono::nanoseconds interval, long files) {
  // One poll of everything: the hub runs at most a bounded number of timer-driven checks
  // per wakeup, so it takes several run_once() calls; the last one finds nothing to do.
  auto poll_all = [&] {
    uint64_t before = 0;
    do {
      before = fs.calls;
      hub.run_once(clock.now());
    } while (fs.calls != before);
  };
  poll_all();  // the check every start() asks for
  // The hub spreads first polls over [interval / 2, interval]; after this every watch is
  // due at the same instant, once per interval. It reads each file once more, past its
  // timestamp tick: from then on polls only stat, as they do on files at rest.
  wait_until_files_at_rest();
  clock.advance(2 * interval);
  poll_all();
  std::vector<double> per_file_ns;
  uint64_t calls0 = fs.calls;
  for (auto _ : state) {
    clock.advance(interval);
    auto cpu0 = thread_cpu_time();
    auto wall0 = std::chrono::steady_clock::now();
    poll_all();
    auto wall = std::chrono::steady_clock::now() - wall0;
    auto cpu = thread_cpu_time() - cpu0;
    state.SetIterationTime(std::chrono::duration<double>(wall).count());
    per_file_ns.push_back(static_cast<double>(cpu.count()) / static_cast<double>(files));
  }
  per_file_counters(state, std::move(per_file_ns), files);
  return static_cast<double>(fs.calls - calls0) /
         static_cast<double>(std::max<int64_t>(state.iterations(), 1));
}

void poll_cpu(benchmark::State& state, long files, bool kubelet, unsigned rehash_every) {
  VolumePool& pool = VolumePool::get();
  pool.ensure(static_cast<std::size_t>(files));
  auto clock = std::make_shared<ManualClock>();
  auto fs = std::make_shared<CountingFilesystem>();
  auto hub = std::make_shared<Hub>(
      Seams{fs,
            std::make_unique<posix::InotifyEventSource>(), clock},
      quiet_logger());
  Options options;
  options.mode = Mode::poll;
  options.poll_interval = 1s;
  options.rehash_every = rehash_every;
  options.logger = quiet_logger();
  std::vector<std::unique_ptr<FileWatcher>> watchers;
  watchers.reserve(static_cast<std::size_t>(files));
  for (long i = 0; i < files; ++i) {
    watchers.push_back(std::make_unique<FileWatcher>(
        path_of(pool, kubelet, static_cast<std::size_t>(i)),
        [](std::string_view) { return Verdict::accept(); }, options, hub));
    watchers.back()->start();
  }
  double calls_per_poll = measure_polls(state, *hub, *fs, *clock, options.poll_interval, files);
  uint64_t reloads = 0;
  for (const auto& w : watchers) reloads += w->status().reloads;
  state.counters["reloads"] = static_cast<double>(reloads);  // 0: nothing changed
  // lstat + readlink + open calls per file per poll (opens: the every-Nth rehash).
  state.counters["fs_calls_per_file"] = calls_per_poll / static_cast<double>(files);
}

// Volumes of several keys each (a ConfigMap with 10 keys, say), every key watched by a
// FileWatcher of its own — or each volume by one VolumeWatcher — all polled: the cost per
// key per poll, and the filesystem calls it takes. Keys of a volume share its checks and
// its one resolution of ..data.
void poll_volume_keys(benchmark::State& state, long volumes, long keys, bool whole) {
  Scratch scratch("hotreload-bench-keys");
  harness::PosixTree tree;
  std::map<std::string, std::string> payload;
  for (long k = 0; k < keys; ++k)
    payload["key" + std::to_string(k) + ".yaml"] = "key " + std::to_string(k) + " content\n";
  for (long v = 0; v < volumes; ++v) {
    std::string dir = scratch.write_path() + "/v" + std::to_string(v);
    ::mkdir(dir.c_str(), 0755);
    harness::KubeletWriter kubelet(dir);
    if (auto ec = harness::apply_all(tree, kubelet.plan(tree, payload)))
      throw std::runtime_error("kubelet write in " + dir + ": " + ec.message());
  }
  note_files_written();
  auto clock = std::make_shared<ManualClock>();
  auto fs = std::make_shared<CountingFilesystem>();
  auto hub = std::make_shared<Hub>(
      Seams{fs, std::make_unique<posix::InotifyEventSource>(), clock}, quiet_logger());
  Options options;
  options.mode = Mode::poll;
  options.poll_interval = 1s;
  // The steady poll alone: attributes, no reads. Not 0: without the every-Nth full read a
  // volume's directory vouches for no link (LinkWitness), so 0 would measure another poll.
  options.rehash_every = 1'000'000;
  options.logger = quiet_logger();
  std::vector<std::unique_ptr<Watcher>> watchers;
  for (long v = 0; v < volumes; ++v) {
    std::string dir = scratch.watch_path() + "/v" + std::to_string(v);
    if (whole) {
      watchers.push_back(std::make_unique<VolumeWatcher>(
          dir, [](const Snapshot&) { return Verdict::accept(); }, options, KeySelection{}, hub));
      watchers.back()->start();
      continue;
    }
    for (const auto& [key, content] : payload) {
      watchers.push_back(std::make_unique<FileWatcher>(
          dir + "/" + key, [](std::string_view) { return Verdict::accept(); }, options, hub));
      watchers.back()->start();
    }
  }
  long all_keys = volumes * keys;
  double calls_per_poll = measure_polls(state, *hub, *fs, *clock, options.poll_interval, all_keys);
  state.counters["fs_calls_per_key"] = calls_per_poll / static_cast<double>(all_keys);
  state.counters["volumes"] = static_cast<double>(volumes);
  state.counters["kernel_watches"] = static_cast<double>(hub->kernel_watch_count());
}

// The syscalls of one poll, bare: lstat(2) of the plain file; for a kubelet volume
// lstat + readlink of "key" and "..data", lstat of the "..<timestamp>" directory and of
// the file in it (what path_walk does).
void poll_floor(benchmark::State& state, long files, bool kubelet) {
  VolumePool& pool = VolumePool::get();
  pool.ensure(static_cast<std::size_t>(files));
  std::vector<std::string> keys, datas, dirs, targets;
  for (long i = 0; i < files; ++i) {
    std::string p = path_of(pool, kubelet, static_cast<std::size_t>(i));
    keys.push_back(p);
    if (!kubelet) continue;
    std::string dir = p.substr(0, p.rfind('/'));
    datas.push_back(dir + "/..data");
    char target[256];
    ssize_t n = ::readlink(datas.back().c_str(), target, sizeof target);
    dirs.push_back(dir + "/" + std::string(target, static_cast<std::size_t>(std::max<ssize_t>(n, 0))));
    targets.push_back(dirs.back() + "/key");
  }
  std::vector<double> per_file_ns;
  char buf[256];
  struct ::stat st;
  for (auto _ : state) {
    auto cpu0 = thread_cpu_time();
    auto wall0 = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < keys.size(); ++i) {
      benchmark::DoNotOptimize(::lstat(keys[i].c_str(), &st));
      if (!kubelet) continue;
      benchmark::DoNotOptimize(::readlink(keys[i].c_str(), buf, sizeof buf));
      benchmark::DoNotOptimize(::lstat(datas[i].c_str(), &st));
      benchmark::DoNotOptimize(::readlink(datas[i].c_str(), buf, sizeof buf));
      benchmark::DoNotOptimize(::lstat(dirs[i].c_str(), &st));
      benchmark::DoNotOptimize(::lstat(targets[i].c_str(), &st));
    }
    auto wall = std::chrono::steady_clock::now() - wall0;
    auto cpu = thread_cpu_time() - cpu0;
    state.SetIterationTime(std::chrono::duration<double>(wall).count());
    per_file_ns.push_back(static_cast<double>(cpu.count()) / static_cast<double>(files));
  }
  per_file_counters(state, std::move(per_file_ns), files);
}

}  // namespace
}  // namespace hotreload::bench

int main(int argc, char** argv) {
  using namespace hotreload::bench;
  Config c = parse_args(
      &argc, argv,
      "CPU per file per poll, plain files and kubelet keys, against the floor of bare "
      "lstat/readlink calls.",
      {{"files", OwnFlag::Kind::numbers, "files polled (default 1000,10000)"},
       {"polls", OwnFlag::Kind::number, "polls measured (default 20)"},
       {"rehash-every", OwnFlag::Kind::number, "full read every Nth poll (default 10)"}});
  std::vector<long> files =
      c.numbers("files", c.smoke ? std::vector<long>{10} : std::vector<long>{1000, 10000});
  long polls = c.number("polls", c.smoke ? 2 : 20);
  auto rehash = static_cast<unsigned>(c.number("rehash-every", 10));
  for (bool kubelet : {false, true}) {
    std::string layout = kubelet ? "kubelet" : "plain";
    for (long n : files) {
      std::string suffix = "/" + layout + "/files:" + std::to_string(n);
      benchmark::RegisterBenchmark(("poll_cpu" + suffix).c_str(),
                                   [=](benchmark::State& s) { poll_cpu(s, n, kubelet, rehash); })
          ->Iterations(polls)
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond);
      benchmark::RegisterBenchmark(("poll_floor" + suffix).c_str(),
                                   [=](benchmark::State& s) { poll_floor(s, n, kubelet); })
          ->Iterations(polls)
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond);
    }
  }
  long key_volumes = c.smoke ? 2 : 1000;
  for (bool whole : {false, true}) {
    std::string name = std::string("poll_cpu/kubelet_volume/keys:10/volumes:") +
                       std::to_string(key_volumes) + (whole ? "/volume_watcher" : "/file_watchers");
    benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& s) {
      poll_volume_keys(s, key_volumes, 10, whole);
    })->Iterations(polls)->UseManualTime()->Unit(benchmark::kMicrosecond);
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

// What every hotreload benchmark shares: where to put its files, percentile counters, raw
// samples for the plot, memory gauges, and a pool of kubelet-style volumes to watch.
//
// Each benchmark binary accepts, besides Google Benchmark's own --benchmark_* flags:
//   --dir PATH          where the watched files are (default: $HOTRELOAD_BENCH_DIR or /tmp)
//   --write-dir PATH    where the writer makes its changes, when that is another view of
//                       the same tree (a FUSE mount's backing directory); default: --dir
//   --samples DIR       also write each latency sample (µs, one per line) to DIR/<name>.txt
//   --smoke             tiny sizes, so that CI can run every benchmark in seconds
// and its own flags, listed by --help (CLI11, through the tool's src/cli/command_line.h).
#pragma once

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "hotreload/clock.h"

namespace spdlog {
class logger;
}

namespace hotreload::bench {

struct Config {
  std::string dir;
  std::string write_dir;
  std::string samples_dir;
  bool smoke = false;
  // Flags a binary defines for itself: name -> value, checked by the parser.
  std::map<std::string, std::string> extra;

  long number(const std::string& name, long fallback) const;
  std::vector<long> numbers(const std::string& name, std::vector<long> fallback) const;
  std::string text(const std::string& name, const std::string& fallback) const;
};

// A flag of one benchmark binary: --name VALUE.
struct OwnFlag {
  enum class Kind { number, numbers, text };  // 12; 1,100,10000; a word
  std::string name;                          // without the dashes
  Kind kind = Kind::number;
  std::string help;                          // says the default
};

// Parses the flags above and the binary's own (--help lists them, then exits 0; a bad
// flag exits 2 with the reason), then initialises Google Benchmark with the rest.
Config parse_args(int* argc, char** argv, const std::string& description,
                  const std::vector<OwnFlag>& own_flags);
const Config& config();

// A directory made under config().write_dir, seen by the watcher under config().dir.
// Removed with everything in it when destroyed.
class Scratch {
 public:
  explicit Scratch(const std::string& prefix);
  ~Scratch();
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  const std::string& write_path() const { return write_path_; }  // for the writer
  const std::string& watch_path() const { return watch_path_; }  // for the watcher

 private:
  std::string write_path_;
  std::string watch_path_;
};

// Directories v00000, v00001… each a kubelet volume (key -> ..data/key, ..data -> ..<ts>)
// holding "key", plus a plain file "plain.conf". Built once per process, grown on demand,
// removed at exit. Nothing here changes them: they are the watchers that stay quiet.
class VolumePool {
 public:
  static VolumePool& get();
  // Makes sure at least n volumes exist.
  void ensure(std::size_t n);
  std::string key_path(std::size_t i) const;    // as the watcher sees it
  std::string plain_path(std::size_t i) const;  // as the watcher sees it
  const std::string& watch_root() const;

 private:
  VolumePool();
  std::unique_ptr<Scratch> scratch_;
  std::size_t size_ = 0;
};

// A file read within one timestamp tick of its last change is read again by every poll (a
// same-size rewrite in that tick shows nothing to stat); files at rest are only stat'ed.
// Whatever writes files notes it; a poll benchmark waits for them to be at rest.
void note_files_written();
void wait_until_files_at_rest();

// A logger that shows warnings and errors (inotify unavailable, overflow, fallback to
// polling) on stderr but not the per-reload info lines, which would flood the output.
std::shared_ptr<spdlog::logger> quiet_logger();

// Latency samples in nanoseconds -> counters p50_us, p90_us, p99_us, max_us, mean_us,
// and the raw samples to config().samples_dir/<file_name>.txt when asked for.
void report_latency(benchmark::State& state, std::vector<double> samples_ns,
                    const std::string& file_name);
double percentile(std::vector<double>& sorted, double p);  // nearest rank, p in [0, 100]

std::size_t rss_bytes();   // resident set size, from /proc/self/statm
std::size_t heap_bytes();  // bytes malloc has handed out and not taken back (mallinfo2)
std::chrono::nanoseconds thread_cpu_time();

// A clock that moves only when told to, for driving Hub::run_once() step by step.
class ManualClock final : public Clock {
 public:
  SteadyTime now() const override { return now_; }
  // Real files are stamped by the real clock.
  WallTime wall_now() const override { return std::chrono::system_clock::now(); }
  void advance(std::chrono::nanoseconds by) { now_ += by; }

 private:
  SteadyTime now_{std::chrono::hours(1)};
};

}  // namespace hotreload::bench

#include "bench_support.h"

#include <malloc.h>
#include <sys/stat.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <numeric>
#include <stdexcept>
#include <thread>

#include "command_line.h"
#include "posix_tree.h"
#include "watch.h"
#include "writers.h"

namespace hotreload::bench {

namespace {

Config g_config;

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

}  // namespace

long Config::number(const std::string& name, long fallback) const {
  auto it = extra.find(name);
  return it == extra.end() || it->second.empty() ? fallback : std::stol(it->second);
}

std::vector<long> Config::numbers(const std::string& name, std::vector<long> fallback) const {
  auto it = extra.find(name);
  if (it == extra.end() || it->second.empty()) return fallback;
  std::vector<long> out;
  std::size_t start = 0;
  while (start <= it->second.size()) {
    auto comma = it->second.find(',', start);
    if (comma == std::string::npos) comma = it->second.size();
    if (comma > start) out.push_back(std::stol(it->second.substr(start, comma - start)));
    start = comma + 1;
  }
  return out;
}

std::string Config::text(const std::string& name, const std::string& fallback) const {
  auto it = extra.find(name);
  return it == extra.end() || it->second.empty() ? fallback : it->second;
}

Config parse_args(int* argc, char** argv, const std::string& description,
                  const std::vector<OwnFlag>& own_flags) {
  using cli::CommandLine;
  Config c;
  c.dir = env_or("HOTRELOAD_BENCH_DIR", "/tmp");
  c.write_dir = env_or("HOTRELOAD_BENCH_WRITE_DIR", "");
  c.samples_dir = env_or("HOTRELOAD_BENCH_SAMPLES", "");
  CommandLine cl(std::filesystem::path(argv[0]).filename().string(), description,
                 "Google Benchmark's own flags work too: --benchmark_filter=REGEX, "
                 "--benchmark_out=FILE\n--benchmark_out_format=json, --benchmark_min_time=S.");
  CLI::App& app = cl.app();
  app.add_option("--dir", c.dir, "where watched files live (default: $HOTRELOAD_BENCH_DIR or /tmp)")
      ->type_name("DIR");
  app.add_option("--write-dir", c.write_dir,
                 "where the writer changes them, if another view of --dir (a FUSE mount's "
                 "backing directory; default: --dir)")
      ->type_name("DIR");
  app.add_option("--samples", c.samples_dir,
                 "write raw latency samples (µs, one per line) to DIR/<name>.txt")
      ->type_name("DIR");
  app.add_flag("--smoke", c.smoke, "tiny sizes: every benchmark once, in seconds (CI)");
  for (const OwnFlag& f : own_flags) {
    cli::ParseFn<std::string> check = cli::text_value;
    std::string value_name = "TEXT";
    if (f.kind != OwnFlag::Kind::text) {
      value_name = f.kind == OwnFlag::Kind::number ? "N" : "N,N,…";
      check = [list = f.kind == OwnFlag::Kind::numbers](std::string_view text) {
        std::size_t start = 0;
        do {
          std::size_t comma = list ? text.find(',', start) : std::string_view::npos;
          auto n = cli::whole_number(0, 1'000'000'000)(text.substr(start, comma - start));
          if (auto* why = std::get_if<std::string>(&n)) return cli::text_error(*why);
          start = comma == std::string_view::npos ? text.size() + 1 : comma + 1;
        } while (start <= text.size());
        return cli::text_value(text);
      };
    }
    cl.value<std::string>(
        app, "--" + f.name, [&c, name = f.name](std::string v) { c.extra[name] = std::move(v); },
        check, value_name, f.help);
  }
  // Google Benchmark answers --help with its own flags only: ours come first.
  for (int i = 1; i < *argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << cl.help();
      std::exit(0);
    }
  }
  benchmark::Initialize(argc, argv);
  auto parsed = cl.parse(*argc, argv);
  if (parsed.outcome != CommandLine::Result::Outcome::run) std::exit(cl.finish(parsed));
  if (c.write_dir.empty()) c.write_dir = c.dir;
  if (!c.samples_dir.empty()) std::filesystem::create_directories(c.samples_dir);
  g_config = c;
  return c;
}

const Config& config() { return g_config; }

Scratch::Scratch(const std::string& prefix) {
  std::string pattern = config().write_dir + "/" + prefix + "-XXXXXX";
  if (!::mkdtemp(pattern.data()))
    throw std::runtime_error("mkdtemp in " + config().write_dir + ": " +
                             std::strerror(errno));
  write_path_ = pattern;
  watch_path_ = config().dir + "/" + std::filesystem::path(pattern).filename().string();
}

Scratch::~Scratch() {
  std::error_code ec;
  std::filesystem::remove_all(write_path_, ec);
}

VolumePool& VolumePool::get() {
  static VolumePool pool;
  return pool;
}

VolumePool::VolumePool() : scratch_(std::make_unique<Scratch>("hotreload-bench-pool")) {}

namespace {
std::string volume_name(std::size_t i) {
  std::string digits = std::to_string(i);
  return "v" + std::string(digits.size() < 5 ? 5 - digits.size() : 0, '0') + digits;
}
}  // namespace

namespace {
std::chrono::steady_clock::time_point last_write;
}  // namespace

void note_files_written() { last_write = std::chrono::steady_clock::now(); }

void wait_until_files_at_rest() {
  std::this_thread::sleep_until(last_write + kTimestampTickMax + std::chrono::milliseconds(10));
}

void VolumePool::ensure(std::size_t n) {
  harness::PosixTree tree;
  for (; size_ < n; ++size_) {
    note_files_written();
    std::string dir = scratch_->write_path() + "/" + volume_name(size_);
    if (::mkdir(dir.c_str(), 0755) != 0)
      throw std::runtime_error("mkdir " + dir + ": " + std::strerror(errno));
    harness::KubeletWriter kubelet(dir);
    std::string content = "volume " + std::to_string(size_) + " initial content\n";
    if (auto ec = harness::apply_all(tree, kubelet.plan(tree, {{"key", content}})))
      throw std::runtime_error("kubelet write in " + dir + ": " + ec.message());
    if (auto ec = harness::apply_all(
            tree, {{.kind = harness::TreeOp::Kind::write_file, .path = dir + "/plain.conf",
                    .content = content}}))
      throw std::runtime_error("write in " + dir + ": " + ec.message());
  }
}

std::string VolumePool::key_path(std::size_t i) const {
  return scratch_->watch_path() + "/" + volume_name(i) + "/key";
}

std::string VolumePool::plain_path(std::size_t i) const {
  return scratch_->watch_path() + "/" + volume_name(i) + "/plain.conf";
}

const std::string& VolumePool::watch_root() const { return scratch_->watch_path(); }

std::shared_ptr<spdlog::logger> quiet_logger() {
  static const std::shared_ptr<spdlog::logger> logger = [] {
    auto l = std::make_shared<spdlog::logger>(
        "hotreload-bench", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    l->set_level(spdlog::level::warn);
    return l;
  }();
  return logger;
}

double percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

void report_latency(benchmark::State& state, std::vector<double> samples_ns,
                    const std::string& file_name) {
  if (samples_ns.empty()) return;
  if (!config().samples_dir.empty()) {
    std::ofstream out(config().samples_dir + "/" + file_name + ".txt");
    for (double s : samples_ns) out << s / 1000.0 << '\n';
  }
  std::sort(samples_ns.begin(), samples_ns.end());
  double mean = std::accumulate(samples_ns.begin(), samples_ns.end(), 0.0) /
                static_cast<double>(samples_ns.size());
  state.counters["p50_us"] = percentile(samples_ns, 50) / 1000.0;
  state.counters["p90_us"] = percentile(samples_ns, 90) / 1000.0;
  state.counters["p99_us"] = percentile(samples_ns, 99) / 1000.0;
  state.counters["max_us"] = samples_ns.back() / 1000.0;
  state.counters["mean_us"] = mean / 1000.0;
  state.counters["samples"] = static_cast<double>(samples_ns.size());
}

std::size_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

std::size_t heap_bytes() {
  struct mallinfo2 info = ::mallinfo2();
  return info.uordblks + info.hblkhd;
}

std::chrono::nanoseconds thread_cpu_time() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

}  // namespace hotreload::bench

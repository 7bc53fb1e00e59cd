// Would io_uring make a poll cheaper? CPU per file of the stat a poll makes of a file at
// rest, three ways: lstat(2), statx(2), and IORING_OP_STATX submitted through io_uring in
// batches of B (one io_uring_submit_and_wait per batch, every CQE reaped).
//
// N regular files in a fresh directory under --dir (default here /dev/shm, unless
// $HOTRELOAD_BENCH_DIR says otherwise: the kernel's path walk and inode, no disk); every
// iteration stats each of them once (null_syscall: makes one getppid(2) per file instead,
// the cost of a kernel entry alone). The figures that matter are per file:
//   cpu_ns_per_file            the process's CPU (CLOCK_PROCESS_CPUTIME_ID). io_uring runs
//                              statx in its io-wq workers ("iou-wrk-<tid>"), which since
//                              Linux 5.12 are threads of the submitting process: their CPU
//                              counts here, not in some kernel thread elsewhere.
//   wall_ns_per_file           elapsed time
//   submitter_cpu_ns_per_file  the stat'ing (submitting) thread's CPU alone
//                              (CLOCK_THREAD_CPUTIME_ID)
//   iowq_cpu_ns_per_file       the iou-wrk threads' CPU, from /proc/self/task/*/schedstat
//   rusage_cpu_ns_per_file     getrusage(RUSAGE_SELF): a second reading of the process CPU
//   iowq_threads               iou-wrk threads alive at the end
// The CPU and Time columns are the same process CPU and wall time, per iteration (N files).
//
// The kernel marks every IORING_OP_STATX "force async" (io_uring/statx.c): it is never run
// inline at submission, always handed to an io-wq worker, so IOSQE_ASYNC (async:1) should
// change nothing. Where the workers run matters: one_cpu:1 keeps them and this thread on
// one CPU (sched_setaffinity, IORING_REGISTER_IOWQ_AFF), one_cpu:0 lets the scheduler
// spread them over every CPU. readlink(2), which a poll of a kubelet key sometimes adds,
// has no io_uring opcode at all.
//
// Every result is checked (return value or CQE res, file type, size): a failure stops the
// benchmark with an error ("stat failed: …") instead of a figure. Where io_uring cannot be
// set up (a container's seccomp profile, kernel.io_uring_disabled) its benchmarks say
// "io_uring setup failed: …" and report nothing.
#include <fcntl.h>
#include <liburing.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.h"

namespace hotreload::bench {
namespace {

constexpr std::size_t file_size_bytes = 32;  // each file: one line, padded to this size

// The files every benchmark here stats: made once, removed at exit.
struct StatFiles {
  std::unique_ptr<Scratch> scratch;
  std::vector<std::string> paths;  // as read, under config().dir
};

const StatFiles& stat_files(long count) {
  static StatFiles files;
  if (files.scratch) return files;
  files.scratch = std::make_unique<Scratch>("hotreload-bench-stat");
  char name[32];
  for (long i = 0; i < count; ++i) {
    std::snprintf(name, sizeof name, "f%05ld", i);
    std::string content = "key: value of file " + std::string(name + 1);
    content.resize(file_size_bytes - 1, ' ');
    content += '\n';
    std::string write_path = files.scratch->write_path() + "/" + name;
    int fd = ::open(write_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 ||
        ::write(fd, content.data(), content.size()) != static_cast<ssize_t>(content.size()))
      throw std::runtime_error("writing " + write_path + ": " + std::strerror(errno));
    ::close(fd);
    files.paths.push_back(files.scratch->watch_path() + "/" + name);
  }
  return files;
}

std::int64_t clock_ns(clockid_t id) {
  timespec ts{};
  ::clock_gettime(id, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::int64_t rusage_cpu_ns() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto ns = [](const timeval& tv) {
    return static_cast<std::int64_t>(tv.tv_sec) * 1'000'000'000 + tv.tv_usec * 1000;
  };
  return ns(ru.ru_utime) + ns(ru.ru_stime);
}

// CPU nanoseconds of each io-wq worker thread of this process, by thread id.
std::map<std::string, std::int64_t> iowq_thread_cpu_ns() {
  std::map<std::string, std::int64_t> out;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    std::string comm;
    std::ifstream(task.path() / "comm") >> comm;
    if (comm.rfind("iou-wrk", 0) != 0) continue;
    std::int64_t on_cpu_ns = 0;
    if (std::ifstream(task.path() / "schedstat") >> on_cpu_ns)
      out[task.path().filename().string()] = on_cpu_ns;
  }
  return out;
}

// Readings taken around the timed loop; finish() turns them into the per-file counters.
class CpuMeter {
 public:
  CpuMeter()
      : iowq0_(iowq_thread_cpu_ns()),
        rusage0_(rusage_cpu_ns()),
        process0_(clock_ns(CLOCK_PROCESS_CPUTIME_ID)),
        thread0_(clock_ns(CLOCK_THREAD_CPUTIME_ID)),
        wall0_(clock_ns(CLOCK_MONOTONIC)) {}

  void finish(benchmark::State& state, std::size_t files) {
    std::int64_t wall = clock_ns(CLOCK_MONOTONIC) - wall0_;
    std::int64_t thread = clock_ns(CLOCK_THREAD_CPUTIME_ID) - thread0_;
    std::int64_t process = clock_ns(CLOCK_PROCESS_CPUTIME_ID) - process0_;
    std::int64_t rusage = rusage_cpu_ns() - rusage0_;
    auto iowq1 = iowq_thread_cpu_ns();
    std::int64_t iowq = 0;
    for (const auto& [tid, ns] : iowq1) {
      auto before = iowq0_.find(tid);
      iowq += ns - (before == iowq0_.end() ? 0 : before->second);
    }
    if (state.error_occurred() || state.iterations() == 0 || files == 0) return;
    double stats = static_cast<double>(state.iterations()) * static_cast<double>(files);
    state.counters["files"] = static_cast<double>(files);
    state.counters["cpu_ns_per_file"] = static_cast<double>(process) / stats;
    state.counters["wall_ns_per_file"] = static_cast<double>(wall) / stats;
    state.counters["submitter_cpu_ns_per_file"] = static_cast<double>(thread) / stats;
    state.counters["iowq_cpu_ns_per_file"] = static_cast<double>(iowq) / stats;
    state.counters["rusage_cpu_ns_per_file"] = static_cast<double>(rusage) / stats;
    state.counters["iowq_threads"] = static_cast<double>(iowq1.size());
  }

 private:
  std::map<std::string, std::int64_t> iowq0_;
  std::int64_t rusage0_, process0_, thread0_, wall0_;
};

// What every variant checks of every result: the file the benchmark wrote.
bool is_our_file(unsigned mode, std::uint64_t size) {
  return S_ISREG(mode) && size == file_size_bytes;
}

void stat_failed(benchmark::State& state, const std::string& call, const std::string& path,
                 int error) {
  std::string why = error ? std::strerror(error) : "not the regular file written";
  state.SkipWithError(("stat failed: " + call + " " + path + ": " + why).c_str());
}

// No stat at all: one getppid(2) per file, the price of entering and leaving the kernel
// on this machine, which batching saves and the path walk does not.
void null_syscall(benchmark::State& state, long count) {
  const auto& paths = stat_files(count).paths;
  CpuMeter meter;
  for (auto _ : state) {
    for (std::size_t i = 0; i < paths.size(); ++i) benchmark::DoNotOptimize(::syscall(SYS_getppid));
  }
  meter.finish(state, paths.size());
}

void plain_lstat(benchmark::State& state, long count) {
  const auto& paths = stat_files(count).paths;
  struct ::stat st {};
  CpuMeter meter;
  for (auto _ : state) {
    for (const std::string& p : paths) {
      st.st_mode = 0;
      if (::lstat(p.c_str(), &st) != 0 ||
          !is_our_file(st.st_mode, static_cast<std::uint64_t>(st.st_size))) {
        stat_failed(state, "lstat", p, st.st_mode ? 0 : errno);
        break;
      }
    }
    if (state.error_occurred()) break;
  }
  meter.finish(state, paths.size());
}

void plain_statx(benchmark::State& state, long count) {
  const auto& paths = stat_files(count).paths;
  struct ::statx stx {};
  CpuMeter meter;
  for (auto _ : state) {
    for (const std::string& p : paths) {
      stx.stx_mode = 0;
      if (::statx(AT_FDCWD, p.c_str(), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) != 0 ||
          !is_our_file(stx.stx_mode, stx.stx_size)) {
        stat_failed(state, "statx", p, stx.stx_mode ? 0 : errno);
        break;
      }
    }
    if (state.error_occurred()) break;
  }
  meter.finish(state, paths.size());
}

// A ring of `entries` submission slots, set up once per run of a benchmark.
class Ring {
 public:
  explicit Ring(unsigned entries) : error_(-io_uring_queue_init(entries, &ring_, 0)) {}
  ~Ring() {
    if (error_ == 0) io_uring_queue_exit(&ring_);
  }
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;
  int error() const { return error_; }  // errno of the setup, 0 when it worked
  io_uring* get() { return &ring_; }

 private:
  io_uring ring_{};
  int error_;
};

// Stats paths[first, first + count) with one submit-and-wait; returns the error message of
// the first failure, empty when every CQE said success.
std::string statx_batch(io_uring* ring, const std::vector<std::string>& paths, std::size_t first,
                        std::size_t count, unsigned sqe_flags, std::vector<struct ::statx>& out,
                        std::vector<io_uring_cqe*>& cqes) {
  for (std::size_t i = 0; i < count; ++i) {
    io_uring_sqe* sqe = io_uring_get_sqe(ring);
    if (!sqe) return "io_uring: no free submission slot";
    out[i].stx_mode = 0;
    io_uring_prep_statx(sqe, AT_FDCWD, paths[first + i].c_str(), AT_SYMLINK_NOFOLLOW,
                        STATX_BASIC_STATS, &out[i]);
    io_uring_sqe_set_flags(sqe, sqe_flags);
    io_uring_sqe_set_data64(sqe, i);
  }
  int submitted = io_uring_submit_and_wait(ring, static_cast<unsigned>(count));
  if (submitted < 0) return std::string("io_uring_submit_and_wait: ") + std::strerror(-submitted);
  if (static_cast<std::size_t>(submitted) != count)
    return "io_uring_submit_and_wait submitted " + std::to_string(submitted) + " of " +
           std::to_string(count);
  std::string error;
  for (std::size_t reaped = 0; reaped < count;) {
    unsigned got =
        io_uring_peek_batch_cqe(ring, cqes.data(), static_cast<unsigned>(count - reaped));
    if (got == 0) {  // the wait returned early (a signal): wait for the rest
      int r = io_uring_wait_cqe(ring, cqes.data());
      if (r < 0) return std::string("io_uring_wait_cqe: ") + std::strerror(-r);
      continue;
    }
    for (unsigned c = 0; c < got && error.empty(); ++c) {
      std::uint64_t i = io_uring_cqe_get_data64(cqes[c]);
      if (i >= count) {
        error = "io_uring: a CQE for no submitted SQE";
      } else if (cqes[c]->res < 0) {
        error = "IORING_OP_STATX " + paths[first + i] + ": " + std::strerror(-cqes[c]->res);
      } else if (!is_our_file(out[i].stx_mode, out[i].stx_size)) {
        error = "IORING_OP_STATX " + paths[first + i] + ": not the regular file written";
      }
    }
    io_uring_cq_advance(ring, got);
    reaped += got;
  }
  return error;
}

// Keeps this thread and its io-wq workers on the CPU it runs on; returns an errno, 0 when
// it worked.
int stay_on_one_cpu(io_uring* ring) {
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(::sched_getcpu(), &one);
  if (::sched_setaffinity(0, sizeof one, &one) != 0) return errno;
  return -io_uring_register_iowq_aff(ring, sizeof one, &one);
}

void uring_statx_run(benchmark::State& state, const std::vector<std::string>& paths, unsigned batch,
                     bool async, bool one_cpu) {
  Ring ring(batch);
  if (ring.error()) {
    state.SkipWithError(("io_uring setup failed: io_uring_queue_init(" + std::to_string(batch) +
                         "): " + std::strerror(ring.error()))
                            .c_str());
    return;
  }
  if (int error = one_cpu ? stay_on_one_cpu(ring.get()) : 0) {
    state.SkipWithError(
        ("io_uring setup failed: one CPU for the workers: " + std::string(std::strerror(error)))
            .c_str());
    return;
  }
  std::vector<struct ::statx> out(batch);
  std::vector<io_uring_cqe*> cqes(batch);
  unsigned sqe_flags = async ? IOSQE_ASYNC : 0;
  CpuMeter meter;
  for (auto _ : state) {
    for (std::size_t first = 0; first < paths.size(); first += batch) {
      std::size_t n = std::min<std::size_t>(batch, paths.size() - first);
      std::string error = statx_batch(ring.get(), paths, first, n, sqe_flags, out, cqes);
      if (!error.empty()) {
        state.SkipWithError(("stat failed: " + error).c_str());
        break;
      }
    }
    if (state.error_occurred()) break;
  }
  meter.finish(state, paths.size());
}

// io_uring gives each submitting thread an io-wq of its own (its workers, their CPU mask),
// kept until the thread ends: each run submits from a new thread, so that it starts with
// no workers, whatever ran before it.
void uring_statx(benchmark::State& state, long count, unsigned batch, bool async, bool one_cpu) {
  const auto& paths = stat_files(count).paths;
  std::thread([&] { uring_statx_run(state, paths, batch, async, one_cpu); }).join();
}

}  // namespace
}  // namespace hotreload::bench

int main(int argc, char** argv) {
  using namespace hotreload::bench;
  ::setenv("HOTRELOAD_BENCH_DIR", "/dev/shm", 0);  // this binary's default --dir
  Config c = parse_args(
      &argc, argv,
      "CPU per file of stat'ing files at rest: lstat, statx, and io_uring's IORING_OP_STATX "
      "in batches (the process's CPU, io_uring's io-wq workers included). --dir defaults "
      "to /dev/shm here.",
      {{"files", OwnFlag::Kind::number, "files stat'ed per iteration (default 10000)"},
       {"batches", OwnFlag::Kind::numbers, "io_uring batch sizes (default 64,256,1024)"}});
  long files = c.number("files", c.smoke ? 50 : 10000);
  std::vector<long> batches =
      c.numbers("batches", c.smoke ? std::vector<long>{16, 64} : std::vector<long>{64, 256, 1024});
  std::string suffix = "/files:" + std::to_string(files);
  auto cpu_per_file = [](benchmark::internal::Benchmark* b) {
    b->MeasureProcessCPUTime()->UseRealTime()->Unit(benchmark::kMicrosecond);
  };
  cpu_per_file(benchmark::RegisterBenchmark(("stat/null_syscall" + suffix).c_str(),
                                            [=](benchmark::State& s) { null_syscall(s, files); }));
  cpu_per_file(benchmark::RegisterBenchmark(("stat/lstat" + suffix).c_str(),
                                            [=](benchmark::State& s) { plain_lstat(s, files); }));
  cpu_per_file(benchmark::RegisterBenchmark(("stat/statx" + suffix).c_str(),
                                            [=](benchmark::State& s) { plain_statx(s, files); }));
  for (bool one_cpu : {false, true}) {
    for (bool async : {false, true}) {
      for (long batch : batches) {
        if (batch < 1) continue;
        std::string name = "stat/io_uring_statx/batch:" + std::to_string(batch) +
                           "/async:" + (async ? "1" : "0") + "/one_cpu:" + (one_cpu ? "1" : "0") +
                           suffix;
        auto b = static_cast<unsigned>(batch);
        cpu_per_file(benchmark::RegisterBenchmark(
            name.c_str(), [=](benchmark::State& s) { uring_statx(s, files, b, async, one_cpu); }));
      }
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

// The read path of a reload: consistent_read (open, fstat, read to EOF, fstat) and the
// SHA-256 of the content, against file size, so that the cost of one reload is known.
// read_path/read+sha256 is what a changed file costs; read and sha256 alone split it.
#include <fcntl.h>
#include <unistd.h>

#include <random>

#include "bench_support.h"
#include "consistent_read.h"
#include "hotreload/digest.h"
#include "posix/posix_seams.h"

namespace hotreload::bench {
namespace {

enum class Part { read, sha256, both };

void read_path(benchmark::State& state, std::size_t bytes, Part part) {
  Scratch scratch("hotreload-bench-read");
  std::string content(bytes, '\0');
  std::mt19937_64 rng(7);
  for (char& ch : content) ch = static_cast<char>('a' + rng() % 26);
  std::string write_path = scratch.write_path() + "/file";
  {
    int fd = ::open(write_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    bool ok = fd >= 0 && ::write(fd, content.data(), content.size()) ==
                             static_cast<ssize_t>(content.size());
    if (fd >= 0) ::close(fd);
    if (!ok) {
      state.SkipWithError("cannot write the test file");
      return;
    }
  }
  std::string path = scratch.watch_path() + "/file";
  posix::PosixFilesystem fs;
  auto st = fs.lstat(path);
  if (!st) {
    state.SkipWithError(("lstat: " + st.error().message()).c_str());
    return;
  }
  const std::size_t size_max = 16u << 20;
  for (auto _ : state) {
    if (part == Part::sha256) {
      benchmark::DoNotOptimize(Digest::of(content));
      continue;
    }
    auto read = consistent_read(fs, path, *st, size_max);
    if (!read) {
      state.SkipWithError(("consistent_read: " + read.error().message()).c_str());
      break;
    }
    if (part == Part::both) benchmark::DoNotOptimize(Digest::of(read->bytes));
    benchmark::DoNotOptimize(read->bytes.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(bytes));
  state.counters["bytes"] = static_cast<double>(bytes);
}

}  // namespace
}  // namespace hotreload::bench

int main(int argc, char** argv) {
  using namespace hotreload::bench;
  Config c = parse_args(
      &argc, argv, "The read path: consistent read and SHA-256, from 1 KiB up to --max-bytes.",
      {{"max-bytes", OwnFlag::Kind::number, "largest file (default 16777216)"}});
  const long max_bytes = c.number("max-bytes", c.smoke ? 64 << 10 : 16 << 20);
  const std::pair<const char*, Part> parts[] = {
      {"read+sha256", Part::both}, {"read", Part::read}, {"sha256", Part::sha256}};
  for (const auto& [label, part] : parts) {
    for (long bytes = 1024; bytes <= max_bytes; bytes *= 4) {
      std::string name = std::string("read_path/") + label + "/bytes:" + std::to_string(bytes);
      benchmark::RegisterBenchmark(name.c_str(),
                                   [bytes, part = part](benchmark::State& s) {
                                     read_path(s, static_cast<std::size_t>(bytes), part);
                                   })
          ->Unit(benchmark::kMicrosecond);
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

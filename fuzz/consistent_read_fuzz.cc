// Fuzzes consistent_read() against the harness's SimFilesystem. The fuzzer's bytes choose
// the file's layout (plain file or kubelet volume), its content, the timestamp granularity,
// the size limit, and the faults: errors on open/fstat/read (EACCES, EIO, ESTALE…), short
// reads, a stale attribute cache, and one change made while the read is under way
// (rewrite in place, same-size rewrite, editor save, kubelet republish, truncate-and-
// append, chmod, unlink).
//
// What must hold, whatever the bytes:
// - success means: no more than size_max bytes; the stat is the expected inode's, and its
//   size is the number of bytes returned; and the bytes are one version of the file the
//   walk found, never a mix of two — whenever the attributes could tell the versions apart
//   (different size, or a timestamp that moved; no stale attribute cache);
// - with no fault and no change, a file within the limit is read exactly, and one over it
//   is refused with EFBIG;
// - a failure is one of: an injected errno, Errc::unstable, EFBIG.
#include <fuzzer/FuzzedDataProvider.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>

#include "consistent_read.h"
#include "hotreload/errors.h"
#include "path_walk.h"
#include "sim_clock.h"
#include "sim_filesystem.h"
#include "writers.h"

namespace {

using namespace hotreload;
using namespace hotreload::harness;
using namespace std::chrono_literals;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz_consistent_read: invariant broken: %s\n", what.c_str());
  std::abort();
}

constexpr std::array kErrnos{EACCES, EIO, ESTALE, ELOOP, ENOENT, EINTR, ENOMEM, EBADF};
constexpr std::array kGranularities{1ns, std::chrono::nanoseconds(1ms),
                                    std::chrono::nanoseconds(1s), std::chrono::nanoseconds(2s)};

enum class Change : uint8_t {
  none, rewrite, rewrite_same_size, editor_save, republish, truncate_append, chmod, unlink,
  kLast = unlink,
};

bool same_inode_change(Change c) {
  return c == Change::rewrite || c == Change::rewrite_same_size || c == Change::truncate_append;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  auto clock = std::make_shared<SimClock>();
  SimFilesystem fs(clock);
  auto granularity = in.PickValueInArray(kGranularities);
  fs.set_timestamp_granularity(granularity);

  // The layout: a plain file, or a kubelet volume (/cfg/key -> ..data/key -> ..<ts>/key).
  const bool kubelet = in.ConsumeBool();
  const std::string path = "/cfg/key";
  const std::string first = in.ConsumeRandomLengthString(512);
  std::string second = in.ConsumeRandomLengthString(512);
  if (fs.apply({.kind = TreeOp::Kind::make_dir, .path = "/cfg", .mode = 0755}))
    fail("mkdir /cfg");
  KubeletWriter kubelet_writer("/cfg");
  std::error_code setup =
      kubelet ? apply_all(fs, kubelet_writer.plan(fs, {{"key", first}}))
              : fs.apply({.kind = TreeOp::Kind::write_file, .path = path, .content = first});
  if (setup) fail("setting up the tree: " + setup.message());
  const int64_t written_ns = clock->wall_ns();

  PathWalk walk = walk_path(fs, path);
  if (walk.error) fail("the walk of a healthy tree failed: " + walk.error.message());
  if (fs.peek(walk.file).content != first) fail("the walk found the wrong file");

  // Faults.
  std::set<std::error_code> injected;
  bool stale_cache = false;
  const int faults = in.ConsumeIntegralInRange(0, 3);
  for (int i = 0; i < faults; ++i) {
    switch (in.ConsumeIntegralInRange(0, 2)) {
      case 0: {
        auto call = static_cast<FsCall>(in.ConsumeIntegralInRange(0, 5));
        std::error_code ec = errno_code(in.PickValueInArray(kErrnos));
        int times = in.ConsumeIntegralInRange(-1, 3);
        fs.inject_error(call, ec, in.ConsumeBool() ? "" : walk.file, times);
        if (times != 0) injected.insert(ec);
        break;
      }
      case 1: fs.set_short_reads(in.ConsumeIntegralInRange<std::size_t>(0, 7)); break;
      case 2:
        fs.set_attribute_cache(std::chrono::milliseconds(in.ConsumeIntegralInRange(1, 5000)));
        stale_cache = true;
        break;
    }
  }

  // One change while the read is under way, after time has moved (or not).
  auto change = static_cast<Change>(
      in.ConsumeIntegralInRange<int>(0, static_cast<int>(Change::kLast)));
  if (change == Change::rewrite_same_size) second.resize(first.size(), 'x');
  const auto advance = std::chrono::nanoseconds(in.ConsumeIntegralInRange<int64_t>(0, 3'000'000'000));
  std::string after_change = first;  // what the opened inode holds once the change is made
  if (same_inode_change(change)) after_change = second;
  if (change == Change::truncate_append) after_change = second.substr(0, second.size() / 2);
  if (change != Change::none) {
    fs.on_next_read([&, change] {
      clock->advance(advance);
      std::error_code ec;
      switch (change) {
        case Change::none: break;
        case Change::rewrite:
        case Change::rewrite_same_size:
          ec = fs.apply({.kind = TreeOp::Kind::write_file, .path = walk.file, .content = second});
          break;
        case Change::editor_save: ec = apply_all(fs, plan_editor_save(walk.file, second)); break;
        case Change::republish:
          ec = apply_all(fs, kubelet_writer.plan(fs, {{"key", second}}));
          break;
        case Change::truncate_append:
          ec = fs.apply({.kind = TreeOp::Kind::open_trunc, .path = walk.file});
          if (!ec)
            ec = fs.apply({.kind = TreeOp::Kind::append, .path = walk.file,
                           .content = after_change});
          break;
        case Change::chmod:
          ec = fs.apply({.kind = TreeOp::Kind::chmod, .path = walk.file, .mode = 0});
          break;
        case Change::unlink: ec = fs.apply({.kind = TreeOp::Kind::remove, .path = walk.file}); break;
      }
      if (ec) fail("a mid-read change failed: " + ec.message());
    });
  }

  const std::size_t size_max = in.ConsumeBool()
                                   ? std::size_t{16} << 20
                                   : in.ConsumeIntegralInRange<std::size_t>(0, 600);
  auto read = consistent_read(fs, walk.file, walk.signature.file, size_max);

  const bool clean = injected.empty() && change == Change::none;
  if (!read) {
    std::error_code ec = read.error();
    bool expected = injected.count(ec) || ec == Errc::unstable ||
                    ec == std::errc::file_too_large;
    if (!expected) fail("unexpected error " + ec.message());
    if (clean && first.size() <= size_max)
      fail("a healthy file within the limit was refused: " + ec.message());
    if (clean && first.size() > size_max && ec != std::errc::file_too_large)
      fail("a file over the limit was refused with " + ec.message() + ", not EFBIG");
    return 0;
  }

  const FileContent& got = *read;
  if (got.bytes.size() > size_max) fail("more than size_max bytes accepted");
  if (got.stat.dev != walk.signature.file.dev || got.stat.ino != walk.signature.file.ino)
    fail("the content is not the walked inode's");
  if (got.stat.size != got.bytes.size()) fail("the stat's size is not the bytes' size");
  if (clean && got.bytes != first) fail("a healthy file was read wrong");
  if (first.size() > size_max && got.bytes == first) fail("a file over the limit was accepted");

  // A change that leaves the opened inode alone (rename over it, unlink, chmod) never
  // changes what is read from it.
  if (!same_inode_change(change) && got.bytes != first)
    fail("the opened file's content changed though only its name or mode did");
  // Never a mix of two versions, when the attributes could tell them apart.
  auto tick = [&](int64_t ns) { return ns - ns % granularity.count(); };
  bool detectable = !stale_cache && (first.size() != after_change.size() ||
                                     tick(written_ns) != tick(written_ns + advance.count()));
  if (detectable && got.bytes != first && got.bytes != after_change)
    fail("a mix of two versions was accepted (" + std::to_string(got.bytes.size()) + " bytes)");
  return 0;
}

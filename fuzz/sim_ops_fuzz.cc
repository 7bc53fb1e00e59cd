// The coverage-guided counterpart of the RapidCheck campaign: the fuzzer's bytes are read
// as a world configuration and a list of SimCommands (writers, faults, virtual time), which
// run in the harness's SimWorld — SimFilesystem + SimEvents + SimClock, a Hub driven by
// run_once() in virtual time, and a FileWatcher on a kubelet volume. Unlike the seeded
// campaign, whose runs each target one degradation row, any fault may follow any other.
//
// SimWorld checks DESIGN.md's invariants after every command (the active content was
// accepted by the callback and its hash is its SHA-256; no mix of versions; no rollback;
// the callback never runs twice at once; nothing escaped as internal_error), and the last
// command is always a quiesce: faults stop, time passes, and the active content must equal
// the file on disk whenever that is readable and valid. A violation aborts with the run's
// trace, so `fuzz_sim_ops crash-<sha1>` replays it exactly.
#include <fuzzer/FuzzedDataProvider.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <vector>

#include "scheduler.h"
#include "sim_command.h"
#include "sim_world.h"

namespace {

using namespace hotreload;
using namespace hotreload::harness;
using K = SimCommand::Kind;

constexpr std::size_t kCommandsMax = 48;
// The kinds up to quiesce: those after it need a world with a hung volume, which the
// fuzzer's configurations do not make (and a regression seed must keep its meaning).
constexpr int kKindCount = static_cast<int>(K::quiesce) + 1;

constexpr std::array kRunHubMs{0, 0, 5, 30, 300, 1500, 12000};
constexpr std::array kFsErrnos{EACCES, EIO, ESTALE, ELOOP, ENOENT};
constexpr std::array kWatchErrnos{ENOSPC, EMFILE};
constexpr std::array kGranularityNs{int64_t{1}, int64_t{1}, int64_t{1'000'000'000},
                                    int64_t{2'000'000'000}};

WorldConfig read_config(FuzzedDataProvider& in) {
  WorldConfig c;
  c.seed = in.ConsumeIntegral<uint8_t>();
  c.granularity = std::chrono::nanoseconds(in.PickValueInArray(kGranularityNs));
  c.silent_volume = in.ConsumeIntegralInRange(0, 7) == 0;
  if (in.ConsumeIntegralInRange(0, 7) == 0) c.watch_limit_errno = in.PickValueInArray(kWatchErrnos);
  if (in.ConsumeIntegralInRange(0, 3) == 0)
    c.initial = static_cast<InitialState>(in.ConsumeIntegralInRange(0, kInitialStateCount - 1));
  c.layout = in.ConsumeBool() ? Layout::plain : Layout::kubelet;
  c.watch_volume = in.ConsumeBool();
  c.ancestors_unwatchable = in.ConsumeIntegralInRange(0, 2) == 0;
  return c;
}

// Each command takes a few bytes: its kind, then what that kind needs.
SimCommand read_command(FuzzedDataProvider& in, int& version) {
  SimCommand c;
  c.kind = static_cast<K>(in.ConsumeIntegralInRange(0, kKindCount - 1));
  // Mostly the next version; now and then an older one comes back.
  c.version = in.ConsumeIntegralInRange(0, 7) == 0 && version > 2
                  ? in.ConsumeIntegralInRange(2, version - 1)
                  : ++version;
  switch (c.kind) {
    case K::in_place_write: c.arg = in.ConsumeIntegralInRange(1, 4); break;
    case K::publish:
    case K::publish_bad_key: c.arg = in.ConsumeIntegralInRange(0, 3); break;
    case K::fs_error:
      c.arg = in.ConsumeIntegralInRange(1, 50);
      c.call = static_cast<FsCall>(in.ConsumeIntegralInRange(0, 4));
      c.error = in.PickValueInArray(kFsErrnos);
      break;
    case K::stale_attributes: c.arg = in.ConsumeIntegralInRange(1, 3000); break;
    case K::lose_events: c.arg = in.ConsumeIntegralInRange(1, 20); break;
    case K::duplicate_events: c.arg = in.ConsumeIntegralInRange(1, 1000); break;
    case K::delay_events: c.arg = in.ConsumeIntegralInRange(1, 2000); break;
    case K::overflow_queue: c.arg = in.ConsumeIntegralInRange(1, 4); break;
    case K::watch_limit: c.error = in.PickValueInArray(kWatchErrnos); break;
    case K::run_hub: c.arg = in.PickValueInArray(kRunHubMs); break;
    default: break;
  }
  // Sparse interleaving: the hub now and then runs between two writer ops.
  c.interleave = in.ConsumeIntegral<uint8_t>() & in.ConsumeIntegral<uint8_t>();
  return c;
}

[[noreturn]] void report(const WorldConfig& config, const std::vector<SimCommand>& commands,
                         const SimWorld& world, const std::string& invariant,
                         const std::string& detail) {
  std::fprintf(stderr, "fuzz_sim_ops: invariant '%s' broken: %s\n", invariant.c_str(),
               detail.c_str());
  std::fprintf(stderr, "config: %s\ncommands:\n", describe(config).c_str());
  for (const SimCommand& c : commands) std::fprintf(stderr, "  %s\n", to_string(c).c_str());
  // The fewest commands that still break the same invariant: what a regression test needs.
  std::vector<SimCommand> shortest = shrink(config, commands, invariant);
  std::fprintf(stderr, "shrunk to %zu commands:\n", shortest.size());
  for (const SimCommand& c : shortest) std::fprintf(stderr, "  %s\n", to_string(c).c_str());
  std::fprintf(stderr, "trace:\n");
  for (const std::string& line : world.trace()) std::fprintf(stderr, "%s\n", line.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  WorldConfig config = read_config(in);
  std::vector<SimCommand> commands;
  int version = 1;
  while (in.remaining_bytes() > 0 && commands.size() + 1 < kCommandsMax)
    commands.push_back(read_command(in, version));
  commands.push_back({.kind = K::quiesce});

  try {
    SimWorld world(config);
    world.keep_trace(true);
    if (auto v = world.start()) report(config, {}, world, v->invariant, v->detail);
    for (std::size_t i = 0; i < commands.size(); ++i) {
      if (auto v = world.step(commands[i])) {
        commands.resize(i + 1);
        report(config, commands, world, v->invariant, v->detail);
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_sim_ops: an exception escaped: %s\n", e.what());
    std::abort();
  }
  return 0;
}

// RealCampaign: the simulation's writers on a real directory, with the real hub thread and
// real inotify, to check that what the simulation proves holds on a kernel too.
//
// Scenarios:
//   inotify      a temp dir under the given one: events (auto picks them), safety poll.
//   bindfs       a FUSE mount (bindfs) of a directory that the writers change underneath:
//                no events arrive, and `auto` must choose polling on its own. Needs root,
//                /dev/fuse and bindfs; unmounted whatever happens.
//   unreadable   chmod 000 and back, seen by a non-root process (root reads anything):
//                runs only when not root; the CLI re-runs itself as nobody via setpriv.
// Safety invariants are checked in every callback; after each writer action, the watcher
// must converge within a bound derived from the configured intervals.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace hotreload::harness {

struct RealCampaignOptions {
  std::string dir;  // where scenario directories are created (and removed)
  uint64_t seed = 1;
  int rounds = 12;  // writer actions per scenario
  std::chrono::milliseconds poll_interval{100};
  std::chrono::milliseconds safety_interval{1000};
  std::vector<std::string> only;  // scenario names to run; empty: all
};

struct RealScenario {
  std::string name;
  bool ran = false;
  bool held = true;
  std::string note;  // why it did not run, or what failed
  uint64_t actions = 0;
  uint64_t checks_passed = 0;
  uint64_t callbacks = 0;
  double slowest_convergence_ms = 0;
};

struct RealCampaignReport {
  std::vector<RealScenario> scenarios;
  bool all_held() const;
};

using RealLog = std::function<void(const std::string& line)>;

RealCampaignReport run_real_campaign(const RealCampaignOptions& options, const RealLog& log);

}  // namespace hotreload::harness

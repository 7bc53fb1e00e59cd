// RealCampaign: the simulation's writers on a real directory, with the real hub thread and
// real inotify, to check that what the simulation proves holds on a kernel too.
//
// Scenarios, one per kind of volume:
//   inotify      a temp dir under the given one, on whatever filesystem that is.
//   tmpfs, ext4  a tmpfs, and an ext4 on a loop device, mounted under the given dir (root).
//   bindfs       a FUSE mount (bindfs) of a directory that the writers change underneath:
//                no events arrive, and `auto` must choose polling on its own (root, FUSE).
//   nfs_like     the same over harness/nfs_like_fs.cc, which caches attributes as an NFS
//                client does (actimeo): stat may say nothing has changed for a while.
//   unreadable   a temp dir seen by a non-root process (root reads anything), so that
//                permission flips make the file unreadable; the CLI re-runs itself as
//                nobody via setpriv for it.
// Every scenario runs the mixed writer: kubelet publishes (valid and corrupt), editor
// saves, in-place rewrites, a key leaving and coming back, the volume directory removed
// and recreated, permission flips, a symlink loop and oversized files. Safety invariants
// are checked in every callback; after each action, the watcher must converge (or report
// the error the action caused) within a bound derived from the configured intervals.
// Mounts are made and removed by the scenario, whatever happens.
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
  int rounds = 1000;  // writer actions per scenario
  std::chrono::milliseconds poll_interval{20};
  std::chrono::milliseconds safety_interval{1000};
  std::vector<std::string> only;  // scenario names to run; empty: all
  std::string nfs_like;           // the nfs_like daemon; empty: looked up on PATH
  std::chrono::milliseconds nfs_attr_timeout{1000};  // its attribute cache (NFS: actimeo)
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
  std::string slowest_action;  // the writer action that took it
  double p99_convergence_ms = 0;
  double seconds = 0;  // wall time of the whole scenario
};

// The scenario names run_real_campaign knows, in the order it runs them.
const std::vector<std::string>& real_scenario_names();

struct RealCampaignReport {
  std::vector<RealScenario> scenarios;
  bool all_held() const;
};

using RealLog = std::function<void(const std::string& line)>;

RealCampaignReport run_real_campaign(const RealCampaignOptions& options, const RealLog& log);

}  // namespace hotreload::harness

// `hotreload harness`: the deterministic fault-injection campaign, as a CI resilience suite.
//
//   hotreload harness [--seed N] [--ops N] [--runs N] [--time-budget DURATION]
//                     [--row NAME] [--real DIR] [--replay SEED]
//
// Prints the seed first, a progress display (plain lines when stdout is not a terminal),
// then the degradation table: each row, whether it held, how many faults of its kind were
// injected and how many checks passed. Exit 0 only if every row held; on a violation it
// prints the seed, the shrunk command sequence and the command that replays it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "command_line.h"

namespace hotreload::cli {

struct HarnessFlags {
  uint64_t seed = 0;
  bool seed_given = false;
  uint64_t ops = 100000;
  uint64_t runs = 0;
  std::chrono::milliseconds time_budget{std::chrono::minutes(5)};
  std::optional<int> row;  // a harness::Row
  std::string real_dir;
  std::optional<uint64_t> replay;
  std::vector<std::string> real_only;  // scenarios named by --real-only: each must run
  uint64_t real_actions = 1000;
  std::string nfs_like;  // the nfs_like daemon for that scenario; empty: on PATH
};

// Declares the harness's flags on app, parsed into f (which must outlive the parse).
void declare_harness_options(CommandLine& cl, CLI::App& app, HarnessFlags& f);

int harness_command(const HarnessFlags& given);

}  // namespace hotreload::cli

// Scheduler: seeded runs of the simulation, and their shrinking.
//
// A run is wholly decided by its seed: the seed picks the degradation row it targets
// (by its slot, seed % 32), the world's configuration (mtime granularity, initial
// state…) and the command list, which interleaves writers' ops, faults and virtual time
// for the hub.
// Same seed, same trace, byte for byte. A failing list is shrunk by dropping commands
// while the same invariant still fails, so the report shows only what matters.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "degradation_rows.h"
#include "sim_command.h"
#include "sim_world.h"

namespace hotreload::harness {

struct RunPlan {
  uint64_t seed = 0;
  Row row = Row::file_deleted;
  WorldConfig config;
  std::vector<SimCommand> commands;
};

struct RunOutcome {
  std::optional<Violation> violation;
  std::size_t commands_run = 0;
  uint64_t ops = 0;
  std::size_t accepted = 0;  // contents the callback accepted, the initial one included
  std::map<Row, RowTally> tally;
  std::vector<std::string> trace;
};

// How a run of row sets its world up (draw: a random number).
Layout layout_for(Row row, uint64_t draw);
bool watches_volume(Row row, uint64_t draw);
bool ancestors_unwatchable_for(Row row, uint64_t draw);

// The row a run seed targets.
Row row_of_seed(uint64_t seed);
// The seed of the run_index-th run of a campaign, chosen so that it targets row.
uint64_t run_seed(uint64_t campaign_seed, uint64_t run_index, Row row);

// Draws a run: its configuration and `commands` commands (the last one a quiesce).
RunPlan plan_run(uint64_t seed, std::size_t commands);

// Runs commands in a fresh world; stops at the first violation.
RunOutcome execute(const WorldConfig& config, const std::vector<SimCommand>& commands,
                   bool keep_trace);

// Drops commands (halves, quarters… then one at a time) while still_holds(outcome) stays
// true; at most `executions_max` re-runs. The result is 1-minimal when the budget allows.
std::vector<SimCommand> shrink_while(const WorldConfig& config, std::vector<SimCommand> commands,
                                     const std::function<bool(const RunOutcome&)>& still_holds,
                                     int executions_max = 400);
// Shrinks a failing run while the same invariant still fails.
std::vector<SimCommand> shrink(const WorldConfig& config, std::vector<SimCommand> commands,
                               const std::string& invariant, int executions_max = 400);

std::string describe(const WorldConfig& config);

}  // namespace hotreload::harness

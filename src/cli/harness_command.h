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

namespace hotreload::cli {

// argv[0] is "harness".
int harness_command(int argc, char** argv);

}  // namespace hotreload::cli

// Starting helper programs (mount helpers, setpriv) with an argument vector through
// posix_spawn, never through a shell command line built from data: a path with a quote,
// a space or a "$(...)" in it stays one argument and never runs anything.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace hotreload::harness {

// Where PATH finds an executable file name (name itself when it has a '/'), if anywhere.
std::optional<std::string> find_program(const std::string& name);

// Runs argv (argv[0] found in PATH), with stdout and stderr sent to /dev/null when quiet,
// and waits for it: its exit status, 128 + the signal that killed it, or -1 when it could
// not be started.
int run_program(const std::vector<std::string>& argv, bool quiet);

}  // namespace hotreload::harness

// `hotreload watch`: watch files, validate each change, act on accepted ones, until
// SIGTERM or SIGINT. Returns the process exit code (exit_codes.h).
#pragma once

#include <string>
#include <vector>

namespace hotreload::cli {

int watch_command(const std::vector<std::string>& args);

}  // namespace hotreload::cli

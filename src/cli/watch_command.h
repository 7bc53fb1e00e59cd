// `hotreload watch`: watch files, validate each change, act on accepted ones, until
// SIGTERM or SIGINT. Returns the process exit code (exit_codes.h).
#pragma once

#include "watch_options.h"

namespace hotreload::cli {

int watch_command(WatchConfig config);

}  // namespace hotreload::cli

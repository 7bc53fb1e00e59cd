// ProcessLookup: the process --process-name names, found in /proc before each signal (in a
// pod with a shared process namespace, the sidecar sees the service's processes, whose
// ids change when the service restarts).
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "duration.h"

namespace hotreload::cli {

// The one process called name: its command name (/proc/PID/comm, 15 bytes at most) or the
// last component of its argv[0] is name. A process whose parent is called name too is left
// out — nginx's workers, say, beside their master — and so are PID 1 (the pause container
// or init), this process, zombies and kernel threads. Otherwise says why there is none:
// no process is called name, or several are (with their ids and command lines).
Parsed<pid_t> find_process_by_name(std::string_view name, const std::string& proc = "/proc");

}  // namespace hotreload::cli

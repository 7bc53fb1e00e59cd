// hotreload: the command-line tool. Dispatches to the subcommands.
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "exit_codes.h"
#include "probe_command.h"
#include "watch_command.h"
#ifdef HOTRELOAD_HAS_HARNESS_COMMAND
#include "harness_command.h"
#endif

namespace {

constexpr std::string_view kUsage = R"(Usage: hotreload COMMAND [options]

Keeps a process's configuration in step with a file — above all a Kubernetes ConfigMap
key — without restarts, and never lets a bad or vanished file through.

Commands:
  watch PATH...   watch files; validate each change (--format, --validate-cmd); on an
                  accepted change run --exec, send --signal, POST --webhook; serve
                  Prometheus /metrics; log text or JSON lines
  probe PATH      measure a volume: filesystem, inotify events, subPath mounts, stat
                  cost, mtime granularity; recommend a mode and interval
  harness         the deterministic fault-injection campaign (resilience suite)
  help            this text; `hotreload COMMAND --help` explains each command

Exit codes: 0 ok or clean stop (SIGTERM/SIGINT), 1 internal error, 2 bad command line,
3 a file could not be loaded or probed, 4 --metrics-listen could not bind.
)";

}  // namespace

int main(int argc, char** argv) {
  using namespace hotreload::cli;
  if (argc < 2) {
    std::cerr << kUsage;
    return kExitUsage;
  }
  std::string_view command = argv[1];
  std::vector<std::string> rest(argv + 2, argv + argc);
  try {
    if (command == "watch") return watch_command(rest);
    if (command == "probe") return probe_command(rest);
    if (command == "harness") {
#ifdef HOTRELOAD_HAS_HARNESS_COMMAND
      return harness_command(argc - 1, argv + 1);
#else
      std::cerr << "hotreload harness: not built in this version (the fault-injection "
                   "campaign is not part of this build)\n";
      return kExitUsage;
#endif
    }
    if (command == "help" || command == "-h" || command == "--help") {
      std::cout << kUsage;
      return kExitOk;
    }
    if (command == "--version" || command == "version") {
      std::cout << "hotreload 0.1.0\n";
      return kExitOk;
    }
  } catch (const std::exception& e) {
    std::cerr << "hotreload " << command << ": internal error: " << e.what() << "\n";
    return kExitInternal;
  }
  std::cerr << "hotreload: unknown command \"" << command << "\"\n\n" << kUsage;
  return kExitUsage;
}

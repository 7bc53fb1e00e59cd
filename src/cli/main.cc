// hotreload: the command-line tool. One CLI11 command line with a subcommand per job.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "command_line.h"
#include "exit_codes.h"
#include "probe_command.h"
#include "version.h"
#include "watch_command.h"
#include "watch_options.h"
#ifdef HOTRELOAD_HAS_HARNESS_COMMAND
#include "harness_command.h"
#endif

namespace {

constexpr const char* kDescription =
    "Keeps a process's configuration in step with files — above all a Kubernetes ConfigMap "
    "volume, whose keys change together — without restarts, and never lets a bad or vanished "
    "file through.";

constexpr const char* kFooter =
    R"(`hotreload COMMAND --help` (or `hotreload help COMMAND`) explains each command.

Exit codes: 0 ok or clean stop (SIGTERM/SIGINT…), 1 internal error, 2 bad command line,
3 a file or directory could not be loaded or probed, 4 --metrics-listen could not bind.)";

int run(int argc, char** argv) {
  using namespace hotreload::cli;
  // Freed before `watch` runs: the parser keeps two copies of every path it was given.
  auto cl = std::make_unique<CommandLine>("hotreload", kDescription, kFooter);
  cl->app().set_version_flag("--version", kVersionText, "print the version and exit");
  cl->app().require_subcommand(1);

  WatchConfig watch;
  declare_watch_options(*cl, cl->command("watch", ""), watch);
  ProbeArgs probe;
  declare_probe_options(*cl, cl->command("probe", ""), probe);
#ifdef HOTRELOAD_HAS_HARNESS_COMMAND
  HarnessFlags harness;
  declare_harness_options(*cl, cl->command("harness", ""), harness);
#endif
  std::string topic;
  CLI::App& help = cl->command("help", "this text; `hotreload help COMMAND` explains COMMAND");
  help.add_option("COMMAND", topic, "the command to explain");
  CLI::App& version = cl->command("version", "print the version and exit");
  version.group("");  // same as --version; not listed

  auto result = cl->parse(argc, argv);
  if (result.outcome != CommandLine::Result::Outcome::run) return cl->finish(result, kExitUsage);
  const std::string command = result.command->get_name();
  if (command == "watch") {
    WatchConfig config = std::move(watch);
    cl.reset();
    return watch_command(std::move(config));
  }
  if (command == "probe") return probe_command(probe);
#ifdef HOTRELOAD_HAS_HARNESS_COMMAND
  if (command == "harness") return harness_command(harness);
#endif
  if (command == "version") {
    std::cout << kVersionText << "\n";
    return kExitOk;
  }
  // help [COMMAND]
  const CLI::App* about = &cl->app();
  if (!topic.empty()) {
    auto named = cl->app().get_subcommands(
        [&topic](const CLI::App* c) { return c->get_name() == topic && !c->get_group().empty(); });
    if (named.empty()) {
      std::cerr << "hotreload help: unknown command \"" << topic << "\"\n\n" << cl->help();
      return kExitUsage;
    }
    about = named.front();
  }
  std::cout << cl->help(about);
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "hotreload: internal error: " << e.what() << "\n";
  } catch (...) {
    std::cerr << "hotreload: internal error\n";
  }
  return hotreload::cli::kExitInternal;
}

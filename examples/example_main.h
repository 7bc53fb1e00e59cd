// What the example programs share: run a Reloadable until SIGINT/SIGTERM, printing each
// accepted config; or, with --check, load once and exit (0 valid, 3 refused) — the same
// program then serves as a --validate-cmd for `hotreload watch`.
#pragma once

#include <signal.h>

#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>

#include "command_line.h"
#include "hotreload/reloadable.h"

namespace examples {

template <class T>
int run_example(int argc, char** argv, std::string_view what,
                std::function<T(std::string_view)> parse,
                std::function<void(std::ostream&, const T&)> print) {
  std::string file;
  bool check = false;
  hotreload::cli::CommandLine command_line(
      std::filesystem::path(argv[0]).filename().string(),
      std::string(what) + ": prints FILE's config, then again after every accepted change, "
                          "until SIGINT or SIGTERM; an invalid edit is refused and the last "
                          "good config stays.",
      "Exit codes: 0 valid (--check) or stopped, 2 bad command line, 3 FILE refused.");
  command_line.app().add_flag("--check", check,
                              "load FILE once and exit: 0 valid, 3 refused (with the reason); "
                              "usable as `hotreload watch --validate-cmd`");
  command_line.app().add_option("FILE", file, "the config file")->required();
  auto parsed = command_line.parse(argc, argv);
  if (parsed.outcome != hotreload::cli::CommandLine::Result::Outcome::run)
    return command_line.finish(parsed);
  if (check) {
    // The file on disk, validated by the very parse a running service would use.
    try {
      hotreload::Reloadable<T> once(file, parse);
      once.start();
      print(std::cout, *once.get());
      return 0;
    } catch (const std::exception& e) {
      std::cerr << e.what() << "\n";
      return 3;
    }
  }

  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  std::cout << std::unitbuf;
  hotreload::Reloadable<T> config(file, parse, {}, nullptr,
                                  [&](const std::shared_ptr<const T>& now) {
                                    std::cout << "reloaded " << file << ":\n";
                                    print(std::cout, *now);
                                  });
  try {
    config.start();
  } catch (const hotreload::StartError& e) {
    std::cerr << e.what() << "\n";
    return 3;
  }
  std::cout << "loaded " << file << ":\n";
  print(std::cout, *config.get());
  std::cout << "watching; edit the file (an invalid edit is refused, the last good one "
               "stays); Ctrl-C to stop\n";
  int signo = 0;
  sigwait(&stop, &signo);
  return 0;
}

}  // namespace examples

// The main job through the library alone (ci/demo runs it through the CLI, with
// examples/cli_demo.sh): a kubelet-style ConfigMap volume in a temporary
// directory, a writer that publishes updates the way the kubelet does (including a bad
// one, a removed key and a removed volume), and a FileWatcher printing every decision.
//
//   build/release/examples/kubelet_demo [updates]
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "command_line.h"
#include "hotreload/file_watcher.h"
#include "hotreload/hub.h"
#include "posix_tree.h"
#include "writers.h"

using namespace std::chrono_literals;

int main(int argc, char** argv) {
  int updates = 8;
  hotreload::cli::CommandLine command_line(
      "kubelet_demo",
      "The main job through the library alone: a kubelet-style ConfigMap volume in a "
      "temporary directory, a writer publishing updates the kubelet's way (one invalid, a "
      "removed key), and a FileWatcher printing every decision.");
  command_line.app()
      .add_option("UPDATES", updates, "how many updates to publish")
      ->check(CLI::Range(1, 1000))
      ->default_str("8");
  auto parsed = command_line.parse(argc, argv);
  if (parsed.outcome != hotreload::cli::CommandLine::Result::Outcome::run)
    return command_line.finish(parsed);
  std::cout << std::unitbuf;  // interleave with the log lines in order
  hotreload::Options options;
  options.logger = std::make_shared<spdlog::logger>(
      "hotreload", std::make_shared<spdlog::sinks::stdout_sink_mt>());
  options.logger->set_pattern("  log: %v");
  char pattern[] = "/tmp/hotreload-demo-XXXXXX";
  std::string volume = ::mkdtemp(pattern);
  hotreload::harness::PosixTree tree;
  hotreload::harness::KubeletWriter kubelet(volume);
  auto publish = [&](const std::map<std::string, std::string>& payload) {
    if (auto ec = apply_all(tree, kubelet.plan(tree, payload)))
      std::cerr << "writer: " << ec.message() << "\n";
  };
  auto config = [](int n) { return "replicas: " + std::to_string(n) + "\nlog_level: info\n"; };

  publish({{"app.yaml", config(1)}});
  std::cout << "volume " << volume << ": app.yaml -> ..data/app.yaml, ..data -> "
            << *tree.read_link(volume + "/..data") << "\n";

  // Accepts "replicas: N" with N > 0; anything else is refused and the last good stays.
  hotreload::FileWatcher watcher(volume + "/app.yaml", [](std::string_view content) {
    auto at = content.find("replicas: ");
    if (at == std::string_view::npos) return hotreload::Verdict::reject("no replicas line");
    int n = std::atoi(std::string(content.substr(at + 10)).c_str());
    if (n <= 0) return hotreload::Verdict::reject("replicas must be positive");
    std::cout << "  callback: applying replicas=" << n << "\n";
    return hotreload::Verdict::accept();
  }, options);
  watcher.start();

  for (int i = 2; i < updates + 2; ++i) {
    std::this_thread::sleep_for(300ms);
    if (i == 4) {
      std::cout << "writer: publishing replicas: 0 (invalid)\n";
      publish({{"app.yaml", config(0)}});
    } else if (i == 6) {
      std::cout << "writer: removing the key from the ConfigMap\n";
      publish({{"other.yaml", "x: 1\n"}});
    } else {
      std::cout << "writer: publishing replicas: " << i << "\n";
      publish({{"app.yaml", config(i)}});
    }
  }
  std::this_thread::sleep_for(300ms);
  hotreload::Status s = watcher.status();
  std::cout << "final: hash=" << s.hash->short_hex() << " reloads=" << s.reloads
            << " errors=" << s.errors << " mode=" << hotreload::to_string(s.mode) << "\n";
  watcher.stop();
  std::filesystem::remove_all(volume);
  return 0;
}

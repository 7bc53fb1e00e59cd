// A program as a user of the installed library writes it: it watches a file, changes the
// file the way an editor or the kubelet does (write elsewhere, rename over), and succeeds
// only if the watcher reports the new content (exit 0, "reloaded: v2"); exit 1 otherwise.
#include <hotreload/file_watcher.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <string>

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  const fs::path dir = argc > 1 ? fs::path(argv[1]) : fs::temp_directory_path();
  const fs::path file = dir / "consumer.conf";
  auto write = [&](const std::string& text) {
    std::ofstream(dir / "consumer.conf.tmp") << text;
    fs::rename(dir / "consumer.conf.tmp", file);
  };
  write("v1");

  std::mutex mu;
  std::condition_variable changed;
  std::string seen;
  hotreload::FileWatcher watcher(file.string(), [&](std::string_view content) {
    std::lock_guard lock(mu);
    seen = content;
    changed.notify_all();
    return hotreload::Verdict::accept();
  });
  watcher.start();  // the initial load: "v1"
  std::cout << "loaded: " << seen << std::endl;

  write("v2");
  std::unique_lock lock(mu);
  if (!changed.wait_for(lock, std::chrono::seconds(10), [&] { return seen == "v2"; })) {
    std::cerr << "no reload within 10 s (still \"" << seen << "\")\n";
    return 1;
  }
  std::cout << "reloaded: " << seen << std::endl;
  return 0;
}

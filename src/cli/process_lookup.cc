#include "process_lookup.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <vector>

namespace hotreload::cli {

namespace {

struct ProcessEntry {
  pid_t parent = 0;
  std::string command_line;  // argv joined by spaces, for the error
};

std::string file_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// /proc/PID/stat: "PID (comm) S PPID ...", where comm may hold spaces and ')'.
std::optional<std::pair<char, pid_t>> state_and_parent(const std::string& stat) {
  auto close = stat.rfind(')');
  if (close == std::string::npos || close + 4 >= stat.size()) return std::nullopt;
  char state = stat[close + 2];
  const char* begin = stat.data() + close + 4;
  pid_t parent = 0;
  auto [end, ec] = std::from_chars(begin, stat.data() + stat.size(), parent);
  if (ec != std::errc()) return std::nullopt;
  return std::pair{state, parent};
}

// Whether the process in dir is called name; its entry when it is.
std::optional<ProcessEntry> called(const std::string& dir, std::string_view name) {
  std::string comm = file_text(dir + "/comm");
  if (!comm.empty() && comm.back() == '\n') comm.pop_back();
  std::string cmdline = file_text(dir + "/cmdline");
  if (cmdline.empty()) return std::nullopt;  // a kernel thread, or gone
  std::string argv0 = cmdline.substr(0, cmdline.find('\0'));
  std::string base = argv0.substr(argv0.rfind('/') + 1);
  if (comm != name && base != name) return std::nullopt;
  auto stat = state_and_parent(file_text(dir + "/stat"));
  if (!stat || stat->first == 'Z' || stat->first == 'X') return std::nullopt;
  std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
  while (!cmdline.empty() && cmdline.back() == ' ') cmdline.pop_back();
  return ProcessEntry{stat->second, cmdline};
}

}  // namespace

Parsed<pid_t> find_process_by_name(std::string_view name, const std::string& proc) {
  std::map<pid_t, ProcessEntry> found;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(proc, ec)) {
    const std::string id = entry.path().filename().string();
    pid_t pid = 0;
    auto [end, bad] = std::from_chars(id.data(), id.data() + id.size(), pid);
    if (bad != std::errc() || end != id.data() + id.size()) continue;
    if (pid == 1 || pid == ::getpid()) continue;
    if (auto process = called(entry.path().string(), name)) found.emplace(pid, *process);
  }
  if (ec) return "cannot list " + proc + ": " + ec.message();
  std::vector<pid_t> roots;
  for (const auto& [pid, process] : found)
    if (!found.contains(process.parent)) roots.push_back(pid);
  const std::string quoted = "\"" + std::string(name) + "\"";
  if (roots.empty())
    return "no process is called " + quoted +
           " (in a pod, the containers must share their process namespace: "
           "shareProcessNamespace: true)";
  if (roots.size() > 1) {
    std::string list;
    for (pid_t pid : roots)
      list += (list.empty() ? "" : ", ") + std::to_string(pid) + " (" + found[pid].command_line + ")";
    return std::to_string(roots.size()) + " processes are called " + quoted + ": " + list +
           "; give --pid-file instead";
  }
  return roots.front();
}

}  // namespace hotreload::cli

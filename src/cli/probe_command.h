// `hotreload probe PATH`: how far a volume can be trusted, measured rather than assumed.
//
// It reports the filesystem type (statfs), whether inotify events arrive here for a
// create, a rename and a remove of a temporary file (cleaned up after), whether this
// kind of volume is known to miss changes made elsewhere, single-file bind mounts (a
// Kubernetes subPath, which never updates), the median cost of a stat, the mtime
// granularity observed, and the mode and interval `hotreload watch` should use.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "command_line.h"
#include "mountinfo.h"

namespace hotreload::cli {

struct InotifyProbe {
  bool tested = false;
  std::string not_tested_reason;  // e.g. "cannot create a file here: Read-only file system"
  bool create = false;            // IN_CREATE for the temporary file
  bool close_write = false;       // IN_CLOSE_WRITE after writing it
  bool rename = false;            // IN_MOVED_FROM + IN_MOVED_TO
  bool remove = false;            // IN_DELETE
  std::chrono::microseconds first_event_latency{0};
  bool all() const { return tested && create && close_write && rename && remove; }
};

struct ProbeReport {
  std::string path;  // as given
  std::string dir;   // the directory probed
  uint64_t fs_magic = 0;
  std::string fs_type;
  bool misses_remote_changes = false;
  InotifyProbe inotify;
  std::vector<std::pair<std::string, MountEntry>> single_file_mounts;
  std::string stat_target;
  std::chrono::nanoseconds stat_median{0};
  int stat_samples = 0;
  std::optional<std::chrono::nanoseconds> mtime_step;  // smallest mtime change seen
  std::string mtime_note;
  std::string recommended_mode;  // events or poll
  std::chrono::milliseconds recommended_interval{0};
  std::string recommendation_reason;
};

// Fails (nullopt, with why) only if PATH cannot be looked at at all.
std::optional<ProbeReport> run_probe(const std::string& path, std::string& why);

std::string render_probe_table(const ProbeReport& report);
nlohmann::ordered_json probe_to_json(const ProbeReport& report);

struct ProbeArgs {
  bool json = false;
  std::vector<std::string> paths;  // exactly one, checked by the command line
};

// Declares probe's flags on app, parsed into args (which must outlive the parse).
void declare_probe_options(CommandLine& cl, CLI::App& app, ProbeArgs& args);

int probe_command(const ProbeArgs& args);

}  // namespace hotreload::cli

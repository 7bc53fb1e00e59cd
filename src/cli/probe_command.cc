#include "probe_command.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <random>
#include <sstream>

#include "duration.h"
#include "exit_codes.h"
#include "path_walk.h"
#include "volume_kind.h"

namespace hotreload::cli {

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kStatSamples = 1001;
constexpr auto kEventPatience = 1s;       // events on a local volume arrive in microseconds
constexpr auto kMtimeObservation = 1100ms;  // long enough to see a 1 s timestamp tick
constexpr int kMtimeStepsWanted = 4;
constexpr std::size_t kEntriesChecked = 256;

std::string errno_text(int e) { return std::strerror(e); }

std::string temp_name() {
  std::random_device rd;
  return ".hotreload-probe-" + std::to_string(::getpid()) + "-" + std::to_string(rd() % 1000000);
}

int64_t mtime_ns(const struct ::stat& st) {
  return int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

// Rewrites the file in a tight loop and records how mtime moves: the smallest step is
// the timestamp granularity this volume gives (a kernel tick on most local filesystems,
// a second or two on coarse ones).
void observe_mtime(int fd, ProbeReport& r) {
  std::vector<int64_t> seen;
  auto until = Clock::now() + kMtimeObservation;
  struct ::stat st;
  while (Clock::now() < until && int(seen.size()) <= kMtimeStepsWanted) {
    if (::pwrite(fd, "x", 1, 0) != 1 || ::fstat(fd, &st) != 0) {
      r.mtime_note = "could not rewrite the temporary file: " + errno_text(errno);
      return;
    }
    if (seen.empty() || seen.back() != mtime_ns(st)) seen.push_back(mtime_ns(st));
  }
  if (seen.size() < 2) {
    r.mtime_note = "mtime did not change for " + format_duration(std::chrono::duration_cast<std::chrono::milliseconds>(kMtimeObservation)) +
                   " of rewrites: coarser than that, or not updated (same-size rewrites "
                   "are invisible to stat; poll mode's periodic rehash catches them)";
    return;
  }
  int64_t step = INT64_MAX;
  for (std::size_t i = 1; i < seen.size(); ++i) step = std::min(step, seen[i] - seen[i - 1]);
  r.mtime_step = std::chrono::nanoseconds(step);
  bool whole_seconds = std::all_of(seen.begin(), seen.end(), [](int64_t t) { return t % 1'000'000'000 == 0; });
  r.mtime_note = whole_seconds ? "timestamps in whole seconds" : "sub-second timestamps";
}

void drain_events(int fd, const std::string& name, const std::string& moved, InotifyProbe& p,
                  Clock::time_point started) {
  alignas(inotify_event) char buffer[8192];
  auto until = Clock::now() + kEventPatience;
  bool any = false;
  while (!(p.create && p.close_write && p.rename && p.remove)) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
    if (left.count() <= 0) break;
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, int(left.count()) + 1) <= 0) continue;
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) continue;
    if (!any) {
      p.first_event_latency =
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started);
      any = true;
    }
    for (char* at = buffer; at < buffer + n;) {
      auto* ev = reinterpret_cast<inotify_event*>(at);
      std::string ev_name = ev->len ? ev->name : "";
      if ((ev->mask & IN_CREATE) && ev_name == name) p.create = true;
      if ((ev->mask & IN_CLOSE_WRITE) && ev_name == name) p.close_write = true;
      if ((ev->mask & IN_MOVED_TO) && ev_name == moved) p.rename = true;
      if ((ev->mask & IN_DELETE) && ev_name == moved) p.remove = true;
      at += sizeof(inotify_event) + ev->len;
    }
  }
}

// Creates, writes, renames and removes a temporary file in dir with an inotify watch on
// it, and measures mtime granularity on the way. The file is always removed.
void probe_changes(ProbeReport& r) {
  InotifyProbe& p = r.inotify;
  int in = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (in < 0) {
    p.not_tested_reason = "inotify_init1 failed: " + errno_text(errno);
    return;
  }
  if (::inotify_add_watch(in, r.dir.c_str(),
                          IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE) < 0) {
    p.not_tested_reason = "inotify_add_watch failed: " + errno_text(errno);
    ::close(in);
    return;
  }
  const std::string name = temp_name(), moved = name + ".renamed";
  const std::string file = join_path(r.dir, name), moved_file = join_path(r.dir, moved);
  auto started = Clock::now();
  int fd = ::open(file.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) {
    p.not_tested_reason = "cannot create a file here: " + errno_text(errno);
    r.mtime_note = "not measured: " + p.not_tested_reason;
    ::close(in);
    return;
  }
  p.tested = true;
  observe_mtime(fd, r);
  ::close(fd);
  bool renamed = ::rename(file.c_str(), moved_file.c_str()) == 0;
  ::unlink(renamed ? moved_file.c_str() : file.c_str());
  drain_events(in, name, moved, p, started);
  ::close(in);
}

void find_single_file_mounts(ProbeReport& r, bool path_is_dir) {
  std::vector<std::string> candidates;
  if (!path_is_dir) {
    candidates.push_back(r.path);
  } else if (DIR* d = ::opendir(r.dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      if (candidates.size() >= kEntriesChecked) break;
      std::string n = e->d_name;
      if (n != "." && n != "..") candidates.push_back(join_path(r.dir, n));
    }
    ::closedir(d);
    std::sort(candidates.begin(), candidates.end());
  }
  for (const auto& c : candidates)
    if (auto m = find_single_file_mount(c)) r.single_file_mounts.emplace_back(c, *m);
}

void measure_stat(ProbeReport& r) {
  std::vector<int64_t> samples;
  samples.reserve(kStatSamples);
  struct ::stat st;
  for (int i = 0; i < kStatSamples; ++i) {
    auto t0 = Clock::now();
    int rc = ::stat(r.stat_target.c_str(), &st);
    auto t1 = Clock::now();
    if (rc != 0) break;
    samples.push_back((t1 - t0).count());
  }
  r.stat_samples = int(samples.size());
  if (samples.empty()) return;
  std::nth_element(samples.begin(), samples.begin() + samples.size() / 2, samples.end());
  r.stat_median = std::chrono::nanoseconds(samples[samples.size() / 2]);
}

void recommend(ProbeReport& r) {
  // A poll stats every link on the path (3 for a ConfigMap key): keep it well under 1%
  // of one core even on a slow network filesystem.
  auto poll_interval = r.stat_median > 1ms ? 5000ms : 1000ms;
  if (r.misses_remote_changes) {
    r.recommended_mode = "poll";
    r.recommended_interval = poll_interval;
    r.recommendation_reason = r.fs_type + " volumes do not report changes made elsewhere";
  } else if (r.inotify.tested && !r.inotify.all()) {
    r.recommended_mode = "poll";
    r.recommended_interval = poll_interval;
    r.recommendation_reason = "inotify missed some of the test changes made here";
  } else {
    r.recommended_mode = "events";
    r.recommended_interval = 10000ms;  // the safety poll
    r.recommendation_reason =
        r.inotify.tested ? "inotify reported every test change; keep the 10s safety poll"
                         : "a local kind of volume (events not tested: " +
                               r.inotify.not_tested_reason + ")";
  }
  if (!r.single_file_mounts.empty())
    r.recommendation_reason += "; but single-file bind mounts here will never update";
}

std::string yes_no(bool b) { return b ? "yes" : "NO"; }

std::string micros(std::chrono::nanoseconds d) {
  std::ostringstream out;
  out.precision(d < 10us ? 2 : 1);
  out << std::fixed << std::chrono::duration<double, std::micro>(d).count() << " us";
  return out.str();
}

std::string hex(uint64_t v) {
  std::ostringstream out;
  out << "0x" << std::hex << v;
  return out.str();
}

}  // namespace

std::optional<ProbeReport> run_probe(const std::string& path, std::string& why) {
  ProbeReport r;
  r.path = absolute_normal(path);
  struct ::stat st;
  // The path as given: "f/" is ENOTDIR for a file, though its normal form is "f".
  if (::stat(path.c_str(), &st) != 0) {
    why = "cannot probe " + path + ": " + errno_text(errno);
    return std::nullopt;
  }
  bool is_dir = S_ISDIR(st.st_mode);
  r.dir = is_dir ? r.path : parent_of(r.path);
  struct ::statfs fs;
  if (::statfs(r.dir.c_str(), &fs) != 0) {
    why = "cannot statfs " + r.dir + ": " + errno_text(errno);
    return std::nullopt;
  }
  r.fs_magic = static_cast<uint64_t>(fs.f_type);
  VolumeKind kind = classify_volume(r.fs_magic);
  r.fs_type = std::string(kind.name);
  r.misses_remote_changes = kind.misses_remote_changes;
  find_single_file_mounts(r, is_dir);
  probe_changes(r);
  r.stat_target = r.path;
  measure_stat(r);
  recommend(r);
  return r;
}

std::string render_probe_table(const ProbeReport& r) {
  std::ostringstream out;
  auto row = [&](const std::string& k, const std::string& v) {
    out << "  " << k << std::string(k.size() < 28 ? 28 - k.size() : 1, ' ') << v << "\n";
  };
  out << "hotreload probe " << r.path << "\n";
  row("directory", r.dir);
  row("filesystem", r.fs_type + " (statfs f_type " + hex(r.fs_magic) + ")");
  row("misses remote changes", r.misses_remote_changes
                                   ? "YES: changes made elsewhere raise no events here"
                                   : "no (local kind of volume)");
  if (r.inotify.tested) {
    const auto& p = r.inotify;
    row("inotify: create", yes_no(p.create));
    row("inotify: close after write", yes_no(p.close_write));
    row("inotify: rename", yes_no(p.rename));
    row("inotify: remove", yes_no(p.remove));
    if (p.create || p.close_write || p.rename || p.remove)
      row("inotify: first event after", micros(p.first_event_latency));
  } else {
    row("inotify", "not tested: " + r.inotify.not_tested_reason);
  }
  if (r.single_file_mounts.empty()) {
    row("single-file bind mounts", "none");
  } else {
    for (const auto& [p, m] : r.single_file_mounts) row("single-file bind mount", p);
  }
  row("stat cost (median)", r.stat_samples ? micros(r.stat_median) + " over " +
                                                 std::to_string(r.stat_samples) + " calls"
                                           : "not measured");
  row("mtime granularity", r.mtime_step ? micros(*r.mtime_step) + " (" + r.mtime_note + ")"
                                        : r.mtime_note);
  row("recommended", "--mode " + r.recommended_mode + " " +
                         (r.recommended_mode == "poll" ? "--poll-interval " : "--safety-interval ") +
                         format_duration(r.recommended_interval));
  row("why", r.recommendation_reason);
  for (const auto& [p, m] : r.single_file_mounts)
    out << "\n" << single_file_mount_warning(p, m) << "\n";
  return out.str();
}

nlohmann::ordered_json probe_to_json(const ProbeReport& r) {
  nlohmann::ordered_json j;
  j["path"] = r.path;
  j["directory"] = r.dir;
  j["filesystem"] = r.fs_type;
  j["statfs_magic"] = hex(r.fs_magic);
  j["misses_remote_changes"] = r.misses_remote_changes;
  j["inotify"] = {{"tested", r.inotify.tested},
                  {"not_tested_reason", r.inotify.not_tested_reason},
                  {"create", r.inotify.create},
                  {"close_write", r.inotify.close_write},
                  {"rename", r.inotify.rename},
                  {"remove", r.inotify.remove},
                  {"all", r.inotify.all()},
                  {"first_event_latency_us", r.inotify.first_event_latency.count()}};
  nlohmann::json mounts = nlohmann::json::array();
  for (const auto& [p, m] : r.single_file_mounts)
    mounts.push_back({{"path", p}, {"fs_type", m.fs_type}, {"source", m.source}, {"root", m.root}});
  j["single_file_mounts"] = mounts;
  j["stat_median_ns"] = r.stat_median.count();
  j["stat_samples"] = r.stat_samples;
  j["mtime_step_ns"] = r.mtime_step ? nlohmann::json(r.mtime_step->count()) : nlohmann::json();
  j["mtime_note"] = r.mtime_note;
  j["recommended_mode"] = r.recommended_mode;
  j["recommended_interval_ms"] = r.recommended_interval.count();
  j["recommendation_reason"] = r.recommendation_reason;
  return j;
}

void declare_probe_options(CommandLine& cl, CLI::App& app, ProbeArgs& args) {
  app.description(
      "Measures a volume before you trust it with `hotreload watch`: filesystem, inotify "
      "events, subPath mounts, stat cost, mtime granularity; recommends a mode and "
      "interval.\n\n"
      "PATH is a directory (e.g. a ConfigMap mount) or a file in one. Reports:\n"
      "  - the filesystem type (statfs) and whether that kind misses changes made elsewhere "
      "(NFS, SMB, FUSE, Ceph, 9p…: only polling sees them);\n"
      "  - whether inotify events arrive for a create, write, rename and remove of a temporary "
      "file made in the directory (removed afterwards; skipped on a read-only volume);\n"
      "  - single-file bind mounts (a Kubernetes subPath): such a file NEVER gets updates;\n"
      "  - the median cost of a stat, the mtime granularity observed;\n"
      "  - the mode and interval to give `hotreload watch`.");
  app.footer("Exit codes: 0 report printed, 2 bad command line, 3 PATH cannot be probed.");
  app.add_flag("--json", args.json, "one JSON object instead of the table, for scripts");
  app.add_option("PATH", args.paths, "the directory or file to probe")->expected(0, 1);
  cl.rule(app, [&args]() -> std::optional<std::string> {
    if (args.paths.size() == 1 && args.paths.front().empty())
      return "PATH is empty: give a directory or a file, e.g. hotreload probe /etc/app";
    if (args.paths.size() == 1) return std::nullopt;
    return "expected exactly one PATH (a directory or a file), got " +
           std::to_string(args.paths.size());
  });
}

int probe_command(const ProbeArgs& args) {
  std::string why;
  auto report = run_probe(args.paths.at(0), why);
  if (!report) {
    std::cerr << "hotreload probe: " << why << "\n";
    return kExitLoadFailed;
  }
  if (args.json) std::cout << probe_to_json(*report).dump(2) << "\n";
  else std::cout << render_probe_table(*report);
  return kExitOk;
}

}  // namespace hotreload::cli

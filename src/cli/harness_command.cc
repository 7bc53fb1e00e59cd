#include "harness_command.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <cstdio>
#include <iostream>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "campaign.h"
#include "duration.h"
#include "exit_codes.h"
#include "real_campaign.h"
#include "scheduler.h"
#include "spawn_program.h"

namespace hotreload::cli {

namespace {

using namespace hotreload::harness;

// "--ops wants a non-negative integer, not \"banana\"".
ParseFn<uint64_t> count_for(const std::string& flag) {
  return [flag](std::string_view text) -> Parsed<uint64_t> {
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size())
      return flag + " wants a non-negative integer, not \"" + std::string(text) + "\"";
    return value;
  };
}

std::vector<std::string> split_names(std::string_view list) {
  std::vector<std::string> names;
  for (std::size_t at = 0; at <= list.size();) {
    std::size_t comma = std::min(list.find(',', at), list.size());
    names.emplace_back(list.substr(at, comma - at));
    at = comma + 1;
  }
  return names;
}

Parsed<std::string> scenario_list(std::string_view text) {
  for (const std::string& name : split_names(text)) {
    const auto& known = real_scenario_names();
    if (std::find(known.begin(), known.end(), name) != known.end()) continue;
    std::string why = "--real-only: unknown volume \"" + name + "\"; volumes are:";
    for (const std::string& k : known) why += " " + k;
    return text_error(why);
  }
  return text_value(text);
}

Parsed<int> row_named(std::string_view text) {
  if (auto row = row_from_name(text)) return static_cast<int>(*row);
  std::string why = "unknown row \"" + std::string(text) + "\"; rows are:";
  for (Row r : kAllRows) why += " " + std::string(row_name(r));
  return why;
}

}  // namespace

void declare_harness_options(CommandLine& cl, CLI::App& app, HarnessFlags& f) {
  app.description(
      "The deterministic fault-injection campaign (resilience suite).\n\n"
      "Runs the real watcher code over a simulated filesystem, event source and clock, with "
      "faults from every row of the degradation table, in virtual time. Every run replays "
      "exactly from its seed.");
  app.footer("Exit: 0 every row held; 1 a row was violated; 2 bad command line.");
  cl.value<uint64_t>(
        app, "--seed", [&f](uint64_t n) {
          f.seed = n;
          f.seed_given = true;
        },
        count_for("--seed"), "N", "campaign seed (default: random, printed first)");
  cl.value(app, "--ops", f.ops, count_for("--ops"), "N", "stop after N simulated ops",
           std::to_string(f.ops));
  cl.value(app, "--runs", f.runs, count_for("--runs"), "N",
           "stop after N runs (default: no limit)");
  cl.value(app, "--time-budget", f.time_budget, parse_duration, "DURATION",
           "stop after this much wall time, e.g. 90s, 2m", format_duration(f.time_budget));
  cl.value<int>(
        app, "--row", [&f](int r) { f.row = r; }, row_named, "NAME",
        "only this degradation row (see the table for names)");
  cl.value<std::string>(
        app, "--real", [&f](std::string d) { f.real_dir = std::move(d); },
        text_value, "DIR",
        "then run the mixed writer on real volumes under DIR: DIR's own filesystem (not as "
        "root), tmpfs, ext4 on a loop device, bindfs and nfs_like over FUSE (as root), and "
        "unreadable files (as nobody); one summary line per volume");
  cl.value(app, "--real-actions", f.real_actions, count_for("--real-actions"), "N",
           "writer actions per real volume", std::to_string(f.real_actions));
  cl.value<std::string>(
        app, "--real-only", [&f](const std::string& list) { f.real_only = split_names(list); },
        scenario_list, "LIST",
        "only these real volumes, comma-separated; each must run, or the harness fails");
  cl.value<std::string>(
        app, "--nfs-like", [&f](std::string p) { f.nfs_like = std::move(p); }, text_value,
        "PATH", "the nfs_like FUSE daemon (built in the build tree's harness/; default: PATH)");
  cl.value<uint64_t>(
        app, "--replay", [&f](uint64_t n) { f.replay = n; }, count_for("--replay"), "SEED",
        "run one seed again, printing its full trace");
}

namespace {

std::string pad(std::string s, std::size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

void print_table(const CampaignReport& report) {
  std::cout << "\n" << pad("row", 20) << pad("status", 10) << pad("runs", 8)
            << pad("faults injected", 17) << "checks passed\n";
  for (const auto& [row, v] : report.rows) {
    std::cout << pad(std::string(row_name(row)), 20) << pad(v.held ? "held" : v.injected == 0 ? "IDLE" : "VIOLATED", 10)
              << pad(std::to_string(v.runs), 8) << pad(std::to_string(v.injected), 17)
              << v.checks_passed << "\n";
  }
}

int replay(uint64_t seed, const CampaignOptions& defaults) {
  RunPlan plan = plan_run(seed, defaults.commands_per_run);
  std::cout << "replaying seed " << seed << ": row " << row_name(plan.row) << ", "
            << describe(plan.config) << "\n";
  RunOutcome outcome = execute(plan.config, plan.commands, true);
  for (const std::string& line : outcome.trace) std::cout << line << "\n";
  if (!outcome.violation) {
    std::cout << "seed " << seed << ": every invariant held (" << outcome.ops
              << " simulated ops)\n";
    return kExitOk;
  }
  Failure f{seed, plan.row, plan.config, *outcome.violation,
            shrink(plan.config, plan.commands, outcome.violation->invariant)};
  if (RunOutcome again = execute(plan.config, f.shrunk, false); again.violation)
    f.violation = *again.violation;
  std::cout << "\n" << format_failure(f);
  return 1;
}

// Root reads files whatever their mode, so the unreadable scenario runs as nobody: the
// same binary started through setpriv with an argument vector (no shell: DIR may hold any
// character).
void run_unreadable_as_nobody(const std::string& dir, uint64_t seed, uint64_t actions,
                              const std::function<void(const std::string&)>& log,
                              bool& held) {
  if (::geteuid() != 0) return;  // the scenario already ran in this process
  if (!find_program("setpriv")) {
    log("real unreadable: NOT RUN (root, and setpriv is not installed to drop to nobody)");
    return;
  }
  const passwd* nobody = ::getpwnam("nobody");
  if (!nobody) {
    log("real unreadable: NOT RUN (root, and there is no user nobody to drop to)");
    return;
  }
  std::string scratch = dir + "/hotreload-nobody-XXXXXX";
  if (!::mkdtemp(scratch.data())) {
    log("real unreadable: NOT RUN (cannot create a directory in " + dir + ")");
    return;
  }
  int status = -1;
  if (::chown(scratch.c_str(), nobody->pw_uid, static_cast<gid_t>(-1)) != 0) {
    log("real unreadable: cannot give " + scratch + " to nobody: " + std::strerror(errno));
  } else {
    std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
    status = run_program({"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", self,
                          "harness", "--ops", "0", "--seed", std::to_string(seed), "--real",
                          scratch, "--real-only", "unreadable", "--real-actions",
                          std::to_string(actions)},
                         false);
    if (status < 0) log("real unreadable: could not start setpriv");
  }
  std::error_code ec;
  std::filesystem::remove_all(scratch, ec);
  if (status != 0) held = false;
}

}  // namespace

int harness_command(const HarnessFlags& given) {
  HarnessFlags flags = given;
  CampaignOptions options;
  if (flags.replay) return replay(*flags.replay, options);

  if (!flags.seed_given) flags.seed = std::random_device{}() % 1000000000ull;
  options.seed = flags.seed;
  options.ops_target = flags.ops;
  options.runs_max = flags.runs;
  options.time_budget = flags.time_budget;
  if (flags.row) options.rows = {static_cast<Row>(*flags.row)};
  const bool tty = ::isatty(STDOUT_FILENO) == 1;
  uint64_t next_line_at = 0;
  options.progress = [&](uint64_t runs, uint64_t ops) {
    if (tty) {
      std::cout << "\r  " << runs << " runs, " << ops << " simulated ops" << std::flush;
    } else if (ops >= next_line_at) {
      std::cout << "  " << runs << " runs, " << ops << " simulated ops\n" << std::flush;
      next_line_at = ops + std::max<uint64_t>(flags.ops / 10, 1000);
    }
  };

  std::cout << "hotreload harness: seed " << flags.seed << std::endl;
  bool held = true;
  if (flags.ops > 0 || flags.runs > 0) {
    CampaignReport report = run_campaign(options);
    if (tty) std::cout << "\n";
    print_table(report);
    std::cout << "\n" << report.runs << " runs, " << report.ops << " simulated ops in "
              << report.wall_seconds << " s ("
              << static_cast<uint64_t>(report.ops / std::max(report.wall_seconds, 1e-9))
              << " ops/s)\n";
    for (const Failure& f : report.failures) {
      std::cout << "\n" << format_failure(f) << "  replay: hotreload harness --replay " << f.seed
                << "\n";
    }
    for (Row row : report.idle_rows)
      std::cout << "\nrow " << row_name(row) << ": no fault took effect in "
                << report.rows.at(row).runs << " runs, so they prove nothing\n";
    held = report.all_held();
  }

  if (!flags.real_dir.empty()) {
    auto log = [](const std::string& line) { std::cout << line << std::endl; };
    RealCampaignOptions real;
    real.dir = flags.real_dir;
    real.seed = flags.seed;
    real.rounds = static_cast<int>(std::min<uint64_t>(flags.real_actions, 1u << 30));
    real.nfs_like = flags.nfs_like;
    real.only = flags.real_only;
    bool root = ::geteuid() == 0;
    // As root, the unreadable scenario runs in a child as nobody (below), not here; and
    // DIR's own filesystem is left to tmpfs and ext4, which root can mount.
    if (real.only.empty())
      real.only = root ? std::vector<std::string>{"tmpfs", "ext4", "bindfs", "nfs_like"}
                       : std::vector<std::string>{"inotify", "unreadable"};
    auto nobody = std::find(real.only.begin(), real.only.end(), "unreadable");
    bool as_nobody = root && (flags.real_only.empty() || nobody != real.only.end());
    if (root && nobody != real.only.end()) real.only.erase(nobody);
    RealCampaignReport r =
        real.only.empty() ? RealCampaignReport{} : run_real_campaign(real, log);
    held = held && r.all_held();
    for (const RealScenario& s : r.scenarios)
      if (!s.ran && !flags.real_only.empty()) {
        log("real " + s.name + ": asked for by --real-only, and it did not run");
        held = false;
      }
    if (as_nobody)
      run_unreadable_as_nobody(flags.real_dir, flags.seed, flags.real_actions, log, held);
  }
  std::cout << "\nseed " << flags.seed << ": " << (held ? "every row held" : "VIOLATED") << "\n";
  return held ? kExitOk : 1;
}

}  // namespace hotreload::cli

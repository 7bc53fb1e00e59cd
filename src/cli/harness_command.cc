#include "harness_command.h"

#include <unistd.h>

#include <charconv>
#include <cstdlib>
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

namespace hotreload::cli {

namespace {

using namespace hotreload::harness;

constexpr std::string_view kHelp = R"(Usage: hotreload harness [options]

Runs the deterministic fault-injection campaign: the real watcher code over a simulated
filesystem, event source and clock, with faults from every row of the degradation table,
in virtual time. Every run replays exactly from its seed.

Options:
  --seed N               campaign seed (default: random, printed first)
  --ops N                stop after N simulated ops (default 100000)
  --runs N               stop after N runs (default: no limit)
  --time-budget DURATION stop after this much wall time (default 5m), e.g. 90s, 2m
  --row NAME             only this degradation row (see the table for names)
  --real DIR             then run the same writers on a real directory under DIR
                         (inotify; bindfs over FUSE when root; unreadable files as nobody)
  --replay SEED          run one seed again, printing its full trace
  --help                 this text

Exit: 0 every row held; 1 a row was violated; 2 bad command line.
)";

struct Flags {
  uint64_t seed = 0;
  bool seed_given = false;
  uint64_t ops = 100000;
  uint64_t runs = 0;
  std::chrono::milliseconds time_budget{std::chrono::minutes(5)};
  std::optional<Row> row;
  std::string real_dir;
  std::optional<uint64_t> replay;
  std::string real_only;  // internal: the setpriv child runs one real scenario
  bool help = false;
};

std::optional<uint64_t> parse_count(std::string_view text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// Returns the error sentence, or empty when the flags parse.
std::string parse_flags(int argc, char** argv, Flags& f) {
  for (int i = 1; i < argc; ++i) {
    std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      f.help = true;
      continue;
    }
    const bool takes_value = flag == "--seed" || flag == "--ops" || flag == "--runs" ||
                             flag == "--time-budget" || flag == "--row" || flag == "--real" ||
                             flag == "--replay" || flag == "--real-only";
    if (!takes_value) return "unknown option \"" + std::string(flag) + "\"";
    if (i + 1 >= argc) return std::string(flag) + " needs a value";
    std::string_view value = argv[++i];
    auto count = [&](uint64_t& out) -> std::string {
      auto n = parse_count(value);
      if (!n) return std::string(flag) + " wants a non-negative integer, not \"" +
                     std::string(value) + "\"";
      out = *n;
      return {};
    };
    std::string error;
    if (flag == "--seed") {
      error = count(f.seed);
      f.seed_given = true;
    } else if (flag == "--ops") {
      error = count(f.ops);
    } else if (flag == "--runs") {
      error = count(f.runs);
    } else if (flag == "--replay") {
      uint64_t s = 0;
      error = count(s);
      f.replay = s;
    } else if (flag == "--time-budget") {
      auto d = parse_duration(value);
      if (auto* why = std::get_if<std::string>(&d)) error = "--time-budget: " + *why;
      else f.time_budget = std::get<std::chrono::milliseconds>(d);
    } else if (flag == "--row") {
      f.row = row_from_name(value);
      if (!f.row) {
        error = "--row: unknown row \"" + std::string(value) + "\"; rows are:";
        for (Row r : kAllRows) error += " " + std::string(row_name(r));
      }
    } else if (flag == "--real") {
      f.real_dir = value;
    } else {
      f.real_only = value;
    }
    if (!error.empty()) return error;
  }
  return {};
}

std::string pad(std::string s, std::size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

void print_table(const CampaignReport& report) {
  std::cout << "\n" << pad("row", 20) << pad("status", 10) << pad("runs", 8)
            << pad("faults injected", 17) << "checks passed\n";
  for (const auto& [row, v] : report.rows) {
    std::cout << pad(std::string(row_name(row)), 20) << pad(v.held ? "held" : "VIOLATED", 10)
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

// Root reads files whatever their mode, so the unreadable scenario runs as nobody.
void run_unreadable_as_nobody(const std::string& dir, uint64_t seed,
                              const std::function<void(const std::string&)>& log,
                              bool& held) {
  if (::geteuid() != 0) return;  // the scenario already ran in this process
  if (std::system("command -v setpriv >/dev/null 2>&1") != 0) {
    log("real unreadable: NOT RUN (root, and setpriv is not installed to drop to nobody)");
    return;
  }
  std::string scratch = dir + "/hotreload-nobody-XXXXXX";
  if (!::mkdtemp(scratch.data())) {
    log("real unreadable: NOT RUN (cannot create a directory in " + dir + ")");
    return;
  }
  std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  std::string command = "chown nobody '" + scratch + "' && setpriv --reuid=nobody " +
                        "--regid=nogroup --clear-groups '" + self + "' harness --ops 0 " +
                        "--seed " + std::to_string(seed) + " --real '" + scratch +
                        "' --real-only unreadable";
  int status = std::system(command.c_str());
  std::error_code ec;
  std::filesystem::remove_all(scratch, ec);
  if (status != 0) held = false;
}

}  // namespace

int harness_command(int argc, char** argv) {
  Flags flags;
  if (std::string error = parse_flags(argc, argv, flags); !error.empty()) {
    std::cerr << "hotreload harness: " << error << "\n(see hotreload harness --help)\n";
    return kExitUsage;
  }
  if (flags.help) {
    std::cout << kHelp;
    return kExitOk;
  }
  CampaignOptions options;
  if (flags.replay) return replay(*flags.replay, options);

  if (!flags.seed_given) flags.seed = std::random_device{}() % 1000000000ull;
  options.seed = flags.seed;
  options.ops_target = flags.ops;
  options.runs_max = flags.runs;
  options.time_budget = flags.time_budget;
  if (flags.row) options.rows = {*flags.row};
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
    held = report.all_held();
  }

  if (!flags.real_dir.empty()) {
    auto log = [](const std::string& line) { std::cout << line << std::endl; };
    RealCampaignOptions real;
    real.dir = flags.real_dir;
    real.seed = flags.seed;
    if (!flags.real_only.empty()) real.only = {flags.real_only};
    // As root, the unreadable scenario runs in a child as nobody (below), not here.
    else if (::geteuid() == 0) real.only = {"inotify", "bindfs"};
    RealCampaignReport r = run_real_campaign(real, log);
    held = held && r.all_held();
    if (flags.real_only.empty()) run_unreadable_as_nobody(flags.real_dir, flags.seed, log, held);
  }
  std::cout << "\nseed " << flags.seed << ": " << (held ? "every row held" : "VIOLATED") << "\n";
  return held ? kExitOk : 1;
}

}  // namespace hotreload::cli

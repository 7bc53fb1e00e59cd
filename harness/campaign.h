// Campaign: many seeded simulation runs, row by row, within a budget; the verdict per
// degradation row, and for each violated row its shrunk, replayable failure.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "degradation_rows.h"
#include "scheduler.h"

namespace hotreload::harness {

struct CampaignOptions {
  uint64_t seed = 1;
  uint64_t ops_target = 100000;        // stop once this many simulated ops ran…
  uint64_t runs_max = 0;               // …or this many runs (0: no limit)…
  std::chrono::milliseconds time_budget{std::chrono::minutes(5)};  // …or this much wall time
  std::size_t commands_per_run = 60;
  std::vector<Row> rows{kAllRows.begin(), kAllRows.end()};
  bool stop_at_first_failure = false;
  bool shrink = true;
  // Called after each run, for a progress display.
  std::function<void(uint64_t runs, uint64_t ops)> progress;
};

struct RowVerdict {
  bool held = true;
  uint64_t runs = 0;
  uint64_t injected = 0;
  uint64_t checks_passed = 0;
};

struct Failure {
  uint64_t seed = 0;
  Row row{};
  WorldConfig config;
  Violation violation;
  std::vector<SimCommand> shrunk;
};

struct CampaignReport {
  std::map<Row, RowVerdict> rows;
  uint64_t runs = 0;
  uint64_t ops = 0;
  double wall_seconds = 0;
  std::vector<Failure> failures;  // the first per violated row
  // Rows that ran, but none of whose faults took effect: they prove nothing, and fail.
  std::vector<Row> idle_rows;
  bool all_held() const { return failures.empty() && idle_rows.empty(); }
};

CampaignReport run_campaign(const CampaignOptions& options);

// The shrunk op sequence of a failure, one numbered line per command.
std::string format_failure(const Failure& f);

}  // namespace hotreload::harness

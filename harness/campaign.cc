#include "campaign.h"

namespace hotreload::harness {

CampaignReport run_campaign(const CampaignOptions& options) {
  CampaignReport report;
  auto began = std::chrono::steady_clock::now();
  auto spent = [&] { return std::chrono::steady_clock::now() - began; };
  for (Row row : options.rows) report.rows[row];
  if (options.rows.empty()) return report;

  for (uint64_t index = 0;; ++index) {
    if (report.ops >= options.ops_target) break;
    if (options.runs_max && report.runs >= options.runs_max) break;
    if (spent() >= options.time_budget) break;
    Row row = options.rows[index % options.rows.size()];
    uint64_t seed = run_seed(options.seed, index, row);
    RunPlan plan = plan_run(seed, options.commands_per_run);
    RunOutcome outcome = execute(plan.config, plan.commands, false);
    ++report.runs;
    report.ops += outcome.ops;
    RowVerdict& verdict = report.rows[row];
    ++verdict.runs;
    for (const auto& [r, t] : outcome.tally) {
      report.rows[r].injected += t.injected;
      report.rows[r].checks_passed += t.checks_passed;
      // A mixed run's faults count for their own rows, and for mixed as a whole.
      if (row == Row::mixed && r != Row::mixed) {
        verdict.injected += t.injected;
        verdict.checks_passed += t.checks_passed;
      }
    }
    if (outcome.violation && verdict.held) {
      verdict.held = false;
      Failure f{seed, row, plan.config, *outcome.violation, plan.commands};
      if (options.shrink) {
        f.shrunk = shrink(plan.config, plan.commands, outcome.violation->invariant);
        // Report what the shrunk sequence shows, so the message matches the listing.
        RunOutcome again = execute(plan.config, f.shrunk, false);
        if (again.violation) f.violation = *again.violation;
      }
      report.failures.push_back(std::move(f));
    }
    if (options.progress) options.progress(report.runs, report.ops);
    if (outcome.violation && options.stop_at_first_failure) break;
  }
  for (auto& [row, verdict] : report.rows) {
    if (verdict.runs == 0 || verdict.injected > 0) continue;
    verdict.held = false;
    report.idle_rows.push_back(row);
  }
  report.wall_seconds = std::chrono::duration<double>(spent()).count();
  return report;
}

std::string format_failure(const Failure& f) {
  std::string text = "row " + std::string(row_name(f.row)) + " violated: " +
                     f.violation.invariant + ": " + f.violation.detail + "\n";
  text += "  seed " + std::to_string(f.seed) + " (" + describe(f.config) + ")\n";
  text += "  shrunk to " + std::to_string(f.shrunk.size()) + " commands:\n";
  for (std::size_t i = 0; i < f.shrunk.size(); ++i)
    text += "    " + std::to_string(i + 1) + ". " + to_string(f.shrunk[i]) + "\n";
  return text;
}

}  // namespace hotreload::harness

// A mutant's test: runs the simulation campaign for the row the mutant breaks, and
// succeeds only if the campaign catches it by the invariant it breaks. A violation of
// another invariant is a harness fault (or a second bug), not a catch.
//
//   hotreload_mutant_<name> --row ROW --expect INVARIANT [--seed N] [--runs N]
#include <cstdio>
#include <cstdlib>
#include <string>

#include "campaign.h"

namespace {

int usage(const char* why) {
  std::fprintf(stderr, "mutant test: %s\nusage: --row ROW --expect INVARIANT [--seed N] [--runs N]\n",
               why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace hotreload::harness;
  std::optional<Row> row;
  std::string expected;
  CampaignOptions options;
  options.seed = 1;
  options.runs_max = 20000;  // the time budget ends a mutant that survives
  options.ops_target = UINT64_MAX;
  options.time_budget = std::chrono::seconds(90);
  options.stop_at_first_failure = true;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc) return usage("a flag is missing its value");
    std::string value = argv[++i];
    if (flag == "--row") row = row_from_name(value);
    else if (flag == "--expect") expected = value;
    else if (flag == "--seed") options.seed = std::strtoull(value.c_str(), nullptr, 10);
    else if (flag == "--runs") options.runs_max = std::strtoull(value.c_str(), nullptr, 10);
    else return usage("unknown flag");
  }
  if (!row) return usage("--row must name a degradation row");
  if (expected.empty()) return usage("--expect must name the invariant that catches the mutant");
  options.rows = {*row};
  CampaignReport report = run_campaign(options);
  if (!report.failures.empty()) {
    const Failure& failure = report.failures.front();
    std::printf("%s", format_failure(failure).c_str());
    if (failure.violation.invariant != expected) {
      std::printf("HARNESS FAULT: the mutant was expected to break %s, but %s failed\n",
                  expected.c_str(), failure.violation.invariant.c_str());
      return 1;
    }
    std::printf("mutant CAUGHT by %s in row %s after %llu runs (%llu simulated ops)\n",
                expected.c_str(), std::string(row_name(*row)).c_str(),
                static_cast<unsigned long long>(report.runs),
                static_cast<unsigned long long>(report.ops));
    return 0;
  }
  std::printf("mutant SURVIVED: row %s held for %llu runs (%llu simulated ops)\n",
              std::string(row_name(*row)).c_str(), static_cast<unsigned long long>(report.runs),
              static_cast<unsigned long long>(report.ops));
  return 1;
}

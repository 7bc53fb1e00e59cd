// A mutant's test: runs the simulation campaign for the row the mutant breaks, and
// succeeds only if the campaign catches it (a violation of that row's properties).
//
//   hotreload_mutant_<name> --row ROW [--seed N] [--runs N]
#include <cstdio>
#include <cstdlib>
#include <string>

#include "campaign.h"

namespace {

int usage(const char* why) {
  std::fprintf(stderr, "mutant test: %s\nusage: --row ROW [--seed N] [--runs N]\n", why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace hotreload::harness;
  std::optional<Row> row;
  CampaignOptions options;
  options.seed = 1;
  options.runs_max = 240;
  options.ops_target = UINT64_MAX;
  options.time_budget = std::chrono::seconds(90);
  options.stop_at_first_failure = true;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc) return usage("a flag is missing its value");
    std::string value = argv[++i];
    if (flag == "--row") row = row_from_name(value);
    else if (flag == "--seed") options.seed = std::strtoull(value.c_str(), nullptr, 10);
    else if (flag == "--runs") options.runs_max = std::strtoull(value.c_str(), nullptr, 10);
    else return usage("unknown flag");
  }
  if (!row) return usage("--row must name a degradation row");
  options.rows = {*row};
  CampaignReport report = run_campaign(options);
  if (!report.failures.empty()) {
    std::printf("%s", format_failure(report.failures.front()).c_str());
    std::printf("mutant CAUGHT by row %s after %llu runs (%llu simulated ops)\n",
                std::string(row_name(*row)).c_str(),
                static_cast<unsigned long long>(report.runs),
                static_cast<unsigned long long>(report.ops));
    return 0;
  }
  std::printf("mutant SURVIVED: row %s held for %llu runs (%llu simulated ops)\n",
              std::string(row_name(*row)).c_str(), static_cast<unsigned long long>(report.runs),
              static_cast<unsigned long long>(report.ops));
  return 1;
}

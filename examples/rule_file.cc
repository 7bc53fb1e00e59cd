// A rule file: first-match access rules, one per line, reloaded without a restart.
//
//   # comments and blank lines are ignored
//   allow /api/public/
//   deny  /api/
//   allow /
//
// A line that is not "allow PREFIX" or "deny PREFIX" (PREFIX starting with '/') refuses
// the whole file, naming the line: half a rule set is worse than the previous one.
//
//   rule_file [--check] rules.txt
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "example_main.h"

namespace {

struct Rule {
  bool allow = false;
  std::string prefix;
};
using Rules = std::vector<Rule>;

Rules parse_rules(std::string_view text) {
  Rules rules;
  std::istringstream in{std::string(text)};
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    std::string verb, prefix, extra;
    if (!(words >> verb)) continue;
    if ((verb != "allow" && verb != "deny") || !(words >> prefix) || prefix[0] != '/' ||
        (words >> extra))
      throw std::invalid_argument("line " + std::to_string(number) +
                                  ": expected \"allow /prefix\" or \"deny /prefix\"");
    rules.push_back({verb == "allow", prefix});
  }
  if (rules.empty()) throw std::invalid_argument("no rules: refusing an empty rule set");
  return rules;
}

void print_rules(std::ostream& out, const Rules& rules) {
  for (const Rule& r : rules) out << "  " << (r.allow ? "allow " : "deny  ") << r.prefix << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  return examples::run_example<Rules>(argc, argv, "access rules, one per line", parse_rules,
                                      print_rules);
}

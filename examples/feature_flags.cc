// Feature flags from JSON, switched at run time without a restart:
//
//   {"flags": {"new_checkout": {"enabled": true, "rollout_percent": 25},
//              "dark_mode":    {"enabled": false}}}
//
// A flag must say whether it is enabled; rollout_percent (default 100) must be 0..100.
//
//   feature_flags [--check] flags.json
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "example_main.h"

namespace {

struct Flag {
  bool enabled = false;
  int rollout_percent = 100;
};
using Flags = std::map<std::string, Flag>;

Flags parse_flags(std::string_view text) {
  nlohmann::json doc = nlohmann::json::parse(text);  // throws with line and column
  if (!doc.is_object() || !doc.contains("flags") || !doc["flags"].is_object())
    throw std::invalid_argument("expected {\"flags\": {name: {\"enabled\": …}}}");
  Flags out;
  for (const auto& [name, spec] : doc["flags"].items()) {
    if (!spec.is_object() || !spec.contains("enabled") || !spec["enabled"].is_boolean())
      throw std::invalid_argument("flag \"" + name + "\" needs \"enabled\": true or false");
    Flag f;
    f.enabled = spec["enabled"].get<bool>();
    if (spec.contains("rollout_percent")) {
      const auto& p = spec["rollout_percent"];
      if (!p.is_number_integer() || p.get<int>() < 0 || p.get<int>() > 100)
        throw std::invalid_argument("flag \"" + name + "\": rollout_percent must be 0..100");
      f.rollout_percent = p.get<int>();
    }
    out[name] = f;
  }
  return out;
}

void print_flags(std::ostream& out, const Flags& flags) {
  for (const auto& [name, f] : flags)
    out << "  " << name << ": " << (f.enabled ? "on" : "off")
        << (f.enabled && f.rollout_percent < 100 ? " for " + std::to_string(f.rollout_percent) + "%" : "")
        << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  return examples::run_example<Flags>(argc, argv, "feature flags, JSON", parse_flags, print_flags);
}

// Environment mappings from YAML: per deployment environment, the endpoints a service
// talks to. Only production, staging, development and test are accepted, so that a typo
// ("prod", "Staging") is refused instead of silently adding an environment nobody reads.
//
//   production:
//     database_url: postgres://db.prod:5432/app
//     api_base: https://api.example.com
//   staging:
//     database_url: postgres://db.staging:5432/app
//
//   environment_mappings [--check] mappings.yaml
#include <yaml-cpp/yaml.h>

#include <array>
#include <map>
#include <stdexcept>
#include <string>

#include "example_main.h"

namespace {

constexpr std::array<std::string_view, 4> kEnvironments{"production", "staging", "development",
                                                        "test"};

using Settings = std::map<std::string, std::string>;
using Mappings = std::map<std::string, Settings>;

Mappings parse_mappings(std::string_view text) {
  YAML::Node doc = YAML::Load(std::string(text));
  if (!doc.IsMap()) throw std::invalid_argument("top level must be a map of environment: settings");
  Mappings out;
  for (const auto& env : doc) {
    std::string name = env.first.as<std::string>();
    bool known = false;
    for (auto e : kEnvironments) known |= e == name;
    if (!known)
      throw std::invalid_argument("unknown environment \"" + name +
                                  "\" (only production, staging, development, test)");
    if (!env.second.IsMap())
      throw std::invalid_argument("environment \"" + name + "\" must map setting names to values");
    Settings settings;
    for (const auto& kv : env.second) {
      if (!kv.second.IsScalar())
        throw std::invalid_argument(name + "." + kv.first.as<std::string>() + " must be a scalar");
      settings[kv.first.as<std::string>()] = kv.second.as<std::string>();
    }
    out[name] = std::move(settings);
  }
  if (out.empty()) throw std::invalid_argument("no environment defined");
  return out;
}

void print_mappings(std::ostream& out, const Mappings& m) {
  for (const auto& [env, settings] : m) {
    out << "  " << env << "\n";
    for (const auto& [k, v] : settings) out << "    " << k << " = " << v << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  return examples::run_example<Mappings>(argc, argv, "environment mappings, YAML",
                                         parse_mappings, print_mappings);
}

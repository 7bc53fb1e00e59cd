// Fuzzes the parse functions of the example programs — the code a service author would
// copy into a Reloadable<T>: feature flags (JSON), environment mappings (YAML) and a rule
// file (lines). The first byte picks the parser; the rest is the file's content.
//
// The parsers live in anonymous namespaces of programs with their own main(), so each
// source is included here with main renamed: the fuzzer calls the very function the
// program uses, not a copy of it.
//
// What must hold, whatever the bytes: a parser returns a value or throws an exception
// derived from std::exception (Reloadable turns it into the rejection reason; anything
// else would be reported as "a non-standard exception"), and what it returns keeps the
// promises its comment makes: flags' rollout_percent within 0..100; environments only
// production/staging/development/test and at least one; rules not empty, each prefix
// starting with '/', without whitespace or '#'.
#include <yaml-cpp/yaml.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "example_main.h"

#define main feature_flags_main
#include "feature_flags.cc"
#undef main
#define main environment_mappings_main
#include "environment_mappings.cc"
#undef main
#define main rule_file_main
#include "rule_file.cc"
#undef main

namespace {

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz_example_parsers: invariant broken: %s\n", what.c_str());
  std::abort();
}

void check_flags(const Flags& flags) {
  for (const auto& [name, f] : flags)
    if (f.rollout_percent < 0 || f.rollout_percent > 100)
      fail("flag " + name + " has rollout_percent " + std::to_string(f.rollout_percent));
}

void check_mappings(const Mappings& m) {
  if (m.empty()) fail("no environment, yet accepted");
  for (const auto& [env, settings] : m)
    if (env != "production" && env != "staging" && env != "development" && env != "test")
      fail("unknown environment accepted: " + env);
}

void check_rules(const Rules& rules) {
  if (rules.empty()) fail("an empty rule set was accepted");
  for (const Rule& r : rules) {
    if (r.prefix.empty() || r.prefix[0] != '/') fail("a prefix not starting with '/'");
    if (r.prefix.find_first_of(" \t\r\n\v\f#") != std::string::npos)
      fail("a prefix with whitespace or '#': " + r.prefix);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    switch (data[0] % 3) {
      case 0: check_flags(parse_flags(text)); break;
      case 1: check_mappings(parse_mappings(text)); break;
      case 2: check_rules(parse_rules(text)); break;
    }
  } catch (const std::exception&) {
    // A refusal: the watcher keeps the previous config and logs e.what().
  }
  // Anything not derived from std::exception escapes to libFuzzer, which reports it.
  return 0;
}

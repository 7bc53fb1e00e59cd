// Fuzzes the built-in syntax checks of `hotreload watch --format json|yaml`
// (hotreload::cli::check_syntax), exactly as the CLI calls them on a file's content. The
// first byte picks the format; the rest is the content.
//
// What must hold, whatever the bytes:
// - nothing throws out of check_syntax (it is called from the FileWatcher callback, and a
//   refusal must carry a reason, not an exception type);
// - a refusal names its format ("invalid JSON…" / "invalid YAML…");
// - JSON that is accepted means the same thing once re-serialised: the dump is accepted
//   too and parses to an equal value (a checker that accepted garbage would fail here);
// - format "any" accepts everything.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "validator.h"

namespace {

using hotreload::cli::check_syntax;
using hotreload::cli::ContentFormat;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz_cli_validators: invariant broken: %s\n", what.c_str());
  std::abort();
}

bool starts_with(const std::string& s, std::string_view prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view content(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    if (check_syntax(ContentFormat::any, content)) fail("format any refused a content");
    switch (data[0] % 2) {
      case 0: {
        auto refused = check_syntax(ContentFormat::json, content);
        if (refused) {
          if (!starts_with(*refused, "invalid JSON")) fail("JSON refusal: " + *refused);
          return 0;
        }
        nlohmann::json value = nlohmann::json::parse(content);
        std::string dumped = value.dump();
        if (auto again = check_syntax(ContentFormat::json, dumped))
          fail("accepted JSON re-serialised is refused: " + *again);
        if (nlohmann::json::parse(dumped) != value && !value.is_discarded())
          fail("accepted JSON changes meaning when re-serialised");
        break;
      }
      case 1: {
        auto refused = check_syntax(ContentFormat::yaml, content);
        if (refused && !starts_with(*refused, "invalid YAML")) fail("YAML refusal: " + *refused);
        break;
      }
    }
  } catch (const std::exception& e) {
    fail(std::string("an exception escaped: ") + e.what());
  }
  return 0;
}

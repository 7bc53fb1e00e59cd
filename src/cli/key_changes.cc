#include "key_changes.h"

namespace hotreload::cli {

namespace {

std::string one_per_line(const std::vector<std::string>& keys) {
  std::string out;
  for (const std::string& key : keys) out += (out.empty() ? "" : "\n") + key;
  return out;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> KeyChanges::environment() const {
  return {{"HOTRELOAD_ADDED", one_per_line(added)},
          {"HOTRELOAD_CHANGED", one_per_line(changed)},
          {"HOTRELOAD_REMOVED", one_per_line(removed)}};
}

}  // namespace hotreload::cli

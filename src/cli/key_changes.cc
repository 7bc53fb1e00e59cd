#include "key_changes.h"

#include <map>

namespace hotreload::cli {

namespace {

std::string one_per_line(const std::vector<std::string>& keys) {
  std::string out;
  for (const std::string& key : keys) out += (out.empty() ? "" : "\n") + key;
  return out;
}

}  // namespace

KeyChanges KeyChanges::then(const KeyChanges& later) const {
  enum class Was { added, changed, removed };
  std::map<std::string, Was> net;  // ordered: the lists come out in byte order
  for (const auto& k : added) net[k] = Was::added;
  for (const auto& k : changed) net[k] = Was::changed;
  for (const auto& k : removed) net[k] = Was::removed;
  auto apply = [&net](const std::string& key, Was now) {
    auto it = net.find(key);
    if (it == net.end()) {
      net.emplace(key, now);
      return;
    }
    if (it->second == Was::added && now == Was::removed) net.erase(it);
    else if (it->second == Was::removed && now == Was::added) it->second = Was::changed;
    else if (it->second == Was::changed && now == Was::removed) it->second = Was::removed;
    // added then changed stays added; changed then changed stays changed.
  };
  for (const auto& k : later.added) apply(k, Was::added);
  for (const auto& k : later.changed) apply(k, Was::changed);
  for (const auto& k : later.removed) apply(k, Was::removed);
  KeyChanges out;
  for (const auto& [key, was] : net)
    (was == Was::added     ? out.added
     : was == Was::changed ? out.changed
                           : out.removed)
        .push_back(key);
  return out;
}

std::vector<std::pair<std::string, std::string>> KeyChanges::environment() const {
  return {{"HOTRELOAD_ADDED", one_per_line(added)},
          {"HOTRELOAD_CHANGED", one_per_line(changed)},
          {"HOTRELOAD_REMOVED", one_per_line(removed)}};
}

}  // namespace hotreload::cli

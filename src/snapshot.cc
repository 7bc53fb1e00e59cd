#include "hotreload/snapshot.h"

namespace hotreload {

const std::string* Snapshot::find(std::string_view key) const {
  auto it = keys.find(key);
  return it == keys.end() ? nullptr : &it->second.content;
}

Digest snapshot_hash(const std::map<std::string, SnapshotKey, std::less<>>& keys) {
  std::string input;
  for (const auto& [key, entry] : keys) {
    input += key;
    input.push_back('\0');
    const auto& bytes = entry.hash.bytes();
    input.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  return Digest::of(input);
}

}  // namespace hotreload

#include "lookup_cache.h"

namespace hotreload {

Result<FileStat> LookupCache::lstat(const std::string& path) {
  auto it = stats_.find(path);
  if (it == stats_.end()) it = stats_.emplace(path, fs_.lstat(path)).first;
  return it->second;
}

Result<std::string> LookupCache::readlink(const std::string& path) {
  auto it = links_.find(path);
  if (it == links_.end()) it = links_.emplace(path, fs_.readlink(path)).first;
  return it->second;
}

void LookupCache::forget() {
  stats_.clear();
  links_.clear();
}

}  // namespace hotreload

#include "lookup_cache.h"

#include <utility>

namespace hotreload {

namespace {

// The answer cached for path, asking fs (through ask) the first time.
template <class Answers, class Path, class Ask>
const typename Answers::mapped_type& answer(Answers& answers, Path&& path, Ask ask) {
  auto it = answers.find(path);
  if (it == answers.end()) {
    std::string key(std::forward<Path>(path));
    auto found = ask(key);
    it = answers.emplace(std::move(key), std::move(found)).first;
  }
  return it->second;
}

}  // namespace

Result<FileStat> LookupCache::lstat(const std::string& path) {
  return answer(stats_, path, [this](const std::string& p) { return fs_.lstat(p); });
}

Result<std::string> LookupCache::readlink(const std::string& path) {
  return answer(links_, path, [this](const std::string& p) { return fs_.readlink(p); });
}

Result<FileStat> LookupCache::lstat(std::string&& path) {
  return answer(stats_, std::move(path), [this](const std::string& p) { return fs_.lstat(p); });
}

Result<std::string> LookupCache::readlink(std::string_view path) {
  return answer(links_, path, [this](const std::string& p) { return fs_.readlink(p); });
}

void LookupCache::forget() {
  stats_.clear();
  links_.clear();
}

}  // namespace hotreload

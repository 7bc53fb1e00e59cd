// LookupCache: one check's view of the filesystem, in which each path is lstat'ed and
// readlink'ed at most once.
//
// The keys of a volume share everything above them — the directories on the way, `..data`
// and the `..<timestamp>` directory it names — so a check of ten keys resolves `..data`
// once, not ten times, and every key of that check is resolved against the same answer.
// Opening, reading and listing always go to the filesystem. forget() drops the answers
// when the tree was seen moving and must be looked at afresh.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "hotreload/filesystem.h"

namespace hotreload {

class LookupCache final : public Filesystem {
 public:
  explicit LookupCache(Filesystem& fs) : fs_(fs) {}

  Result<FileStat> lstat(const std::string& path) override;
  Result<std::string> readlink(const std::string& path) override;
  // The same, for a path made whole for the call (a KeptWalk's): it becomes the cache's
  // own copy, or is found in it without one.
  Result<FileStat> lstat(std::string&& path);
  Result<std::string> readlink(std::string_view path);
  Result<std::unique_ptr<OpenFile>> open(const std::string& path) override {
    return fs_.open(path);
  }
  Result<std::vector<std::string>> read_directory(const std::string& path) override {
    return fs_.read_directory(path);
  }
  Result<uint64_t> filesystem_type(const std::string& path) override {
    return fs_.filesystem_type(path);
  }

  void forget();
  // The filesystem behind the cache, for a look that must not be answered from it.
  Filesystem& uncached() { return fs_; }

 private:
  Filesystem& fs_;
  std::map<std::string, Result<FileStat>, std::less<>> stats_;
  std::map<std::string, Result<std::string>, std::less<>> links_;
};

}  // namespace hotreload

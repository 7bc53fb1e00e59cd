// KeptWalk: what a KeyWatch keeps of the walk its content was last read by — the links on
// the way, the file they led to, and that file's attributes — with every path in one
// allocation. A process may watch ten thousand keys; a kubelet key's walk names four paths
// and two targets, which as strings of their own cost six allocations a key.
//
// Two KeptWalks are equal when their links, file and attributes are; a walk's Signature
// equals one (same()) when its links and attributes do: the file follows from the links.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "path_walk.h"

namespace hotreload {

class KeptWalk {
 public:
  KeptWalk() = default;  // no links, no file: what a look that kept nothing leaves
  KeptWalk(const Signature& signature, std::string_view file);

  const FileStat& stat() const { return stat_; }
  // The regular file (or directory) the walk ended at.
  std::string_view file() const;  // empty in a default KeptWalk
  bool has_links() const { return links_ > 0; }
  // Calls f(path, target) for each link in walk order while it returns true; returns
  // false if f did.
  template <class F>
  bool all_links(F&& f) const {
    std::size_t at = 0;
    for (uint16_t i = 0; i < links_; ++i) {
      std::string_view path = next(at);
      std::string_view target = next(at);
      if (!f(path, target)) return false;
    }
    return true;
  }
  bool same(const Signature& s) const;

  friend bool operator==(const KeptWalk&, const KeptWalk&) = default;

 private:
  // The text from at to the next NUL; at moves past it.
  std::string_view next(std::size_t& at) const;

  // Each link's path and target, then the file, each followed by a NUL (no path holds one).
  std::string paths_;
  FileStat stat_;
  uint16_t links_ = 0;  // the walk stops at kSymlinkHopsMax
};

int64_t newest_stamp(const KeptWalk& w);

}  // namespace hotreload

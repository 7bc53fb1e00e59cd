// KeptWalk: what a KeyWatch keeps of the walk its content was last read by — the links on
// the way, the file they led to, and that file's attributes — in one allocation. A process
// may watch ten thousand keys, and a kubelet key's walk names four paths and two targets:
// as strings of their own, six allocations a key, most of them the volume's path again.
//
// A path under the key's own directory (`base`) is kept relative to it: a kubelet key's
// links (the key, `..data`) and its file (`..<timestamp>/key`) all are. base is not kept,
// and is passed to every call that reads a path. Two KeptWalks are equal when their links, file and attributes are; a walk's
// Signature matches one (same()) when its links and attributes do: the file follows from
// the links.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "path_walk.h"

namespace hotreload {

class KeptWalk {
 public:
  KeptWalk() = default;  // no links, no file: what a look that kept nothing leaves
  KeptWalk(std::string_view base, const Signature& signature, std::string_view file);

  const FileStat& stat() const { return stat_; }
  // The regular file (or directory) the walk ended at; empty in a default KeptWalk.
  std::string file(std::string_view base) const;
  bool has_links() const { return links_ > 0; }
  // Calls f(path, target) for each link in walk order while it returns true; returns
  // false if f did.
  template <class F>
  bool all_links(std::string_view base, F&& f) const {
    std::string whole;  // a path kept relative, made whole for f
    std::size_t at = 0;
    for (uint16_t i = 0; i < links_; ++i) {
      std::string_view path = made_whole(base, next(at), whole);
      std::string_view target = next(at);
      if (!f(path, target)) return false;
    }
    return true;
  }
  bool same(std::string_view base, const Signature& s) const;

  friend bool operator==(const KeptWalk& a, const KeptWalk& b) {
    return a.text() == b.text() && a.stat_ == b.stat_ && a.links_ == b.links_;
  }

 private:
  // The text from at to the next NUL; at moves past it.
  std::string_view next(std::size_t& at) const;
  // kept as a whole path: itself, or base and kept joined in whole.
  static std::string_view made_whole(std::string_view base, std::string_view kept,
                                     std::string& whole);
  std::string_view text() const { return paths_ ? std::string_view(paths_.get(), size_) : ""; }

  // Each link's path and target, then the file's form and the file, each followed by a NUL
  // (no path holds one). A path under base is kept relative: it alone does not start with
  // '/'. The file's form says how it is kept: as any path (kAsKept), or as what follows
  // the last link's target and a slash (kBelowTarget: a kubelet key's file repeats the
  // `..<timestamp>` name it follows, 32 bytes). Not a std::string: its size and spare
  // room, kept ten thousand times, are worth 24 bytes a key.
  static constexpr char kAsKept = 'k';
  static constexpr char kBelowTarget = 't';
  std::unique_ptr<char[]> paths_;
  uint32_t size_ = 0;
  uint16_t links_ = 0;  // the walk stops at kSymlinkHopsMax
  FileStat stat_;
};

int64_t newest_stamp(const KeptWalk& w);

}  // namespace hotreload

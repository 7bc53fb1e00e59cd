#include "kept_walk.h"

#include "watch.h"

namespace hotreload {

KeptWalk::KeptWalk(const Signature& signature, std::string_view file)
    : stat_(signature.file), links_(static_cast<uint16_t>(signature.links.size())) {
  std::size_t size = file.size() + 1;
  for (const Link& l : signature.links) size += l.path.size() + l.target.size() + 2;
  paths_.reserve(size);
  for (const Link& l : signature.links) {
    paths_.append(l.path).push_back('\0');
    paths_.append(l.target).push_back('\0');
  }
  paths_.append(file).push_back('\0');
}

std::string_view KeptWalk::next(std::size_t& at) const {
  std::string_view text(paths_.data() + at);
  at += text.size() + 1;
  return text;
}

std::string_view KeptWalk::file() const {
  if (paths_.empty()) return {};
  std::size_t at = 0;
  for (uint16_t i = 0; i < 2 * links_; ++i) next(at);
  return next(at);
}

bool KeptWalk::same(const Signature& s) const {
  if (!(stat_ == s.file) || links_ != s.links.size()) return false;
  auto link = s.links.begin();
  return all_links([&](std::string_view path, std::string_view target) {
    bool equal = path == link->path && target == link->target;
    ++link;
    return equal;
  });
}

int64_t newest_stamp(const KeptWalk& w) { return newest_stamp(w.stat()); }

}  // namespace hotreload

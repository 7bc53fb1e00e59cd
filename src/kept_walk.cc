#include "kept_walk.h"

#include <algorithm>

#include "watch.h"

namespace hotreload {

namespace {

// path as kept: relative to base if it is under base, else whole.
std::string_view kept_form(std::string_view base, std::string_view path) {
  return path_below(base, path).value_or(path);
}

}  // namespace

KeptWalk::KeptWalk(std::string_view base, const Signature& signature, std::string_view file)
    : links_(static_cast<uint16_t>(signature.links.size())), stat_(signature.file) {
  // The file, in its form: below the last link's target (a kubelet key's `..<ts>/key`,
  // after `..data -> ..<ts>`) it is kept as what follows the target and its slash.
  std::string_view kept_file = kept_form(base, file);
  char form = kAsKept;
  if (!signature.links.empty()) {
    std::string_view target = signature.links.back().target;
    if (!target.empty() && kept_file.size() > target.size() + 1 &&
        kept_file.starts_with(target) && kept_file[target.size()] == '/') {
      form = kBelowTarget;
      kept_file.remove_prefix(target.size() + 1);
    }
  }
  std::size_t size = kept_file.size() + 2;
  for (const Link& l : signature.links)
    size += kept_form(base, l.path).size() + l.target.size() + 2;
  paths_ = std::make_unique_for_overwrite<char[]>(size);
  char* out = paths_.get();
  auto put = [&out](std::string_view text) {
    out = std::copy(text.begin(), text.end(), out);
    *out++ = '\0';
  };
  for (const Link& l : signature.links) {
    put(kept_form(base, l.path));
    put(l.target);
  }
  *out++ = form;
  put(kept_file);
  size_ = static_cast<uint32_t>(size);
}

std::string_view KeptWalk::next(std::size_t& at) const {
  std::string_view text(paths_.get() + at);
  at += text.size() + 1;
  return text;
}

std::string_view KeptWalk::made_whole(std::string_view base, std::string_view kept,
                                      std::string& whole) {
  if (kept.starts_with('/')) return kept;
  return join_path_into(base, kept, whole);
}

std::string KeptWalk::file(std::string_view base) const {
  if (!paths_) return {};
  std::size_t at = 0;
  std::string_view target;  // the last link's
  for (uint16_t i = 0; i < links_; ++i) {
    next(at);
    target = next(at);
  }
  std::string_view kept = next(at);
  char form = kept.front();
  kept.remove_prefix(1);
  std::string whole;
  if (form == kBelowTarget) {  // target/kept, made whole as a kept path is
    if (target.starts_with('/')) whole.assign(target);
    else join_path_into(base, target, whole);
    whole.push_back('/');
    return whole.append(kept);
  }
  std::string_view file = made_whole(base, kept, whole);
  return whole.data() == file.data() ? std::move(whole) : std::string(file);
}

bool KeptWalk::same(std::string_view base, const Signature& s) const {
  if (!(stat_ == s.file) || links_ != s.links.size()) return false;
  std::size_t at = 0;
  for (const Link& link : s.links) {
    std::string_view path = next(at);
    std::string_view target = next(at);
    if (path != kept_form(base, link.path) || target != link.target) return false;
  }
  return true;
}

int64_t newest_stamp(const KeptWalk& w) { return newest_stamp(w.stat()); }

}  // namespace hotreload

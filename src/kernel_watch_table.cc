#include "kernel_watch_table.h"

#include <algorithm>
#include <string_view>
#include <utility>

namespace hotreload {

namespace {

bool vanished(std::error_code ec) {
  return ec == std::errc::no_such_file_or_directory || ec == std::errc::not_a_directory;
}

// Sorted, one entry per (dir, name).
std::vector<Interest> normalised(std::vector<Interest> wanted) {
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  return wanted;
}

// Calls f(name) for each name of Interests::names while it returns false; returns true if
// f did.
template <class F>
bool any_name(std::string_view names, F&& f) {
  for (std::size_t at = 0; at < names.size();) {
    std::size_t end = names.find('\0', at);
    if (f(names.substr(at, end - at))) return true;
    at = end + 1;
  }
  return false;
}

// The first interest of sorted from `from` on in another directory.
std::vector<Interest>::const_iterator next_dir(const std::vector<Interest>& sorted,
                                               std::vector<Interest>::const_iterator from) {
  return std::find_if(from, sorted.end(), [&](const Interest& i) { return i.dir != from->dir; });
}

constexpr uint32_t kEntryMoved = IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE;
constexpr uint32_t kSelfGone = IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT;

}  // namespace

void KernelWatchTable::Owners::insert(Owner owner) {
  if (!more_ && (one_ == kNobody || one_ == owner)) {
    one_ = owner;
    return;
  }
  if (!more_) more_ = std::make_unique<std::vector<Owner>>(1, std::exchange(one_, kNobody));
  auto at = std::lower_bound(more_->begin(), more_->end(), owner);
  if (at == more_->end() || *at != owner) more_->insert(at, owner);
}

void KernelWatchTable::Owners::erase(Owner owner) {
  if (!more_) {
    if (one_ == owner) one_ = kNobody;
    return;
  }
  std::erase(*more_, owner);
  if (more_->size() == 1) {
    one_ = more_->front();
    more_.reset();
  }
}

KernelWatchTable::Directories::iterator KernelWatchTable::join(Owner owner,
                                                               const std::string& dir) {
  auto d = dirs_.try_emplace(dir).first;
  d->second.owners.insert(owner);
  return d;
}

void KernelWatchTable::leave(Owner owner, Directories::iterator d) {
  d->second.owners.erase(owner);
  if (!d->second.owners.empty()) return;
  unbind(d);
  dirs_.erase(d);
}

// Whether owner's interests in d take in an event about name. The anchors take every name.
bool KernelWatchTable::wants(Owner owner, Directories::iterator d, std::string_view name) const {
  if (owner == kAnchors) return true;
  auto it = interests_.find(owner);
  if (it == interests_.end()) return false;
  for (const Interests& i : it->second) {
    if (i.dir == d)
      return any_name(i.names, [&](std::string_view n) { return n.empty() || n == name; });
  }
  return false;
}

void KernelWatchTable::bind(Directories::iterator d, int wd) {
  d->second.wd = wd;
  d->second.stale = false;
  auto [first, last] = by_wd_.equal_range(wd);
  if (first == last) ++kernel_watches_;
  if (std::none_of(first, last, [&](const auto& e) { return e.second == d; })) by_wd_.emplace(wd, d);
}

// Forgets d's descriptor; the kernel watch goes when no other path uses it.
void KernelWatchTable::unbind(Directories::iterator d) {
  Directory& dir = d->second;
  if (dir.wd < 0) return;
  auto [first, last] = by_wd_.equal_range(dir.wd);
  auto entry = std::find_if(first, last, [&](const auto& e) { return e.second == d; });
  if (entry != last) {
    bool alone = std::next(first) == last;
    by_wd_.erase(entry);
    if (alone) {
      events_.remove_watch(dir.wd);
      --kernel_watches_;
    }
  }
  dir.wd = -1;
  dir.stale = false;
  dir.identity = {};
}

std::error_code KernelWatchTable::ensure_armed(Directories::iterator d,
                                               const DirectoryInodes& seen, bool& armed_now) {
  Directory& dir = d->second;
  auto found = seen.find(d->first);
  Inode now = found == seen.end() ? Inode{} : found->second;
  // Moved under the same name with nothing watching above it to say so.
  bool moved = now.dev != 0 && dir.identity.dev != 0 && now != dir.identity;
  if (dir.wd >= 0 && !dir.stale && !moved) {
    if (dir.identity.dev == 0) dir.identity = now;
    return {};
  }
  auto wd = events_.add_watch(d->first);
  if (!wd) {
    unbind(d);
    return wd.error();
  }
  dir.identity = now;
  if (*wd == dir.wd) {  // the same inode as before: nothing was missed
    dir.stale = false;
    return {};
  }
  unbind(d);
  bind(d, *wd);
  dir.identity = now;
  armed_now = true;
  return {};
}

void KernelWatchTable::anchor(const std::string& dir) {
  for (std::string path = dir; path != "/";) {
    path = parent_of(path);
    if (++anchors_[path] == 1) join(kAnchors, path);
  }
  arm_anchors(dir);
}

void KernelWatchTable::unanchor(const std::string& dir) {
  for (std::string path = dir; path != "/";) {
    path = parent_of(path);
    auto a = anchors_.find(path);
    if (a == anchors_.end() || --a->second != 0) continue;
    anchors_.erase(a);
    leave(kAnchors, dirs_.find(path));
  }
}

// As deep as dir, however many volumes there are.
void KernelWatchTable::arm_anchors(const std::string& dir) {
  bool armed_now = false;  // a rename above missed meanwhile: the volume's own check sees it
  for (std::string path = dir; path != "/";) {
    path = parent_of(path);
    auto d = dirs_.find(path);
    if (!anchors_.contains(path) || d->second.refused) continue;
    if (std::error_code ec = ensure_armed(d, {}, armed_now)) d->second.refused = !vanished(ec);
  }
}

// owner's interests made `wanted` (sorted): joins first, then leaves, so that a directory
// in both keeps its kernel watch.
std::vector<KernelWatchTable::Interests> KernelWatchTable::replaced(
    Owner owner, const std::vector<Interests>& kept, const std::vector<Interest>& wanted) {
  std::vector<Interests> now;
  for (auto i = wanted.begin(); i != wanted.end();) {
    auto end = next_dir(wanted, i);
    Interests& in = now.emplace_back(Interests{join(owner, i->dir), {}});
    for (; i != end; ++i) in.names.append(i->name).push_back('\0');
    in.names.shrink_to_fit();  // kept for the owner's lifetime
  }
  for (const Interests& old : kept) {
    auto same_dir = [&](const Interests& n) { return n.dir == old.dir; };
    if (std::none_of(now.begin(), now.end(), same_dir)) leave(owner, old.dir);
  }
  return now;
}

bool KernelWatchTable::same(const std::vector<Interests>& kept,
                            const std::vector<Interest>& wanted) {
  auto w = wanted.begin();
  for (const Interests& i : kept) {
    if (w == wanted.end() || w->dir != i.dir->first) return false;
    auto end = next_dir(wanted, w);
    bool differs =
        any_name(i.names, [&](std::string_view name) { return w == end || (w++)->name != name; });
    if (differs || w != end) return false;
  }
  return w == wanted.end();
}

KernelWatchTable::Armed KernelWatchTable::arm(Owner owner, std::vector<Interest> wanted,
                                              const DirectoryInodes& seen) {
  wanted = normalised(std::move(wanted));
  std::vector<Interests>& kept = interests_[owner];
  if (!same(kept, wanted)) kept = replaced(owner, kept, wanted);
  Armed result;
  for (const Interests& i : kept) {
    std::error_code ec = ensure_armed(i.dir, seen, result.armed_now);
    if (!ec) continue;
    if (vanished(ec)) {
      if (!result.gone) result.gone = ec;
    } else if (!result.refused) {
      result.refused = ec;
    }
  }
  return result;
}

std::vector<Interest> KernelWatchTable::interests_of(Owner owner) const {
  std::vector<Interest> out;
  auto it = interests_.find(owner);
  if (it == interests_.end()) return out;
  for (const Interests& i : it->second) {
    any_name(i.names, [&](std::string_view name) {
      out.push_back({i.dir->first, std::string(name)});
      return false;
    });
  }
  return out;
}

void KernelWatchTable::drop(Owner owner) {
  auto it = interests_.find(owner);
  if (it == interests_.end()) return;
  for (const Interests& i : it->second) leave(owner, i.dir);
  interests_.erase(it);
}

void KernelWatchTable::mark_stale_below(const std::string& path) {
  auto mark = [](Directory& d) {
    if (d.wd >= 0) d.stale = true;
    d.refused = false;
  };
  if (auto d = dirs_.find(path); d != dirs_.end()) mark(d->second);
  std::string prefix = path + "/";
  for (auto d = dirs_.lower_bound(prefix); d != dirs_.end() && d->first.starts_with(prefix); ++d)
    mark(d->second);
}

void KernelWatchTable::route(const Event& event,
                             const std::function<void(Owner, const std::string&)>& concerned) {
  auto [first, last] = by_wd_.equal_range(event.wd);
  if (first == last) return;
  // A copy: the re-arming rules below may unbind the descriptor (nothing here erases a
  // directory, so its entry outlives the loop).
  std::vector<Directories::iterator> dirs;
  for (auto e = first; e != last; ++e) dirs.push_back(e->second);
  bool itself = event.name.empty() || (event.mask & (kSelfGone | IN_IGNORED));
  for (Directories::iterator d : dirs) {
    const std::string& path = d->first;
    Directory& dir = d->second;
    if (dir.wd != event.wd) continue;
    if (itself) {
      dir.owners.each([&](Owner owner) { concerned(owner, path); });
      if (event.mask & IN_IGNORED) {
        dir.wd = -1;  // the kernel dropped it: nothing to remove
        dir.stale = false;
      } else if (event.mask & kSelfGone) {
        dir.stale = true;  // ask again: the path may name a new directory, or none
      }
      continue;
    }
    if (event.mask & kEntryMoved) mark_stale_below(join_path(path, event.name));
    dir.owners.each([&](Owner owner) {
      if (wants(owner, d, event.name)) concerned(owner, path);
    });
  }
  if ((event.mask & IN_IGNORED) && by_wd_.erase(event.wd) != 0) --kernel_watches_;
}

void KernelWatchTable::forget_all() {
  for (auto& [path, d] : dirs_) {
    if (d.wd >= 0) d.stale = true;
    d.refused = false;
  }
}

bool KernelWatchTable::watched(const std::string& dir) const {
  auto d = dirs_.find(dir);
  return d != dirs_.end() && d->second.wd >= 0;
}

}  // namespace hotreload

#include "kernel_watch_table.h"

#include <algorithm>
#include <string_view>

namespace hotreload {

namespace {

bool vanished(std::error_code ec) {
  return ec == std::errc::no_such_file_or_directory || ec == std::errc::not_a_directory;
}

// Sorted, one entry per (dir, name); an interest needed by anyone is not optional.
std::vector<Interest> normalised(std::vector<Interest> wanted) {
  std::sort(wanted.begin(), wanted.end());  // optional=false sorts first
  auto same_place = [](const Interest& a, const Interest& b) {
    return a.dir == b.dir && a.name == b.name;
  };
  wanted.erase(std::unique(wanted.begin(), wanted.end(), same_place), wanted.end());
  return wanted;
}

// An owner's interests as the table keeps them for its lifetime: in one string, each
// directory written once. The keys of a volume share their directory, and every volume
// the directories above it: as Interests, a 10-key volume kept ~17 copies of its path.
// Sorted interests become, per directory, 'D' dir NUL, then per interest in it a flag
// ('n' needed, 'o' optional) and name NUL. No path holds a NUL.
std::string packed(const std::vector<Interest>& sorted) {
  std::string out;
  const std::string* dir = nullptr;
  for (const Interest& i : sorted) {
    if (!dir || *dir != i.dir) {
      dir = &i.dir;
      out.append(1, 'D').append(i.dir).push_back('\0');
    }
    out.append(1, i.optional ? 'o' : 'n').append(i.name).push_back('\0');
  }
  out.shrink_to_fit();
  return out;
}

std::vector<Interest> unpacked(std::string_view packed) {
  std::vector<Interest> out;
  std::string_view dir;
  for (std::size_t at = 0; at < packed.size();) {
    char flag = packed[at];
    std::size_t end = packed.find('\0', at);
    std::string_view text = packed.substr(at + 1, end - at - 1);
    at = end + 1;
    if (flag == 'D')
      dir = text;
    else
      out.push_back({std::string(dir), std::string(text), flag == 'o'});
  }
  return out;
}

constexpr uint32_t kEntryMoved = IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE;
constexpr uint32_t kSelfGone = IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT;

}  // namespace

void KernelWatchTable::join(Owner owner, const std::string& dir) {
  auto& owners = dirs_[dir].owners;
  auto at = std::lower_bound(owners.begin(), owners.end(), owner);
  if (at == owners.end() || *at != owner) owners.insert(at, owner);
}

void KernelWatchTable::leave(Owner owner, const std::string& dir) {
  auto d = dirs_.find(dir);
  if (d == dirs_.end()) return;
  std::erase(d->second.owners, owner);
  if (!d->second.owners.empty()) return;
  unbind(d);
  dirs_.erase(d);
}

// Whether owner's interests in dir take in an event about name: a scan of its packed
// interests, a few names long. The anchors take every name.
bool KernelWatchTable::wants(Owner owner, std::string_view dir, std::string_view name) const {
  if (owner == kAnchors) return true;
  auto it = interests_.find(owner);
  if (it == interests_.end()) return false;
  std::string_view packed = it->second;
  bool in_dir = false;
  for (std::size_t at = 0; at < packed.size();) {
    char flag = packed[at];
    std::size_t end = packed.find('\0', at);
    std::string_view text = packed.substr(at + 1, end - at - 1);
    at = end + 1;
    if (flag == 'D') {
      if (in_dir) return false;  // each directory is written once
      in_dir = text == dir;
    } else if (in_dir && (text.empty() || text == name)) {
      return true;
    }
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
    leave(kAnchors, path);
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

KernelWatchTable::Armed KernelWatchTable::arm(Owner owner, std::vector<Interest> wanted,
                                              const DirectoryInodes& seen) {
  wanted = normalised(std::move(wanted));
  std::string& kept = interests_[owner];
  std::vector<Interest> registered = unpacked(kept);
  if (registered != wanted) {
    auto by_dir = [](const Interest& a, const Interest& b) { return a.dir < b.dir; };
    // Joins first, then leaves: a directory in both keeps its kernel watch.
    for (const Interest& i : wanted) join(owner, i.dir);
    for (const Interest& i : registered)
      if (!std::binary_search(wanted.begin(), wanted.end(), i, by_dir)) leave(owner, i.dir);
    kept = packed(wanted);
    registered = std::move(wanted);
  }
  Armed result;
  for (auto i = registered.begin(); i != registered.end();) {
    const std::string& dir = i->dir;
    auto end = std::find_if(i, registered.end(), [&](const Interest& r) { return r.dir != dir; });
    bool optional = std::all_of(i, end, [](const Interest& r) { return r.optional; });
    i = end;
    auto d = dirs_.find(dir);
    if (optional && d->second.refused) continue;
    std::error_code ec = ensure_armed(d, seen, result.armed_now);
    if (!ec) continue;
    if (optional) {
      d->second.refused = !vanished(ec);
    } else if (vanished(ec)) {
      if (!result.gone) result.gone = ec;
    } else if (!result.refused) {
      result.refused = ec;
    }
  }
  return result;
}

std::vector<Interest> KernelWatchTable::interests_of(Owner owner) const {
  auto it = interests_.find(owner);
  return it == interests_.end() ? std::vector<Interest>{} : unpacked(it->second);
}

void KernelWatchTable::drop(Owner owner) {
  auto it = interests_.find(owner);
  if (it == interests_.end()) return;
  for (const Interest& i : unpacked(it->second)) leave(owner, i.dir);
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
      for (Owner owner : dir.owners) concerned(owner, path);
      if (event.mask & IN_IGNORED) {
        dir.wd = -1;  // the kernel dropped it: nothing to remove
        dir.stale = false;
      } else if (event.mask & kSelfGone) {
        dir.stale = true;  // ask again: the path may name a new directory, or none
      }
      continue;
    }
    if (event.mask & kEntryMoved) mark_stale_below(join_path(path, event.name));
    for (Owner owner : dir.owners)
      if (wants(owner, path, event.name)) concerned(owner, path);
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

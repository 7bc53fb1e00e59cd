#include "kernel_watch_table.h"

#include <algorithm>
#include <iterator>
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

void KernelWatchTable::add(Owner owner, const Interest& interest) {
  auto& names = dirs_[interest.dir].names;
  // Grown by a quarter, not doubled: most directories stop at a volume's few names.
  if (names.size() == names.capacity()) names.reserve(names.size() * 5 / 4 + 1);
  std::pair entry{interest.name, owner};
  names.insert(std::upper_bound(names.begin(), names.end(), entry), std::move(entry));
}

void KernelWatchTable::remove(Owner owner, const Interest& interest) {
  auto d = dirs_.find(interest.dir);
  if (d == dirs_.end()) return;
  auto& names = d->second.names;
  auto entry = std::find(names.begin(), names.end(), std::pair{interest.name, owner});
  if (entry != names.end()) names.erase(entry);
  if (names.empty()) {
    unbind(d->first, d->second);
    dirs_.erase(d);
  }
}

void KernelWatchTable::bind(const std::string& dir, Directory& d, int wd) {
  d.wd = wd;
  d.stale = false;
  auto& paths = by_wd_[wd];
  if (std::find(paths.begin(), paths.end(), dir) == paths.end()) paths.push_back(dir);
}

// Forgets dir's descriptor; the kernel watch goes when no other path uses it.
void KernelWatchTable::unbind(const std::string& dir, Directory& d) {
  if (d.wd < 0) return;
  auto it = by_wd_.find(d.wd);
  if (it != by_wd_.end()) {
    std::erase(it->second, dir);
    if (it->second.empty()) {
      events_.remove_watch(d.wd);
      by_wd_.erase(it);
    }
  }
  d.wd = -1;
  d.stale = false;
  d.identity = {};
}

std::error_code KernelWatchTable::ensure_armed(const std::string& dir, Directory& d,
                                               const DirectoryInodes& seen, bool& armed_now) {
  auto found = seen.find(dir);
  Inode now = found == seen.end() ? Inode{} : found->second;
  // Moved under the same name with nothing watching above it to say so.
  bool moved = now.dev != 0 && d.identity.dev != 0 && now != d.identity;
  if (d.wd >= 0 && !d.stale && !moved) {
    if (d.identity.dev == 0) d.identity = now;
    return {};
  }
  auto wd = events_.add_watch(dir);
  if (!wd) {
    unbind(dir, d);
    return wd.error();
  }
  d.identity = now;
  if (*wd == d.wd) {  // the same inode as before: nothing was missed
    d.stale = false;
    return {};
  }
  unbind(dir, d);
  bind(dir, d, *wd);
  d.identity = now;
  armed_now = true;
  return {};
}

KernelWatchTable::Armed KernelWatchTable::arm(Owner owner, std::vector<Interest> wanted,
                                              const DirectoryInodes& seen) {
  wanted = normalised(std::move(wanted));
  std::string& kept = interests_[owner];
  std::vector<Interest> registered = unpacked(kept);
  if (registered != wanted) {
    std::vector<Interest> added, removed;
    std::set_difference(wanted.begin(), wanted.end(), registered.begin(), registered.end(),
                        std::back_inserter(added));
    std::set_difference(registered.begin(), registered.end(), wanted.begin(), wanted.end(),
                        std::back_inserter(removed));
    // Add first, then remove: a directory in both keeps its kernel watch.
    for (const Interest& i : added) add(owner, i);
    for (const Interest& i : removed) remove(owner, i);
    kept = packed(wanted);
    registered = std::move(wanted);
  }
  Armed result;
  for (auto i = registered.begin(); i != registered.end();) {
    const std::string& dir = i->dir;
    auto end = std::find_if(i, registered.end(), [&](const Interest& r) { return r.dir != dir; });
    bool optional = std::all_of(i, end, [](const Interest& r) { return r.optional; });
    i = end;
    Directory& d = dirs_.find(dir)->second;
    if (optional && d.refused) continue;
    std::error_code ec = ensure_armed(dir, d, seen, result.armed_now);
    if (!ec) continue;
    if (optional) {
      d.refused = !vanished(ec);
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
  for (const Interest& i : unpacked(it->second)) remove(owner, i);
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
  auto it = by_wd_.find(event.wd);
  if (it == by_wd_.end()) return;
  // A copy: the re-arming rules below may unbind the descriptor.
  const std::vector<std::string> paths = it->second;
  bool itself = event.name.empty() || (event.mask & (kSelfGone | IN_IGNORED));
  for (const std::string& path : paths) {
    auto d = dirs_.find(path);
    if (d == dirs_.end() || d->second.wd != event.wd) continue;
    Directory& dir = d->second;
    if (itself) {
      for (const auto& [name, owner] : dir.names) concerned(owner, path);
      if (event.mask & IN_IGNORED) {
        dir.wd = -1;  // the kernel dropped it: nothing to remove
        dir.stale = false;
      } else if (event.mask & kSelfGone) {
        dir.stale = true;  // ask again: the path may name a new directory, or none
      }
      continue;
    }
    if (event.mask & kEntryMoved) mark_stale_below(join_path(path, event.name));
    auto any = std::equal_range(dir.names.begin(), dir.names.end(), std::pair{std::string(), Owner{0}},
                                [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto n = any.first; n != any.second; ++n) concerned(n->second, path);
    auto named = std::equal_range(dir.names.begin(), dir.names.end(),
                                  std::pair{event.name, Owner{0}},
                                  [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto n = named.first; n != named.second; ++n) concerned(n->second, path);
  }
  if (event.mask & IN_IGNORED) by_wd_.erase(event.wd);
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

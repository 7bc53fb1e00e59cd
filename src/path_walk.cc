#include "path_walk.h"

#include <filesystem>

#include "hotreload/errors.h"

namespace hotreload {

std::string_view parent_view(std::string_view path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string_view::npos || slash == 0) return "/";
  return path.substr(0, slash);
}

std::string parent_of(const std::string& path) { return std::string(parent_view(path)); }

std::string name_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string join_path(const std::string& dir, const std::string& name) {
  std::string out;
  join_path_into(dir, name, out);
  return out;
}

std::string_view join_path_into(std::string_view dir, std::string_view name, std::string& out) {
  out.assign(dir);
  if (!dir.empty() && dir.back() != '/') out += '/';
  return out.append(name);
}

std::optional<std::string_view> path_below(std::string_view dir, std::string_view path) {
  if (dir == "/") dir = "";
  if (path.size() <= dir.size() + 1 || !path.starts_with(dir) || path[dir.size()] != '/')
    return std::nullopt;
  return path.substr(dir.size() + 1);
}

bool directly_in(std::string_view dir, std::string_view path) {
  auto name = path_below(dir, path);
  return name && name->find('/') == std::string_view::npos;
}

// Only what never changes which file the kernel opens goes: "." and empty components, and
// a ".." that climbs the working directory (getcwd's path has no symlink) or the root. Any
// other ".." stays, since "x/.." is the directory above x's target when x is a symlink, and
// fails when x is missing or a file: walk_path resolves it as the kernel does.
std::string absolute_normal(const std::string& path) {
  if (path.empty()) return path;
  std::string out = path.front() == '/' ? "" : std::filesystem::current_path().string();
  if (out == "/") out.clear();
  bool physical = true;  // out holds no component of path yet: no symlink in it
  std::size_t start = 0;
  while (start < path.size()) {
    auto end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string_view component(path.data() + start, end - start);
    start = end + 1;
    if (component.empty() || component == ".") continue;
    if (component == ".." && physical) {
      out.resize(out.empty() ? 0 : out.find_last_of('/'));
      continue;
    }
    physical = false;
    out += '/';
    out += component;
  }
  return out.empty() ? "/" : out;
}

bool names_only_a_directory(std::string_view path) {
  if (path.empty()) return false;
  if (path.back() == '/') return true;
  std::string_view last = path.substr(path.find_last_of('/') + 1);
  return last == "." || last == "..";
}

namespace {

// Pushes the components of a relative path so that the first is popped first.
void push_components(std::vector<std::string>& pending, const std::string& relative) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= relative.size()) {
    auto end = relative.find('/', start);
    if (end == std::string::npos) end = relative.size();
    if (end > start) parts.push_back(relative.substr(start, end - start));
    start = end + 1;
  }
  pending.insert(pending.end(), parts.rbegin(), parts.rend());
}

bool has_dot_dot(const std::string& path) {
  return path == ".." || path.starts_with("../") || path.ends_with("/..") ||
         path.find("/../") != std::string::npos;
}

// The walk stopped on a missing name. If its directory is missing too (the volume was
// unmounted, the directory removed), the interest moves up to the nearest ancestor that
// exists, so that its re-creation is noticed.
void interest_in_nearest_ancestor(Filesystem& fs, PathWalk& walk, std::string dir) {
  std::string below;
  while (dir != "/") {
    auto st = fs.lstat(dir);
    if (st && st->type == FileType::directory) break;
    below = name_of(dir);
    dir = parent_of(dir);
  }
  if (!below.empty()) {
    walk.interests.pop_back();
    walk.interests.push_back({dir, below});
  }
}

PathWalk& fail(PathWalk& walk, std::error_code ec, std::string where) {
  walk.error = ec;
  walk.error_path = std::move(where);
  walk.file.clear();
  return walk;
}

}  // namespace

DirectoryInodes directory_inodes(Filesystem& fs, const std::vector<Interest>& interests) {
  DirectoryInodes inodes;
  for (const Interest& i : interests) {
    if (inodes.contains(i.dir)) continue;
    auto st = fs.lstat(i.dir);
    if (st && st->type == FileType::directory) inodes[i.dir] = {st->dev, st->ino};
  }
  return inodes;
}

bool is_kubelet_payload_dir(std::string_view dir) {
  std::string_view name = dir.substr(dir.rfind('/') + 1);  // npos + 1: the whole of dir
  return name.size() > 2 && name.starts_with("..");
}

PathWalk walk_path(Filesystem& fs, const std::string& path, WalkTarget target) {
  PathWalk walk;
  // The walk starts at the root. The directory components of the given path are looked
  // at too (one lstat each): a plain directory among them is trusted and needs no watch,
  // but a symlink among them (/cfg/..data/key, a deploy's "current -> releases/42") is
  // followed and watched like any other, since swapping it changes what the path means.
  std::string base = "/";
  std::vector<std::string> pending;
  push_components(pending, path);
  std::size_t given_left = pending.size();  // the given path's components still pending
  int hops = 0;

  while (!pending.empty()) {
    bool given = pending.size() == given_left;  // not from a symlink target
    if (given) --given_left;
    std::string component = std::move(pending.back());
    pending.pop_back();
    if (component == ".") continue;
    if (component == "..") {
      base = parent_of(base);
      continue;
    }
    std::string candidate = join_path(base, component);
    walk.interests.push_back({base, component});
    auto st = fs.lstat(candidate);
    // A directory named by the given path is trusted (the volume watches the names above
    // it); a directory walk trusts its last component too.
    bool trusted = given && (given_left > 0 || target == WalkTarget::directory);
    if (trusted && st && st->type == FileType::directory) {
      walk.interests.pop_back();
      base = candidate;
      continue;
    }
    if (!st) {
      if (st.error() == std::errc::no_such_file_or_directory)
        interest_in_nearest_ancestor(fs, walk, base);
      return fail(walk, st.error(), candidate);
    }
    switch (st->type) {
      case FileType::symlink: {
        if (++hops > kSymlinkHopsMax)
          return fail(walk, std::make_error_code(std::errc::too_many_symbolic_link_levels),
                      candidate);
        auto target = fs.readlink(candidate);
        if (!target) return fail(walk, target.error(), candidate);
        walk.signature.links.push_back({candidate, *target});
        if (!target->empty() && target->front() == '/') {
          std::string absolute = absolute_normal(*target);
          if (has_dot_dot(absolute)) {
            // After a symlink, ".." is the parent of its target: walked from the root.
            base = "/";
            push_components(pending, absolute);
          } else {
            base = parent_of(absolute);
            if (absolute != "/") pending.push_back(name_of(absolute));
          }
        } else {
          push_components(pending, *target);
        }
        break;
      }
      case FileType::directory:
        if (pending.empty()) {
          if (target == WalkTarget::directory) {
            walk.file = candidate;
            walk.signature.file = *st;
            return walk;
          }
          return fail(walk, std::make_error_code(std::errc::is_a_directory), candidate);
        }
        base = candidate;
        break;
      case FileType::regular:
        if (!pending.empty() || target == WalkTarget::directory)
          return fail(walk, std::make_error_code(std::errc::not_a_directory), candidate);
        walk.file = candidate;
        walk.signature.file = *st;
        return walk;
      case FileType::other:
        return fail(walk,
                    pending.empty() ? make_error_code(Errc::not_regular_file)
                                    : std::make_error_code(std::errc::not_a_directory),
                    candidate);
    }
  }
  // Only reachable when the path is "/" or ends in "." or ".." (a directory).
  if (target == WalkTarget::directory) {
    auto st = fs.lstat(base);
    if (!st) return fail(walk, st.error(), base);
    walk.file = base;
    walk.signature.file = *st;
    return walk;
  }
  return fail(walk, std::make_error_code(std::errc::is_a_directory), base);
}

}  // namespace hotreload

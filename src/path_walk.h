// PathWalk: resolves a watched path the way the kernel would, one symlink at a time, and
// records what a watch must look at to notice any change on the way.
//
// For a kubelet volume, /cfg/key -> ..data/key and ..data -> ..2026_11_26…, so the walk
// yields links [/cfg/key -> ..data/key, /cfg/..data -> ..2026…], the file
// /cfg/..2026…/key, and the interests (/cfg, key), (/cfg, ..data), (/cfg, ..2026…),
// (/cfg/..2026…, key): an event for any of those names may change what the path means.
// Every component is walked from the root: plain directories of the given path need no
// interest, but a symlink anywhere on the way (a swapped directory symlink too) is one.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "hotreload/filesystem.h"

namespace hotreload {

struct Link {
  std::string path;
  std::string target;
  friend bool operator==(const Link&, const Link&) = default;
};

// A (directory, name) pair whose change can change what the watched path resolves to. An
// empty name stands for every name in the directory (a directory watched as a whole).
struct Interest {
  std::string dir;
  std::string name;
  friend bool operator==(const Interest&, const Interest&) = default;
  // clang-tidy 14 reads the synthesized comparison with 0 as a null pointer constant.
  friend auto operator<=>(const Interest&, const Interest&) = default;  // NOLINT(modernize-use-nullptr)
};

// Which directory a path named when a look was made. Kernel watches follow an inode, not
// a path: one armed on a directory that was since replaced under the same name watches
// the old one.
struct Inode {
  uint64_t dev = 0;  // 0: not known
  uint64_t ino = 0;
  friend bool operator==(const Inode&, const Inode&) = default;
};
using DirectoryInodes = std::map<std::string, Inode, std::less<>>;

// The inode at each directory of interests, from fs: a LookupCache
// that has walked there answers without a system call.
DirectoryInodes directory_inodes(Filesystem& fs, const std::vector<Interest>& interests);

// What a poll compares: if this is unchanged, the content is presumed unchanged.
struct Signature {
  std::vector<Link> links;
  FileStat file;
  friend bool operator==(const Signature&, const Signature&) = default;
};

struct PathWalk {
  Signature signature;           // links on the way, and the target's lstat
  std::string file;              // the regular file (or directory) the path resolves to
  std::vector<Interest> interests;
  std::error_code error;         // set when the path does not resolve to a regular file
  std::string error_path;        // where the walk stopped
};

inline constexpr int kSymlinkHopsMax = 40;  // the kernel's MAXSYMLINKS

enum class WalkTarget : uint8_t { file, directory };

// Resolves path to a regular file (or, for WalkTarget::directory, to a directory).
PathWalk walk_path(Filesystem& fs, const std::string& path,
                   WalkTarget target = WalkTarget::file);

// The kubelet's own directories inside a volume ("..2026_11_26_…", "..data" once
// followed): never edited in place, so never in need of a kernel watch of their own.
bool is_kubelet_payload_dir(std::string_view dir);

// Lexical path helpers for absolute, normalised paths.
std::string parent_of(const std::string& path);   // "/a/b" -> "/a", "/a" -> "/"
std::string_view parent_view(std::string_view path);  // the same, inside path
std::string name_of(const std::string& path);     // "/a/b" -> "b"
std::string join_path(const std::string& dir, const std::string& name);
// Appends name to dir in out (cleared first), as join_path does, reusing out's buffer.
std::string_view join_path_into(std::string_view dir, std::string_view name, std::string& out);
// What is left of path below dir ("/a", "/a/b/c" -> "b/c"); nullopt unless path lies
// strictly below dir ("/a" itself, "/ab/c").
std::optional<std::string_view> path_below(std::string_view dir, std::string_view path);
// True if path names an entry directly in dir ("/cfg/key" in "/cfg"; not "/cfg/a/key").
bool directly_in(std::string_view dir, std::string_view path);
// Makes path absolute (against the working directory) without changing the file it names:
// drops "." and empty components and a trailing '/', and a ".." that climbs the working
// directory or the root; keeps any other ".." ("/a/./b/../c/" -> "/a/b/../c": b may be a
// symlink, and walk_path resolves ".." after it, as the kernel does). Two paths equal in
// this form name the same file; "" stays "".
std::string absolute_normal(const std::string& path);
// True if path can only name a directory, whatever is on disk: it ends in '/' or its last
// component is "." or ".." ("f/" and "f/." fail with ENOTDIR when f is a file). Such a
// path is refused as a file's: absolute_normal would make "f/" and "f/." into "f".
bool names_only_a_directory(std::string_view path);

}  // namespace hotreload

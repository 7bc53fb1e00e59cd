// Finding single-file bind mounts — how Kubernetes mounts a ConfigMap key with subPath.
//
// A subPath mount binds the file's inode at the moment the container starts. The kubelet
// later publishes updates by swapping the volume's ..data symlink, which a bind mount of
// the old file never sees: the file never changes. Only the mount table tells: the path
// is itself a mount point (/proc/self/mountinfo, field 5) and a regular file.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hotreload::cli {

struct MountEntry {
  std::string root;         // the directory or file of the source filesystem mounted here
  std::string mount_point;  // where, in our mount namespace
  std::string fs_type;
  std::string source;
};

// Parses /proc/self/mountinfo text (proc(5)); malformed lines are skipped.
std::vector<MountEntry> parse_mountinfo(std::string_view text);

// Undoes the kernel's octal escapes in mountinfo fields ("\040" is a space).
std::string unescape_mount_field(std::string_view field);

// The mount entry if path (after resolving symlinks) is a regular file that is itself a
// mount point; nullopt otherwise, or if the path or the mount table cannot be read.
std::optional<MountEntry> find_single_file_mount(const std::string& path,
                                                 const std::vector<MountEntry>& mounts);
std::optional<MountEntry> find_single_file_mount(const std::string& path);

// The loud warning both `watch` and `probe` print for such a path.
std::string single_file_mount_warning(const std::string& path, const MountEntry& mount);

}  // namespace hotreload::cli

#include "mountinfo.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

namespace hotreload::cli {

namespace {

std::vector<std::string_view> split_spaces(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t at = 0;
  while (at < line.size()) {
    std::size_t end = line.find(' ', at);
    if (end == std::string_view::npos) end = line.size();
    if (end > at) fields.push_back(line.substr(at, end - at));
    at = end + 1;
  }
  return fields;
}

bool is_octal(char c) { return c >= '0' && c <= '7'; }

}  // namespace

std::string unescape_mount_field(std::string_view field) {
  std::string out;
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() && is_octal(field[i + 1]) &&
        is_octal(field[i + 2]) && is_octal(field[i + 3])) {
      out.push_back(static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                                      (field[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(field[i]);
    }
  }
  return out;
}

std::vector<MountEntry> parse_mountinfo(std::string_view text) {
  std::vector<MountEntry> mounts;
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    auto fields = split_spaces(text.substr(at, end - at));
    at = end + 1;
    // id parent major:minor root mount_point options [optional…] - fs_type source super
    std::size_t dash = 6;
    while (dash < fields.size() && fields[dash] != "-") ++dash;
    if (fields.size() < 6 || dash + 2 >= fields.size()) continue;
    mounts.push_back({unescape_mount_field(fields[3]), unescape_mount_field(fields[4]),
                      unescape_mount_field(fields[dash + 1]),
                      unescape_mount_field(fields[dash + 2])});
  }
  return mounts;
}

std::optional<MountEntry> find_single_file_mount(const std::string& path,
                                                 const std::vector<MountEntry>& mounts) {
  char resolved[PATH_MAX];
  if (!::realpath(path.c_str(), resolved)) return std::nullopt;
  struct ::stat st;
  if (::stat(resolved, &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  // The last entry for a mount point is the one on top.
  for (auto it = mounts.rbegin(); it != mounts.rend(); ++it)
    if (it->mount_point == resolved) return *it;
  return std::nullopt;
}

std::optional<MountEntry> find_single_file_mount(const std::string& path) {
  std::ifstream in("/proc/self/mountinfo");
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  return find_single_file_mount(path, parse_mountinfo(text.str()));
}

std::string single_file_mount_warning(const std::string& path, const MountEntry& mount) {
  return "WARNING: " + path + " is a single-file bind mount (" + mount.fs_type + " " +
         mount.source + ", root " + mount.root +
         "), as Kubernetes makes for a volumeMount with subPath. Such a file NEVER receives "
         "ConfigMap updates: the kubelet swaps the volume's ..data symlink, and this mount "
         "still holds the old file. Mount the whole volume (no subPath) and watch the key "
         "inside it.";
}

}  // namespace hotreload::cli

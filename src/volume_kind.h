// Volume kinds, by statfs(2) f_type: which filesystems deliver inotify events for every
// change, and which miss changes made elsewhere (another client, the server, a FUSE
// daemon's backing store) so that only polling can see them.
#pragma once

#include <cstdint>
#include <string_view>

namespace hotreload {

struct VolumeKind {
  std::string_view name;       // "tmpfs", "nfs", "fuse", … or "unknown"
  bool misses_remote_changes;  // true: inotify cannot be trusted here; poll
};

VolumeKind classify_volume(uint64_t f_type);

}  // namespace hotreload

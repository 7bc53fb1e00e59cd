// Snapshot: every key of a volume as it was at one moment, and what changed since the
// snapshot that was active.
//
// For a Kubernetes ConfigMap or Secret volume, every key comes from the one publish that
// `..data` named while the snapshot was read: never keys of two publishes.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "hotreload/digest.h"
#include "hotreload/export.h"

namespace hotreload {

struct SnapshotKey {
  std::string content;
  Digest hash;  // SHA-256 of content
};

struct HOTRELOAD_EXPORT Snapshot {
  std::string dir;  // the watched directory, absolute
  // Relative path ("app.yaml", "rules/alerts.yaml") -> content, in byte order.
  std::map<std::string, SnapshotKey, std::less<>> keys;
  // SHA-256 over the keys in byte order, each as its path, a NUL byte and the 32 bytes
  // of its content's SHA-256 (snapshot_hash()).
  Digest hash;
  // Against the snapshot that was active when this one was read (all keys are `added`
  // for the first), each in byte order.
  std::vector<std::string> added;
  std::vector<std::string> changed;
  std::vector<std::string> removed;

  // The content of a key, or nullptr if the snapshot has no such key.
  const std::string* find(std::string_view key) const;
};

HOTRELOAD_EXPORT Digest snapshot_hash(const std::map<std::string, SnapshotKey, std::less<>>& keys);

}  // namespace hotreload

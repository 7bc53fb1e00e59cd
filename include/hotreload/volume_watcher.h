// VolumeWatcher: keeps a callback in step with a whole directory — above all a Kubernetes
// ConfigMap or Secret volume, whose keys the kubelet publishes together.
//
// The callback receives a Snapshot: every key with its content, the hashes, and which keys
// were added, changed or removed. A snapshot is accepted or refused as one: if the
// callback refuses it (or one key cannot be read, or is too large), the whole previous
// snapshot stays active.
//
// - Kubelet volume (the directory holds a `..data` symlink): the keys are the files of the
//   `..<timestamp>` directory that `..data` names, nested paths included, each read from
//   that one directory; `..data` is resolved again afterwards and the snapshot read again
//   if a publish landed meanwhile. A callback never sees keys of two publishes.
// - Plain directory: the keys are the regular files in it (and symlinks to regular files),
//   filtered by KeySelection. Each key is one whole version of its file, and a change
//   seen during the read makes it read again; but two files saved one after the other
//   are two changes, and a snapshot may fall between them. Publish through a symlink
//   swap when keys must change together.
// See Watcher for the rest of the promises.
#pragma once

#include <concepts>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hotreload/export.h"
#include "hotreload/snapshot.h"
#include "hotreload/watcher.h"

namespace hotreload {

// Which files of a directory are keys. Globs are fnmatch(3) patterns: one without a '/'
// matches a file's name, one with a '/' its relative path ("rules/*.yaml").
struct KeySelection {
  std::vector<std::string> include;  // empty: every file
  std::vector<std::string> exclude;  // applied after include
  bool recursive = false;  // plain directories: descend into subdirectories
  bool hidden = false;     // plain directories: names starting with '.' too (editors' swap files…)
  std::size_t keys_max = 1000;            // more files: the snapshot is refused (too_many_keys)
  std::size_t total_size_max = 64u << 20; // more bytes in all: refused (snapshot_too_large)
};

using SnapshotCallback = std::function<Verdict(const Snapshot& snapshot)>;

class HOTRELOAD_EXPORT VolumeWatcher : public Watcher {
 public:
  // dir may be relative (made absolute now). Options::read_size_max bounds each key.
  // Throws std::invalid_argument for an empty path or a non-positive interval or limit.
  VolumeWatcher(std::string dir, SnapshotCallback callback, Options options = {},
                KeySelection keys = {}, std::shared_ptr<Hub> hub = nullptr);
  // The same, with options shared by every watcher given them (null: the defaults); see
  // FileWatcher's.
  template <class Shared>
    requires std::convertible_to<Shared, std::shared_ptr<const Options>>
  VolumeWatcher(std::string dir, SnapshotCallback callback, Shared options,
                KeySelection keys = {}, std::shared_ptr<Hub> hub = nullptr)
      : VolumeWatcher(Sharing{}, std::move(dir), std::move(callback),
                      std::shared_ptr<const Options>(std::move(options)), std::move(keys),
                      std::move(hub)) {}

 private:
  struct Sharing {};
  VolumeWatcher(Sharing, std::string dir, SnapshotCallback callback,
                std::shared_ptr<const Options> options, KeySelection keys,
                std::shared_ptr<Hub> hub);
};

}  // namespace hotreload

// KeyChanges: which keys of a watched directory an accepted snapshot added, changed and
// removed — what a directory's validator and actions are told beside the hashes.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "hotreload/snapshot.h"

namespace hotreload::cli {

struct KeyChanges {
  std::vector<std::string> added, changed, removed;  // relative paths, each in byte order

  static KeyChanges of(const Snapshot& snapshot) {
    return {snapshot.added, snapshot.changed, snapshot.removed};
  }

  // The changes of this snapshot followed by those of later, as one: a key added then
  // removed is neither, removed then added is changed, added then changed is added.
  KeyChanges then(const KeyChanges& later) const;

  // HOTRELOAD_ADDED, HOTRELOAD_CHANGED, HOTRELOAD_REMOVED: the keys one per line (no
  // trailing newline; empty when none). ConfigMap and Secret keys never hold a newline.
  std::vector<std::pair<std::string, std::string>> environment() const;
};

}  // namespace hotreload::cli

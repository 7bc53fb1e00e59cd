// SnapshotCopy: a private, read-only copy of a candidate snapshot on disk, so that a
// directory's --validate-cmd checks the new keys together (`nginx -t -c
// "$HOTRELOAD_DIR/nginx.conf"` follows nginx.conf's relative includes into the copy) and
// never the live volume, which the kubelet may change meanwhile.
//
// The copy is a new directory made by mkdtemp(3) ("hotreload-snapshot-XXXXXX") with every
// key at its relative path: files 0444, the directories of nested keys 0555, and the top
// directory 0500 — read-only for everyone, and private to our user, since the keys of a
// Secret volume must not become readable by other users of the machine. It is removed by
// remove() or by the destructor, whatever the validator did (even as root, which may write
// into it regardless of the modes).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "duration.h"
#include "hotreload/snapshot.h"

namespace hotreload::cli {

class SnapshotCopy {
 public:
  // Writes snapshot's keys into a new directory under parent. On failure, nothing is
  // left behind and the sentence says what failed, e.g. "cannot make a directory in /tmp
  // (mkdtemp /tmp/hotreload-snapshot-XXXXXX): Read-only file system".
  static Parsed<std::unique_ptr<SnapshotCopy>> make(const Snapshot& snapshot,
                                                    const std::string& parent);
  ~SnapshotCopy();
  SnapshotCopy(const SnapshotCopy&) = delete;
  SnapshotCopy& operator=(const SnapshotCopy&) = delete;

  const std::string& dir() const { return dir_; }

  // Removes the copy now; says what could not be removed, if anything. Idempotent.
  std::optional<std::string> remove();

 private:
  explicit SnapshotCopy(std::string dir) : dir_(std::move(dir)) {}
  std::optional<std::string> write(const Snapshot& snapshot);

  std::string dir_;
  bool removed_ = false;
};

// Where copies go by default: $TMPDIR if set, else /tmp.
std::string default_copy_parent();

}  // namespace hotreload::cli

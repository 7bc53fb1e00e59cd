// TreeOp: one mutation of a directory tree, as data.
//
// Writers (the kubelet's atomic writer, an editor's save, an in-place rewrite…) are
// planned as sequences of TreeOps, so that the same plan runs on the real filesystem and
// on the simulated one, a scheduler can interleave watcher work between any two ops, and
// a failing sequence prints as something a person can read and replay.
#pragma once

#include <string>
#include <system_error>
#include <vector>

#include "hotreload/result.h"

namespace hotreload::harness {

struct TreeOp {
  enum class Kind {
    make_dir,     // path, mode
    write_file,   // path, content, mode: create or truncate, write, close (IN_CLOSE_WRITE)
    open_trunc,   // path: open O_TRUNC and keep it open (a non-atomic writer begins)
    append,       // path, content: write through the descriptor open_trunc kept
    close,        // path: close that descriptor (IN_CLOSE_WRITE)
    chmod,        // path, mode
    symlink,      // path = the link, other = its target
    rename,       // path -> other
    remove,       // path: a file, a symlink or an empty directory
    remove_all,   // path: rm -rf
  };
  Kind kind{};
  std::string path;
  std::string other;
  std::string content;
  unsigned mode = 0644;

  friend bool operator==(const TreeOp&, const TreeOp&) = default;
};

std::string to_string(const TreeOp& op);

// A directory tree that writers can change and look at. Implemented over the real
// filesystem (PosixTree) and over the simulated one (harness/sim_filesystem.h).
class MutableTree {
 public:
  virtual ~MutableTree() = default;
  virtual std::error_code apply(const TreeOp& op) = 0;
  virtual Result<std::string> read_link(const std::string& path) = 0;
  virtual bool exists(const std::string& path) = 0;  // lstat succeeds
  // Names in a directory, sorted; empty if it cannot be listed.
  virtual std::vector<std::string> list(const std::string& dir) = 0;
};

// Applies ops in order, stopping at the first error.
std::error_code apply_all(MutableTree& tree, const std::vector<TreeOp>& ops);

}  // namespace hotreload::harness

// The writers that change config files in the wild, planned as TreeOps.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tree_ops.h"

namespace hotreload::harness {

// The kubelet's AtomicWriter (pkg/volume/util/atomic_writer.go), op for op:
//   1. mkdir a new "..<timestamp>" directory;
//   2. write each key's file into it (making the directories of nested paths such as
//      "rules/alerts.yaml", which ConfigMap `items` can ask for), then chmod it;
//   3. symlink "..data_tmp" -> the new directory;
//   4. rename "..data_tmp" onto "..data" (the atomic switch);
//   5. create "name -> ..data/name" for each top-level name that has no visible link yet;
//   6. remove the visible links of top-level names no longer in the payload;
//   7. rm -rf the previous "..<timestamp>" directory.
class KubeletWriter {
 public:
  explicit KubeletWriter(std::string dir, unsigned file_mode = 0644)
      : dir_(std::move(dir)), file_mode_(file_mode) {}

  // The ops that publish payload (key -> content), given the tree as it is now, with the
  // files' mode (the volume's defaultMode), or the writer's own.
  std::vector<TreeOp> plan(MutableTree& tree, const std::map<std::string, std::string>& payload);
  std::vector<TreeOp> plan(MutableTree& tree, const std::map<std::string, std::string>& payload,
                           unsigned file_mode);

  const std::string& dir() const { return dir_; }

 private:
  std::string next_timestamp_dir();

  std::string dir_;
  unsigned file_mode_;
  uint64_t generation_ = 0;
};

// An editor's atomic save: write a hidden temporary file beside the target, rename it over.
std::vector<TreeOp> plan_editor_save(const std::string& path, const std::string& content);

// A non-atomic rewrite in place: open with O_TRUNC, write in chunks, close. Between the
// ops, readers see an empty or partial file.
std::vector<TreeOp> plan_in_place_write(const std::string& path, const std::string& content,
                                        std::size_t chunks = 2);

}  // namespace hotreload::harness

// PosixTree: TreeOps applied to the real filesystem with the syscalls a writer would use.
#pragma once

#include <map>

#include "tree_ops.h"

namespace hotreload::harness {

class PosixTree final : public MutableTree {
 public:
  ~PosixTree() override;
  std::error_code apply(const TreeOp& op) override;
  Result<std::string> read_link(const std::string& path) override;
  bool exists(const std::string& path) override;
  std::vector<std::string> list(const std::string& dir) override;

 private:
  std::map<std::string, int> open_;  // descriptors kept by open_trunc until close
};

}  // namespace hotreload::harness

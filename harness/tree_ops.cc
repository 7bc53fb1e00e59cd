#include "tree_ops.h"

#include <cstdio>

namespace hotreload::harness {

namespace {

std::string quoted_preview(const std::string& content) {
  std::string out = "\"";
  std::size_t shown = 0;
  for (char c : content) {
    if (shown++ == 24) {
      out += "…";
      break;
    }
    if (c == '\n') out += "\\n";
    else if (c == '"') out += "\\\"";
    else out += c;
  }
  return out + "\" (" + std::to_string(content.size()) + " B)";
}

std::string octal(unsigned mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", mode & 07777);
  return buf;
}

}  // namespace

std::string to_string(const TreeOp& op) {
  using K = TreeOp::Kind;
  switch (op.kind) {
    case K::make_dir: return "mkdir " + op.path + " " + octal(op.mode);
    case K::write_file:
      return "write " + op.path + " " + quoted_preview(op.content) + " " + octal(op.mode);
    case K::open_trunc: return "open_trunc " + op.path;
    case K::append: return "append " + op.path + " " + quoted_preview(op.content);
    case K::close: return "close " + op.path;
    case K::chmod: return "chmod " + octal(op.mode) + " " + op.path;
    case K::symlink: return "symlink " + op.path + " -> " + op.other;
    case K::rename: return "rename " + op.path + " => " + op.other;
    case K::remove: return "rm " + op.path;
    case K::remove_all: return "rm -rf " + op.path;
  }
  return "?";
}

std::error_code apply_all(MutableTree& tree, const std::vector<TreeOp>& ops) {
  for (const TreeOp& op : ops)
    if (std::error_code ec = tree.apply(op)) return ec;
  return {};
}

}  // namespace hotreload::harness

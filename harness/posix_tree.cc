#include "posix_tree.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

namespace hotreload::harness {

namespace {

std::error_code last_error() { return errno_code(errno); }

std::error_code write_all(int fd, const std::string& content) {
  std::size_t at = 0;
  while (at < content.size()) {
    ssize_t n = ::write(fd, content.data() + at, content.size() - at);
    if (n < 0) {
      if (errno == EINTR) continue;
      return last_error();
    }
    at += static_cast<std::size_t>(n);
  }
  return {};
}

}  // namespace

PosixTree::~PosixTree() {
  for (auto& [path, fd] : open_) ::close(fd);
}

std::error_code PosixTree::apply(const TreeOp& op) {
  using K = TreeOp::Kind;
  switch (op.kind) {
    case K::make_dir:
      return ::mkdir(op.path.c_str(), op.mode) == 0 ? std::error_code{} : last_error();
    case K::write_file: {
      int fd = ::open(op.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, op.mode);
      if (fd < 0) return last_error();
      std::error_code ec = write_all(fd, op.content);
      ::close(fd);
      return ec;
    }
    case K::open_trunc: {
      if (open_.count(op.path)) return std::make_error_code(std::errc::device_or_resource_busy);
      int fd = ::open(op.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, op.mode);
      if (fd < 0) return last_error();
      open_[op.path] = fd;
      return {};
    }
    case K::append: {
      auto it = open_.find(op.path);
      if (it == open_.end()) return std::make_error_code(std::errc::bad_file_descriptor);
      return write_all(it->second, op.content);
    }
    case K::close: {
      auto it = open_.find(op.path);
      if (it == open_.end()) return std::make_error_code(std::errc::bad_file_descriptor);
      ::close(it->second);
      open_.erase(it);
      return {};
    }
    case K::chmod:
      return ::chmod(op.path.c_str(), op.mode) == 0 ? std::error_code{} : last_error();
    case K::symlink:
      return ::symlink(op.other.c_str(), op.path.c_str()) == 0 ? std::error_code{}
                                                               : last_error();
    case K::rename:
      return ::rename(op.path.c_str(), op.other.c_str()) == 0 ? std::error_code{}
                                                              : last_error();
    case K::remove:
      return ::remove(op.path.c_str()) == 0 ? std::error_code{} : last_error();
    case K::remove_all: {
      std::error_code ec;
      std::filesystem::remove_all(op.path, ec);
      return ec;
    }
  }
  return std::make_error_code(std::errc::invalid_argument);
}

Result<std::string> PosixTree::read_link(const std::string& path) {
  std::error_code ec;
  auto target = std::filesystem::read_symlink(path, ec);
  if (ec) return ec;
  return target.string();
}

bool PosixTree::exists(const std::string& path) {
  struct ::stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

std::vector<std::string> PosixTree::list(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
    names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace hotreload::harness

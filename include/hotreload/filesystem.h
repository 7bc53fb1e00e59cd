// Filesystem: the few calls the watcher makes to look at files, and nothing more.
//
// The real implementation (src/posix/) is a thin layer over lstat/readlink/openat/fstat/
// read/readdir/statfs that reports errno exactly; the harness implements the same interface over
// an in-memory tree with injected faults. Paths are absolute.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "hotreload/export.h"
#include "hotreload/result.h"

namespace hotreload {

enum class FileType : uint8_t { regular, directory, symlink, other };

// The attributes the watcher's signature is made of.
struct FileStat {
  uint64_t dev = 0;
  uint64_t ino = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  FileType type = FileType::other;

  // Same file, same content as far as attributes can tell.
  friend bool operator==(const FileStat&, const FileStat&) = default;
};

// A file opened for reading. Promises that stat() and read() describe the same inode,
// whatever happens to the path afterwards.
class HOTRELOAD_EXPORT OpenFile {
 public:
  virtual ~OpenFile() = default;
  virtual Result<FileStat> stat() = 0;
  // Reads up to buffer.size() bytes; 0 means end of file.
  virtual Result<std::size_t> read(std::span<char> buffer) = 0;
};

class HOTRELOAD_EXPORT Filesystem {
 public:
  virtual ~Filesystem() = default;
  // Does not follow a symlink in the last component.
  virtual Result<FileStat> lstat(const std::string& path) = 0;
  virtual Result<std::string> readlink(const std::string& path) = 0;
  // Opens for reading; does not follow a symlink in the last component (ELOOP).
  virtual Result<std::unique_ptr<OpenFile>> open(const std::string& path) = 0;
  // The names in a directory (following a symlink to it), sorted bytewise, without "."
  // and "..". What each name is, the caller asks lstat.
  virtual Result<std::vector<std::string>> read_directory(const std::string& path) = 0;
  // The statfs(2) f_type magic of the filesystem holding path.
  virtual Result<uint64_t> filesystem_type(const std::string& path) = 0;
};

}  // namespace hotreload

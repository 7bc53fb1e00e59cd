#include "consistent_read.h"

#include <algorithm>
#include <cstdint>
#include <iterator>

#include "hotreload/errors.h"

namespace hotreload {

namespace {

bool same_version(const FileStat& a, const FileStat& b) {
  return a.dev == b.dev && a.ino == b.ino && a.size == b.size && a.mtime_ns == b.mtime_ns &&
         a.ctime_ns == b.ctime_ns;
}

// procfs, sysfs and their kin report a size (0, 4096) that is not what a read returns: a
// file there is made up at each read, and would otherwise look like one that keeps
// changing. Asked only when the bytes read disagree with the size.
bool is_pseudo_file(Filesystem& fs, const std::string& file) {
  constexpr uint64_t kPseudo[] = {
      0x9fa0,      // proc
      0x62656572,  // sysfs
      0x64626720,  // debugfs
      0x74726163,  // tracefs
      0x73636673,  // securityfs
      0x62656570,  // configfs
      0x27e0eb,    // cgroup
      0x63677270,  // cgroup2
  };
  auto type = fs.filesystem_type(file);
  return type && std::find(std::begin(kPseudo), std::end(kPseudo), *type) != std::end(kPseudo);
}

}  // namespace

Result<FileContent> consistent_read(Filesystem& fs, const std::string& file,
                                    const FileStat& expected, std::size_t size_max) {
  auto opened = fs.open(file);
  if (!opened) return opened.error();
  OpenFile& f = **opened;

  auto before = f.stat();
  if (!before) return before.error();
  if (before->type != FileType::regular) return make_error_code(Errc::not_regular_file);
  if (before->dev != expected.dev || before->ino != expected.ino)
    return make_error_code(Errc::unstable);  // replaced between the walk and the open
  if (before->size > size_max) return std::make_error_code(std::errc::file_too_large);

  // One byte of headroom tells a file that grew during the read from one that did not.
  std::string bytes(static_cast<std::size_t>(before->size) + 1, '\0');
  std::size_t used = 0;
  for (;;) {
    if (used == bytes.size()) {
      if (bytes.size() > size_max) return std::make_error_code(std::errc::file_too_large);
      bytes.resize(std::min(bytes.size() * 2, size_max + 1));
    }
    auto n = f.read(std::span<char>(bytes.data() + used, bytes.size() - used));
    if (!n) return n.error();
    if (*n == 0) break;
    used += *n;
  }
  if (used > size_max) return std::make_error_code(std::errc::file_too_large);
  bytes.resize(used);
  if (used != before->size && is_pseudo_file(fs, file)) return make_error_code(Errc::pseudo_file);

  auto after = f.stat();
  if (!after) return after.error();
  if (!same_version(*before, *after) || used != after->size) return make_error_code(Errc::unstable);
  return FileContent{std::move(bytes), *after};
}

}  // namespace hotreload

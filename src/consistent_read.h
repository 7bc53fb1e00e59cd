// ConsistentRead: the content of one version of a file, never a mix of two.
//
// Opens once, fstats, reads to end of file (bounded), fstats again. If the file is not
// the one the walk found, or its size, mtime or ctime moved during the read, or the bytes
// read disagree with the size, the read is refused as Errc::unstable and the caller
// retries. Larger than size_max is EFBIG, whatever the file claims. A file of procfs, sysfs
// and their kin, whose reported size is not what it holds, is Errc::pseudo_file.
#pragma once

#include <cstddef>
#include <string>

#include "hotreload/filesystem.h"

namespace hotreload {

struct FileContent {
  std::string bytes;
  FileStat stat;  // the open file's attributes, unchanged across the read
};

Result<FileContent> consistent_read(Filesystem& fs, const std::string& file,
                                    const FileStat& expected, std::size_t size_max);

}  // namespace hotreload

// LinkWitness: a directory's attributes standing in for a readlink of every symlink in it.
//
// A symlink is never changed in place: re-pointing one (`ln -sfn`, the kubelet's rename of
// `..data`) creates, renames or removes a name in its directory, and that moves the
// directory's mtime and ctime. So while a directory still has the attributes it had before
// its links were last read — and those were a timestamp tick old by then, so that a change
// in the same tick could not hide — its links still name what they named. A poll of a
// kubelet volume at rest then costs one lstat of the volume for all of its links (each key
// and `..data`), and one lstat per file, instead of two calls per key (a safety poll skips
// the files of the kubelet's payload: see KeyWatch::unchanged_since_last_look).
//
// Only a link directly in the directory is vouched for, and only if the directory is one
// (lstat, no symlink followed): a link below or above it is read as before. A filesystem
// whose directories do not stamp their changes (some FUSE ones) is found out by the next
// full look, and its volume then reads every link again (see Volume).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "hotreload/clock.h"
#include "lookup_cache.h"

namespace hotreload {

class LinkWitness {
 public:
  // No witness: every link is read.
  LinkWitness() = default;
  // dir's attributes as recorded before its links were last read, to compare with what fs
  // says now. Both must outlive the witness.
  LinkWitness(LookupCache& fs, const std::string& dir, const FileStat& recorded)
      : fs_(&fs), dir_(&dir), recorded_(&recorded) {}

  // True if the link at path is directly in the directory, and the directory is as
  // recorded (one lstat, asked the first time a link needs it).
  bool vouches_for(std::string_view path);

  // The attributes a full look records for dir, taken before it reads any link: nullopt
  // unless dir is a directory whose stamps were a timestamp tick old when the look began
  // (look_started_ns, the wall clock).
  static std::optional<FileStat> record(LookupCache& fs, const std::string& dir,
                                        int64_t look_started_ns);

 private:
  LookupCache* fs_ = nullptr;
  const std::string* dir_ = nullptr;
  const FileStat* recorded_ = nullptr;
  std::optional<bool> unchanged_;
};

}  // namespace hotreload

#include "link_witness.h"

#include "watch.h"

namespace hotreload {

bool LinkWitness::vouches_for(std::string_view path) {
  if (!fs_ || !directly_in(*dir_, path)) return false;
  if (!unchanged_) {
    auto now = fs_->lstat(*dir_);
    unchanged_ = now && *now == *recorded_;
  }
  return *unchanged_;
}

std::optional<FileStat> LinkWitness::record(LookupCache& fs, const std::string& dir,
                                            int64_t look_started_ns) {
  auto st = fs.lstat(dir);
  if (!st || st->type != FileType::directory) return std::nullopt;
  if (!settled(newest_stamp(*st), look_started_ns)) return std::nullopt;
  return *st;
}

}  // namespace hotreload

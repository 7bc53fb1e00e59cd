#include "link_witness.h"

#include "watch.h"

namespace hotreload {

bool directly_in(std::string_view dir, std::string_view path) {
  if (dir == "/") dir = "";
  if (path.size() <= dir.size() + 1 || !path.starts_with(dir) || path[dir.size()] != '/')
    return false;
  return path.find('/', dir.size() + 1) == std::string_view::npos;
}

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

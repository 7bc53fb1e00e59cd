#include "hotreload/errors.h"

#include <cerrno>
#include <cstring>

namespace hotreload {

namespace {

class Category : public std::error_category {
 public:
  const char* name() const noexcept override { return "hotreload"; }
  std::string message(int value) const override {
    switch (static_cast<Errc>(value)) {
      case Errc::empty_file: return "file is empty";
      case Errc::unstable: return "file kept changing while it was read";
      case Errc::rejected: return "content rejected";
      case Errc::not_regular_file: return "not a regular file";
      case Errc::too_many_keys: return "more files than the key limit";
      case Errc::snapshot_too_large: return "files larger in total than the snapshot limit";
      case Errc::empty_snapshot: return "no file to offer";
      case Errc::pseudo_file:
        return "not a regular file: its size as reported (a /proc or /sys file) is not what "
               "it holds";
    }
    return "unknown hotreload error";
  }
};

}  // namespace

const std::error_category& hotreload_category() noexcept {
  static const Category category;
  return category;
}

std::string error_name(std::error_code ec) {
  if (!ec) return "ok";
  if (ec.category() == hotreload_category()) {
    switch (static_cast<Errc>(ec.value())) {
      case Errc::empty_file: return "empty_file";
      case Errc::unstable: return "unstable";
      case Errc::rejected: return "rejected";
      case Errc::not_regular_file: return "not_regular_file";
      case Errc::too_many_keys: return "too_many_keys";
      case Errc::snapshot_too_large: return "snapshot_too_large";
      case Errc::empty_snapshot: return "empty_snapshot";
      case Errc::pseudo_file: return "pseudo_file";
    }
  }
  if (ec.category() == std::generic_category() || ec.category() == std::system_category()) {
    // strerrorname_np (glibc 2.32+) gives "ENOENT"; fall back to the number.
    if (const char* name = strerrorname_np(ec.value())) return name;
  }
  // Appended, not "E" + …: GCC 12 at -O3 warns a false -Wrestrict on the operator+ form.
  std::string name = "E";
  name += std::to_string(ec.value());
  return name;
}

}  // namespace hotreload

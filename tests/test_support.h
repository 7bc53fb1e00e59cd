// Shared by the real-filesystem tests: a temporary directory, a recording callback, and a
// bounded wait for the hub thread (never a fixed sleep: the wait ends as soon as the
// condition holds, and its bound only decides how long a broken build takes to fail).
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <boost/test/tools/detail/print_helper.hpp>

#include "hotreload/errors.h"
#include "hotreload/file_watcher.h"
#include "hotreload/filesystem.h"
#include "hotreload/snapshot.h"

// Let BOOST_TEST print the error enums it compares error_codes with.
namespace boost::test_tools::tt_detail {
template <>
struct print_log_value<std::errc> {
  void operator()(std::ostream& os, std::errc e) { os << std::make_error_code(e).message(); }
};
template <>
struct print_log_value<hotreload::Errc> {
  void operator()(std::ostream& os, hotreload::Errc e) { os << make_error_code(e).message(); }
};
template <>
struct print_log_value<hotreload::Digest> {
  void operator()(std::ostream& os, const hotreload::Digest& d) { os << d.short_hex(); }
};
template <>
struct print_log_value<std::optional<hotreload::Digest>> {
  void operator()(std::ostream& os, const std::optional<hotreload::Digest>& d) {
    os << (d ? d->short_hex() : std::string("none"));
  }
};
template <>
struct print_log_value<hotreload::DecisionKind> {
  void operator()(std::ostream& os, hotreload::DecisionKind k) { os << hotreload::to_string(k); }
};
template <>
struct print_log_value<hotreload::ActiveMode> {
  void operator()(std::ostream& os, hotreload::ActiveMode m) { os << hotreload::to_string(m); }
};
}  // namespace boost::test_tools::tt_detail

namespace hotreload::test {

using namespace std::chrono_literals;

inline constexpr auto kPatience = 10s;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "hotreload-test-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::add, ec);
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

// Writes a sibling and renames it over `path`: no reader ever sees the truncated file an
// in-place rewrite shows for a moment (and rightly counts as a failed read).
inline void replace_file(const std::string& path, const std::string& content) {
  write_file(path + ".tmp", content);
  std::filesystem::rename(path + ".tmp", path);
}

// Accepts every content except those that start with "bad"; records what it saw.
class Recorder {
 public:
  Callback callback() {
    return [this](std::string_view content) {
      std::lock_guard lock(mu_);
      seen_.emplace_back(content);
      changed_.notify_all();
      if (content.substr(0, 3) == "bad") return Verdict::reject("starts with bad");
      accepted_.emplace_back(content);
      return Verdict::accept();
    };
  }

  // Waits until the last accepted content equals expected.
  bool wait_accepted(const std::string& expected, std::chrono::milliseconds bound = kPatience) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, bound,
                             [&] { return !accepted_.empty() && accepted_.back() == expected; });
  }
  // Waits until the callback has seen n contents in all.
  bool wait_seen(std::size_t n, std::chrono::milliseconds bound = kPatience) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, bound, [&] { return seen_.size() >= n; });
  }
  std::vector<std::string> accepted() const {
    std::lock_guard lock(mu_);
    return accepted_;
  }
  std::vector<std::string> seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::vector<std::string> seen_;
  std::vector<std::string> accepted_;
};

// Another Filesystem, counting the lstat, readlink, open and listing calls made through it,
// per path.
class CountingFilesystem final : public Filesystem {
 public:
  explicit CountingFilesystem(Filesystem& fs) : fs_(fs) {}
  Result<FileStat> lstat(const std::string& p) override {
    ++lstats[p];
    return fs_.lstat(p);
  }
  Result<std::string> readlink(const std::string& p) override {
    ++readlinks[p];
    return fs_.readlink(p);
  }
  Result<std::unique_ptr<OpenFile>> open(const std::string& p) override {
    ++opens[p];
    return fs_.open(p);
  }
  Result<std::vector<std::string>> read_directory(const std::string& p) override {
    ++listings[p];
    return fs_.read_directory(p);
  }
  Result<uint64_t> filesystem_type(const std::string& p) override {
    return fs_.filesystem_type(p);
  }
  std::map<std::string, int> lstats, readlinks, opens, listings;

 private:
  Filesystem& fs_;
};

// A Decision kept past its on_decision call (a Decision's views are valid only during it).
struct SeenDecision {
  DecisionKind kind{};
  std::string path;
  std::error_code error;
  std::string detail;
  std::optional<Digest> hash;
  ActiveMode mode{};
  std::optional<Digest> previous;

  static SeenDecision of(const Decision& d) {
    return {d.kind, std::string(d.path), d.error, std::string(d.detail), d.hash, d.mode,
            d.previous};
  }
};

// A snapshot's keys and contents, to compare with what was published.
inline std::map<std::string, std::string> snapshot_keys(const Snapshot& s) {
  std::map<std::string, std::string> out;
  for (const auto& [key, entry] : s.keys) out.emplace(key, entry.content);
  return out;
}

// How many directories a volume at path has watched for it: path itself, and the ones
// above it on its filesystem (its anchor, shared with every volume below them).
inline std::size_t directories_up_to_mount(std::filesystem::path path) {
  std::size_t count = 1;
  struct ::stat st, up;
  while (path != "/" && ::stat(path.c_str(), &st) == 0 &&
         ::stat(path.parent_path().c_str(), &up) == 0 && st.st_dev == up.st_dev) {
    path = path.parent_path();
    ++count;
  }
  return count;
}

// Polls a condition that another thread makes true (status counters, say).
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds bound = kPatience) {
  auto until = std::chrono::steady_clock::now() + bound;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

}  // namespace hotreload::test

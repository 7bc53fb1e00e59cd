#include "snapshot_copy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <set>
#include <string_view>

namespace hotreload::cli {

namespace {

std::string errno_text() { return std::strerror(errno); }

// A key's path stays inside the copy: relative, and no part empty, "." or "..". (The
// library only produces such keys; this is the copy's own guard, not a filter.)
bool inside(std::string_view key) {
  if (key.empty() || key.front() == '/') return false;
  for (std::size_t start = 0;;) {
    std::size_t slash = key.find('/', start);
    std::string_view part = key.substr(start, slash == std::string_view::npos ? slash : slash - start);
    if (part.empty() || part == "." || part == "..") return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

std::optional<std::string> write_all(int fd, std::string_view content) {
  while (!content.empty()) {
    ssize_t n = ::write(fd, content.data(), content.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_text();
    content.remove_prefix(static_cast<std::size_t>(n));
  }
  return std::nullopt;
}

}  // namespace

std::string default_copy_parent() {
  const char* tmpdir = ::getenv("TMPDIR");
  return tmpdir && *tmpdir ? tmpdir : "/tmp";
}

Parsed<std::unique_ptr<SnapshotCopy>> SnapshotCopy::make(const Snapshot& snapshot,
                                                         const std::string& parent) {
  const std::string pattern =
      parent + (parent.ends_with('/') ? "" : "/") + "hotreload-snapshot-XXXXXX";
  std::string dir = pattern;
  if (::mkdtemp(dir.data()) == nullptr)
    return "cannot make a directory for the copy (mkdtemp " + pattern + "): " + errno_text() +
           " (TMPDIR chooses where)";
  std::unique_ptr<SnapshotCopy> copy(new SnapshotCopy(std::move(dir)));
  if (auto why = copy->write(snapshot)) return *why;  // the destructor removes what was made
  return copy;
}

std::optional<std::string> SnapshotCopy::write(const Snapshot& snapshot) {
  std::set<std::string> made;  // directories of nested keys, relative
  for (const auto& [key, entry] : snapshot.keys) {
    if (!inside(key)) return "key \"" + key + "\" is not a relative path inside the directory";
    for (std::size_t slash = key.find('/'); slash != std::string::npos;
         slash = key.find('/', slash + 1)) {
      std::string sub = key.substr(0, slash);
      if (made.insert(sub).second && ::mkdir((dir_ + "/" + sub).c_str(), 0700) != 0)
        return "cannot make " + dir_ + "/" + sub + ": " + errno_text();
    }
    const std::string file = dir_ + "/" + key;
    int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return "cannot write " + file + ": " + errno_text();
    std::optional<std::string> why = write_all(fd, entry.content);
    if (!why && ::fchmod(fd, 0444) != 0) why = errno_text();
    if (::close(fd) != 0 && !why) why = errno_text();
    if (why) return "cannot write " + file + ": " + *why;
  }
  // Read-only from here on, the deepest directories first.
  for (auto sub = made.rbegin(); sub != made.rend(); ++sub)
    if (::chmod((dir_ + "/" + *sub).c_str(), 0555) != 0)
      return "cannot make " + dir_ + "/" + *sub + " read-only: " + errno_text();
  if (::chmod(dir_.c_str(), 0500) != 0)
    return "cannot make " + dir_ + " read-only: " + errno_text();
  return std::nullopt;
}

std::optional<std::string> SnapshotCopy::remove() {
  if (removed_) return std::nullopt;
  removed_ = true;
  namespace fs = std::filesystem;
  // Writable again for its owner, each directory before the iterator opens it (the
  // validator may have changed modes: it owns the files too).
  ::chmod(dir_.c_str(), 0700);
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code type_ec;
    if (it->symlink_status(type_ec).type() == fs::file_type::directory)
      ::chmod(it->path().c_str(), 0700);
  }
  ec.clear();
  fs::remove_all(dir_, ec);
  if (ec) return "could not remove the validator's copy " + dir_ + ": " + ec.message();
  return std::nullopt;
}

SnapshotCopy::~SnapshotCopy() { (void)remove(); }

}  // namespace hotreload::cli

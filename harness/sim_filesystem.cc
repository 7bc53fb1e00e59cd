#include "sim_filesystem.h"

#include <sys/inotify.h>

#include <algorithm>
#include <cerrno>

namespace hotreload::harness {

namespace {

constexpr uint64_t kRootIno = 1;
constexpr unsigned kPermRead = 4;
constexpr unsigned kPermSearch = 1;

std::error_code err(int e) { return errno_code(e); }

// Pushes the components of path so that the first is popped first (pending.back()).
void push_components(std::vector<std::string>& pending, const std::string& path) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (end > start) parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  pending.insert(pending.end(), parts.rbegin(), parts.rend());
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

std::string to_string(FsCall call) {
  switch (call) {
    case FsCall::lstat: return "lstat";
    case FsCall::readlink: return "readlink";
    case FsCall::open: return "open";
    case FsCall::fstat: return "fstat";
    case FsCall::read: return "read";
    case FsCall::list: return "list";
    case FsCall::any: return "any";
  }
  return "?";
}

// An open file keeps its inode alive after unlink, and reads the inode's live content at
// its own offset: a writer that truncates and rewrites in place is seen mid-read.
class SimFilesystem::SimOpenFile final : public OpenFile {
 public:
  SimOpenFile(SimFilesystem& fs, uint64_t ino, std::string path)
      : fs_(fs), ino_(ino), path_(std::move(path)) {
    ++fs_.nodes_.at(ino_).open_count;
  }
  ~SimOpenFile() override {
    --fs_.nodes_.at(ino_).open_count;
    fs_.release_inode(ino_);
  }
  SimOpenFile(const SimOpenFile&) = delete;
  SimOpenFile& operator=(const SimOpenFile&) = delete;

  Result<FileStat> stat() override {
    if (std::error_code ec = fs_.fault(FsCall::fstat, path_)) return ec;
    return fs_.stat_of(ino_);
  }
  Result<std::size_t> read(std::span<char> buffer) override {
    if (std::error_code ec = fs_.fault(FsCall::read, path_)) return ec;
    return fs_.read_at(ino_, path_, offset_, buffer);
  }

 private:
  SimFilesystem& fs_;
  uint64_t ino_;
  std::string path_;
  uint64_t offset_ = 0;
};

SimFilesystem::SimFilesystem(std::shared_ptr<SimClock> clock) : clock_(std::move(clock)) {
  Node root;
  root.type = FileType::directory;
  root.mode = 0755;
  root.parent = kRootIno;
  root.mtime_ns = root.ctime_ns = stamp();
  nodes_.emplace(kRootIno, std::move(root));
}

SimFilesystem::~SimFilesystem() = default;

// --- path resolution ---

bool SimFilesystem::may(const Node& n, unsigned perm_bits, bool as_reader) const {
  if (!as_reader || reader_uid_ == 0) return true;
  unsigned granted = n.uid == reader_uid_ ? (n.mode >> 6) & 7 : n.mode & 7;
  return (granted & perm_bits) == perm_bits;
}

Result<SimFilesystem::Found> SimFilesystem::resolve(const std::string& path, bool follow_last,
                                                    bool as_reader) const {
  if (path.empty()) return err(ENOENT);
  if (path.front() != '/') return err(EINVAL);
  std::vector<std::string> pending;
  push_components(pending, path);
  uint64_t cur = kRootIno;
  int hops = 0;
  while (!pending.empty()) {
    std::string component = std::move(pending.back());
    pending.pop_back();
    const Node& dir = nodes_.at(cur);
    if (dir.type != FileType::directory) return err(ENOTDIR);
    if (!may(dir, kPermSearch, as_reader)) return err(EACCES);
    bool last = pending.empty();
    if (component == "." || component == "..") {
      if (component == "..") cur = dir.parent;
      if (last) return Found{nodes_.at(cur).parent, "", cur};
      continue;
    }
    auto it = dir.children.find(component);
    if (it == dir.children.end()) {
      if (last) return Found{cur, component, 0};
      return err(ENOENT);
    }
    const Node& child = nodes_.at(it->second);
    if (child.type == FileType::symlink && (!last || follow_last)) {
      if (++hops > kSymlinkHopsMax) return err(ELOOP);
      if (child.data.empty()) return err(ENOENT);
      if (child.data.front() == '/') cur = kRootIno;
      push_components(pending, child.data);
      continue;
    }
    if (last) return Found{cur, component, it->second};
    if (child.type != FileType::directory) return err(ENOTDIR);
    cur = it->second;
  }
  // A symlink to "/" (or a path of only "/") ends here.
  return Found{nodes_.at(cur).parent, "", cur};
}

// --- attributes ---

FileStat SimFilesystem::fresh_stat(uint64_t ino) const {
  const Node& n = nodes_.at(ino);
  FileStat st;
  st.dev = kDevice;
  st.ino = ino;
  st.type = n.type;
  st.size = n.type == FileType::directory ? 4096 : n.data.size();
  st.mtime_ns = n.mtime_ns;
  st.ctime_ns = n.ctime_ns;
  return st;
}

FileStat SimFilesystem::stat_of(uint64_t ino) {
  FileStat fresh = fresh_stat(ino);
  if (attr_ttl_.count() <= 0) return fresh;
  auto it = attr_cache_.find(ino);
  if (it != attr_cache_.end() && clock_->now() - it->second.taken < attr_ttl_) {
    if (!(it->second.stat == fresh)) ++counts_.stale_answers;
    return it->second.stat;
  }
  attr_cache_[ino] = CachedStat{fresh, clock_->now()};
  return fresh;
}

void SimFilesystem::set_attribute_cache(std::chrono::nanoseconds ttl) {
  attr_ttl_ = ttl;
  attr_cache_.clear();
}

std::error_code SimFilesystem::fault(FsCall call, const std::string& path) {
  if (hang_ && starts_with(path, hang_prefix_)) hang_(path);
  for (auto it = errors_.begin(); it != errors_.end(); ++it) {
    if ((it->call != call && it->call != FsCall::any) || !starts_with(path, it->prefix))
      continue;
    std::error_code ec = it->ec;
    if (it->remaining > 0 && --it->remaining == 0) errors_.erase(it);
    ++counts_.errors;
    if (ec == std::errc::no_such_file_or_directory) ++counts_.enoent_errors;
    if (ec == std::errc::too_many_symbolic_link_levels) ++counts_.eloop_errors;
    return ec;
  }
  return {};
}

void SimFilesystem::inject_error(FsCall call, std::error_code ec, std::string path_prefix,
                                 int times) {
  if (times == 0) return;
  errors_.push_back({call, ec, std::move(path_prefix), times});
}

void SimFilesystem::clear_faults() {
  errors_.clear();
  short_read_max_ = 0;
  mid_read_ = nullptr;
  set_attribute_cache(std::chrono::nanoseconds{0});
}

// --- Filesystem ---

Result<FileStat> SimFilesystem::lstat(const std::string& path) {
  if (std::error_code ec = fault(FsCall::lstat, path)) return ec;
  auto found = resolve(path, false, true);
  if (!found) return found.error();
  if (found->ino == 0) return err(ENOENT);
  return stat_of(found->ino);
}

Result<std::string> SimFilesystem::readlink(const std::string& path) {
  if (std::error_code ec = fault(FsCall::readlink, path)) return ec;
  auto found = resolve(path, false, true);
  if (!found) return found.error();
  if (found->ino == 0) return err(ENOENT);
  const Node& n = nodes_.at(found->ino);
  if (n.type != FileType::symlink) return err(EINVAL);
  return n.data;
}

Result<std::unique_ptr<OpenFile>> SimFilesystem::open(const std::string& path) {
  if (std::error_code ec = fault(FsCall::open, path)) return ec;
  auto found = resolve(path, false, true);
  if (!found) return found.error();
  if (found->ino == 0) return err(ENOENT);
  const Node& n = nodes_.at(found->ino);
  if (n.type == FileType::symlink) return err(ELOOP);  // O_NOFOLLOW
  if (!may(n, kPermRead, true)) return err(EACCES);
  return std::unique_ptr<OpenFile>(new SimOpenFile(*this, found->ino, path));
}

Result<std::vector<std::string>> SimFilesystem::read_directory(const std::string& path) {
  if (std::error_code ec = fault(FsCall::list, path)) return ec;
  auto found = resolve(path, true, true);
  if (!found) return found.error();
  if (found->ino == 0) return err(ENOENT);
  const Node& n = nodes_.at(found->ino);
  if (n.type != FileType::directory) return err(ENOTDIR);
  if (!may(n, kPermRead, true)) return err(EACCES);
  std::vector<std::string> names;
  names.reserve(n.children.size());
  for (const auto& [name, ino] : n.children) names.push_back(name);  // a std::map: sorted
  return names;
}

Result<uint64_t> SimFilesystem::filesystem_type(const std::string& path) {
  auto found = resolve(path, true, true);
  if (!found) return found.error();
  if (found->ino == 0) return err(ENOENT);
  return magic_;
}

Result<std::size_t> SimFilesystem::read_at(uint64_t ino, const std::string& path, uint64_t& offset,
                                           std::span<char> buffer) {
  const Node& n = nodes_.at(ino);
  if (n.type == FileType::directory) return err(EISDIR);
  std::size_t available = offset < n.data.size() ? n.data.size() - offset : 0;
  std::size_t count = std::min(buffer.size(), available);
  if (short_read_max_ > 0 && count > short_read_max_) {
    count = short_read_max_;
    ++counts_.short_reads;
  }
  std::copy_n(n.data.data() + offset, count, buffer.data());
  offset += count;
  if (count > 0 && mid_read_ && path.ends_with(mid_read_suffix_)) {
    auto change = std::move(mid_read_);
    mid_read_ = nullptr;
    ++counts_.mid_read_changes;
    if (!mid_read_suffix_.empty()) ++counts_.named_mid_read_changes;
    change();
  }
  return count;
}

// --- mutation ---

int64_t SimFilesystem::stamp() const {
  int64_t t = clock_->wall_ns();
  int64_t g = std::max<int64_t>(granularity_.count(), 1);
  return t - t % g;
}

void SimFilesystem::touch(Node& n, bool content) {
  if (directory_stamps_frozen_ && n.type == FileType::directory) return;
  int64_t t = stamp();
  if (content) n.mtime_ns = t;
  n.ctime_ns = t;
}

void SimFilesystem::notify(uint64_t ino, uint32_t mask, const std::string& name,
                           uint32_t cookie) {
  FsNotice notice{ino, mask, cookie, name};
  for (const auto& [handle, listener] : listeners_) listener(notice);
}

uint64_t SimFilesystem::create(uint64_t parent, const std::string& name, FileType type,
                               unsigned mode, std::string data) {
  uint64_t ino = next_ino_++;
  if (!free_inos_.empty()) {
    ino = free_inos_.back();
    free_inos_.pop_back();
    --next_ino_;
  }
  Node n;
  n.type = type;
  n.mode = mode & 07777;
  n.data = std::move(data);
  n.parent = parent;
  n.name = name;
  n.mtime_ns = n.ctime_ns = stamp();
  nodes_.emplace(ino, std::move(n));
  Node& dir = nodes_.at(parent);
  dir.children[name] = ino;
  touch(dir, true);
  notify(parent, IN_CREATE | (type == FileType::directory ? IN_ISDIR : 0), name);
  return ino;
}

bool SimFilesystem::pinned(uint64_t ino) const {
  for (const auto& [path, open_ino] : open_writers_)
    for (uint64_t at = nodes_.at(open_ino).parent; at != 0 && nodes_.count(at);
         at = at == kRootIno ? 0 : nodes_.at(at).parent)
      if (at == ino) return true;
  return false;
}

void SimFilesystem::release_inode(uint64_t ino) {
  auto it = nodes_.find(ino);
  if (it == nodes_.end() || it->second.links > 0 || it->second.open_count > 0) return;
  if (it->second.type == FileType::directory && pinned(ino)) {
    it->second.release_pending = true;
    return;
  }
  // A file still open in it reports to no directory now (its number may be reused).
  for (const auto& [path, open_ino] : open_writers_)
    if (nodes_.at(open_ino).parent == ino) nodes_.at(open_ino).parent = 0;
  notify(ino, IN_DELETE_SELF);
  attr_cache_.erase(ino);
  nodes_.erase(it);
  free_inos_.push_back(ino);
}

void SimFilesystem::unlink(uint64_t parent, const std::string& name) {
  Node& dir = nodes_.at(parent);
  uint64_t ino = dir.children.at(name);
  dir.children.erase(name);
  touch(dir, true);
  Node& n = nodes_.at(ino);
  n.links = 0;
  touch(n, false);
  if (n.type == FileType::directory) {
    // As the kernel orders them: the directory's own IN_DELETE_SELF and IN_IGNORED come
    // before its parent's IN_DELETE|IN_ISDIR.
    release_inode(ino);
    notify(parent, IN_DELETE | IN_ISDIR, name);
    return;
  }
  notify(parent, IN_DELETE, name);
  notify(ino, IN_ATTRIB);  // the link count changed
  release_inode(ino);
}

std::error_code SimFilesystem::apply(const TreeOp& op) {
  std::error_code ec = do_apply(op);
  if (after_change_) after_change_();
  return ec;
}

std::error_code SimFilesystem::do_apply(const TreeOp& op) {
  using K = TreeOp::Kind;
  switch (op.kind) {
    case K::make_dir: {
      auto found = resolve(op.path, false, false);
      if (!found) return found.error();
      if (found->ino != 0) return err(EEXIST);
      create(found->parent, found->name, FileType::directory, op.mode, {});
      return {};
    }
    case K::write_file: return do_write(op, false);
    case K::open_trunc: return do_write(op, true);
    case K::append:
    case K::close: {
      auto it = open_writers_.find(op.path);
      if (it == open_writers_.end()) return err(EBADF);
      uint64_t ino = it->second;
      Node& n = nodes_.at(ino);
      if (op.kind == K::append && op.content.empty()) return {};  // no write(2): no event
      // Reported to the directory the file was last linked in, under its last name, even
      // once unlinked (the kernel's dentry keeps both), unless that directory is gone too.
      uint32_t mask = op.kind == K::append ? IN_MODIFY : IN_CLOSE_WRITE;
      if (op.kind == K::append) {  // at the descriptor's offset: not O_APPEND
        std::size_t& at = writer_offsets_[op.path];
        if (n.data.size() < at + op.content.size()) n.data.resize(at + op.content.size(), '\0');
        n.data.replace(at, op.content.size(), op.content);
        at += op.content.size();
        touch(n, true);
      }
      if (n.parent != 0) notify(n.parent, mask, n.name);
      notify(ino, mask);
      if (op.kind == K::close) {
        open_writers_.erase(it);
        writer_offsets_.erase(op.path);
        --n.open_count;
        uint64_t above = n.parent;
        release_inode(ino);
        // The directories it pinned, removed meanwhile, go now, nearest first.
        while (above != 0 && above != kRootIno && nodes_.count(above)) {
          uint64_t next = nodes_.at(above).parent;
          if (nodes_.at(above).release_pending) release_inode(above);
          above = next;
        }
      }
      return {};
    }
    case K::chmod: {
      auto found = resolve(op.path, true, false);
      if (!found) return found.error();
      if (found->ino == 0) return err(ENOENT);
      Node& n = nodes_.at(found->ino);
      n.mode = op.mode & 07777;
      touch(n, false);
      attr_cache_.erase(found->ino);
      uint32_t isdir = n.type == FileType::directory ? IN_ISDIR : 0;
      notify(found->parent, IN_ATTRIB | isdir, found->name);
      notify(found->ino, IN_ATTRIB | isdir);  // the kernel flags a directory's own events too
      return {};
    }
    case K::symlink: {
      auto found = resolve(op.path, false, false);
      if (!found) return found.error();
      if (found->ino != 0) return err(EEXIST);
      create(found->parent, found->name, FileType::symlink, 0777, op.other);
      return {};
    }
    case K::rename: return do_rename(op.path, op.other);
    case K::remove: return do_remove(op.path, false);
    case K::remove_all: return do_remove(op.path, true);
  }
  return err(EINVAL);
}

// open(O_WRONLY|O_CREAT|O_TRUNC) follows symlinks, and creates the target of a dangling one.
std::error_code SimFilesystem::do_write(const TreeOp& op, bool keep_open) {
  if (keep_open && open_writers_.count(op.path)) return err(EBUSY);
  auto found = resolve(op.path, true, false);
  if (!found) return found.error();
  uint64_t ino = found->ino;
  if (ino == 0) {
    ino = create(found->parent, found->name, FileType::regular, op.mode, {});
  } else {
    Node& n = nodes_.at(ino);
    if (n.type == FileType::directory) return err(EISDIR);
    n.data.clear();
    touch(n, true);
    notify(found->parent, IN_MODIFY, found->name);
    notify(ino, IN_MODIFY);
  }
  Node& n = nodes_.at(ino);
  if (keep_open) {
    ++n.open_count;
    open_writers_[op.path] = ino;
    writer_offsets_[op.path] = 0;
    return {};
  }
  n.data = op.content;
  touch(n, true);
  if (!op.content.empty()) {  // write(2) of nothing is not made, and raises nothing
    notify(found->parent, IN_MODIFY, found->name);
    notify(ino, IN_MODIFY);
  }
  notify(found->parent, IN_CLOSE_WRITE, found->name);
  notify(ino, IN_CLOSE_WRITE);
  return {};
}

std::error_code SimFilesystem::do_rename(const std::string& from, const std::string& to) {
  // As the kernel does: both parents are looked up before the source itself.
  auto src = resolve(from, false, false);
  if (!src) return src.error();
  auto dst = resolve(to, false, false);
  if (!dst) return dst.error();
  if (src->ino == 0) return err(ENOENT);
  if (dst->ino == src->ino) return {};
  const bool src_dir = nodes_.at(src->ino).type == FileType::directory;
  if (src_dir) {  // a directory cannot move under itself (checked first, as the kernel does)
    for (uint64_t at = dst->parent;; at = nodes_.at(at).parent) {
      if (at == src->ino) return err(EINVAL);
      if (at == kRootIno) break;
    }
  }
  if (dst->ino != 0) {  // nor onto a directory above it (which holds it, so is not empty)
    for (uint64_t at = src->parent;; at = nodes_.at(at).parent) {
      if (at == dst->ino) return err(ENOTEMPTY);
      if (at == kRootIno) break;
    }
  }
  if (dst->ino != 0) {
    const Node& d = nodes_.at(dst->ino);
    bool dst_dir = d.type == FileType::directory;
    if (src_dir && !dst_dir) return err(ENOTDIR);
    if (!src_dir && dst_dir) return err(EISDIR);
    if (dst_dir && !d.children.empty()) return err(ENOTEMPTY);
  }
  uint32_t cookie = next_cookie_++;
  uint32_t isdir = src_dir ? IN_ISDIR : 0;
  uint64_t replaced = dst->ino;
  nodes_.at(src->parent).children.erase(src->name);
  touch(nodes_.at(src->parent), true);
  Node& to_dir = nodes_.at(dst->parent);
  if (replaced) nodes_.at(replaced).links = 0;
  to_dir.children[dst->name] = src->ino;
  touch(to_dir, true);
  Node& moved = nodes_.at(src->ino);
  moved.parent = dst->parent;
  moved.name = dst->name;
  touch(moved, false);
  notify(src->parent, IN_MOVED_FROM | isdir, src->name, cookie);
  notify(dst->parent, IN_MOVED_TO | isdir, dst->name, cookie);
  if (replaced) notify(replaced, IN_ATTRIB | isdir);  // its link count, before the move's own
  notify(src->ino, IN_MOVE_SELF);
  if (replaced) release_inode(replaced);
  return {};
}

std::error_code SimFilesystem::do_remove(const std::string& path, bool recursive) {
  auto found = resolve(path, false, false);
  if (!found) {
    // rm -rf of a path under a missing directory removes nothing and succeeds.
    if (recursive && found.error() == std::errc::no_such_file_or_directory) return {};
    return found.error();
  }
  if (found->ino == 0) return recursive ? std::error_code{} : err(ENOENT);
  const Node& n = nodes_.at(found->ino);
  if (n.type == FileType::directory && !n.children.empty()) {
    if (!recursive) return err(ENOTEMPTY);
    remove_tree(found->parent, found->name);
    return {};
  }
  unlink(found->parent, found->name);
  return {};
}

// Depth first, children before their directory, as rm -rf does.
void SimFilesystem::remove_tree(uint64_t parent, const std::string& name) {
  uint64_t ino = nodes_.at(parent).children.at(name);
  if (nodes_.at(ino).type == FileType::directory) {
    std::vector<std::string> names;
    for (const auto& [child, child_ino] : nodes_.at(ino).children) names.push_back(child);
    for (const std::string& child : names) remove_tree(ino, child);
  }
  unlink(parent, name);
}

// --- MutableTree's look-ups, and the oracle ---

Result<std::string> SimFilesystem::read_link(const std::string& path) {
  auto found = resolve(path, false, false);
  if (!found) return found.error();
  if (found->ino == 0) return err(ENOENT);
  const Node& n = nodes_.at(found->ino);
  if (n.type != FileType::symlink) return err(EINVAL);
  return n.data;
}

bool SimFilesystem::exists(const std::string& path) { return inode_of(path, false) != 0; }

std::vector<std::string> SimFilesystem::list(const std::string& dir) {
  std::vector<std::string> names;
  uint64_t ino = inode_of(dir, true);
  if (ino == 0 || nodes_.at(ino).type != FileType::directory) return names;
  for (const auto& [name, child] : nodes_.at(ino).children) names.push_back(name);
  return names;
}

uint64_t SimFilesystem::inode_of(const std::string& path, bool follow_last) const {
  auto found = resolve(path, follow_last, false);
  return found ? found->ino : 0;
}

Result<uint64_t> SimFilesystem::watchable_inode(const std::string& path) const {
  auto found = resolve(path, true, true);
  if (!found) return found.error();
  if (found->ino == 0) return err(ENOENT);
  if (!may(nodes_.at(found->ino), kPermRead, true)) return err(EACCES);
  return found->ino;
}

Peek SimFilesystem::peek(const std::string& path) const {
  Peek p;
  auto found = resolve(path, true, false);
  if (!found) {
    p.error = found.error();
    return p;
  }
  if (found->ino == 0) {
    p.error = err(ENOENT);
    return p;
  }
  const Node& n = nodes_.at(found->ino);
  if (n.type != FileType::regular) {
    p.error = err(n.type == FileType::directory ? EISDIR : EINVAL);
    return p;
  }
  p.regular = true;
  p.content = n.data;
  auto as_reader = resolve(path, true, true);
  p.readable = as_reader && as_reader->ino == found->ino && may(n, kPermRead, true);
  return p;
}

}  // namespace hotreload::harness

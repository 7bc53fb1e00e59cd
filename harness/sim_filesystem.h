// SimFilesystem: an in-memory tree of files, directories and symlinks behind both the
// watcher's Filesystem seam (as the reading, unprivileged process) and the writers'
// MutableTree (as root, the kubelet), with faults injected per operation.
//
// It resolves paths as the kernel does (relative symlink targets against the link's
// directory, ".." by the physical parent, ELOOP after 40 hops), enforces permissions for
// the reader, keeps inode numbers, one device, and mtime/ctime at a chosen granularity.
// Every mutation is reported to listeners as inotify would see it (FsNotice), which is
// where SimEvents gets its events.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hotreload/filesystem.h"
#include "sim_clock.h"
#include "tree_ops.h"

namespace hotreload::harness {

// Which Filesystem call a fault applies to.
enum class FsCall : uint8_t { lstat, readlink, open, fstat, read, list, any };
std::string to_string(FsCall call);

// One change as inotify sees it: an event for watches on inode ino. For an event about a
// child of a directory, name is the child's name; for the inode itself, name is empty.
struct FsNotice {
  uint64_t ino = 0;
  uint32_t mask = 0;
  uint32_t cookie = 0;
  std::string name;
};

// What the harness's oracle sees at a path, privileged and without faults.
struct Peek {
  bool regular = false;           // resolves (following symlinks) to a regular file
  bool readable = false;          // and the reader's permissions allow reading it
  std::string content;            // when regular
  std::error_code error;          // why not regular
};

// How many times each kind of fault was actually served to the watcher.
struct FsFaultCounts {
  uint64_t errors = 0;         // injected errors returned, all errnos
  uint64_t enoent_errors = 0;  // of which ENOENT
  uint64_t eloop_errors = 0;   // of which ELOOP
  uint64_t short_reads = 0;
  uint64_t mid_read_changes = 0;      // on_next_read() changes that ran, any file
  uint64_t named_mid_read_changes = 0;  // of which those given a path suffix
  uint64_t stale_answers = 0;
};

class SimFilesystem final : public Filesystem, public MutableTree {
 public:
  static constexpr uint64_t kDevice = 0x2a;
  static constexpr uint64_t kTmpfsMagic = 0x01021994;
  static constexpr uint64_t kNfsMagic = 0x6969;
  static constexpr uint32_t kReaderUid = 1000;  // the watching process: not root
  static constexpr int kSymlinkHopsMax = 40;

  explicit SimFilesystem(std::shared_ptr<SimClock> clock);
  ~SimFilesystem() override;
  SimFilesystem(const SimFilesystem&) = delete;
  SimFilesystem& operator=(const SimFilesystem&) = delete;

  // --- Filesystem: the watcher's view (uid kReaderUid, faults apply) ---
  Result<FileStat> lstat(const std::string& path) override;
  Result<std::string> readlink(const std::string& path) override;
  Result<std::unique_ptr<OpenFile>> open(const std::string& path) override;
  Result<std::vector<std::string>> read_directory(const std::string& path) override;
  Result<uint64_t> filesystem_type(const std::string& path) override;

  // --- MutableTree: the writers' view (root, no faults) ---
  std::error_code apply(const TreeOp& op) override;
  Result<std::string> read_link(const std::string& path) override;
  bool exists(const std::string& path) override;
  std::vector<std::string> list(const std::string& dir) override;

  // --- configuration ---
  void set_timestamp_granularity(std::chrono::nanoseconds g) { granularity_ = g; }
  void set_filesystem_type(uint64_t magic) { magic_ = magic; }
  void set_reader_uid(uint32_t uid) { reader_uid_ = uid; }
  // Directories keep their mtime and ctime whatever is created, renamed or removed in
  // them, as on some FUSE filesystems: their attributes cannot vouch for their names.
  void set_directory_stamps_frozen(bool frozen) { directory_stamps_frozen_ = frozen; }

  // --- faults (all cleared by clear_faults) ---
  // The next `times` calls of `call` (-1: until cleared) on a path starting with
  // path_prefix (empty: any) fail with ec. For fstat/read the path is the one opened.
  void inject_error(FsCall call, std::error_code ec, std::string path_prefix = {},
                    int times = -1);
  // read() returns at most this many bytes per call (0: no limit).
  void set_short_reads(std::size_t bytes_max) { short_read_max_ = bytes_max; }
  // Runs once, right after the next read() of an open file (whose path ends with
  // path_suffix, if given) has returned its first bytes: a writer that replaces the
  // content or swaps a symlink while the watcher reads.
  void on_next_read(std::function<void()> change, std::string path_suffix = {}) {
    mid_read_ = std::move(change);
    mid_read_suffix_ = std::move(path_suffix);
  }
  // lstat/fstat answer from a per-inode attribute cache filled at most ttl ago, as NFS
  // attribute caching does (0: always fresh).
  void set_attribute_cache(std::chrono::nanoseconds ttl);
  // Every reader call on a path starting with path_prefix first calls hang(path), which
  // blocks as a dead mount's server would, until the harness lets it go (see Lockstep).
  // Not cleared by clear_faults: a dead server stays dead until it comes back.
  void set_hang(std::string path_prefix, std::function<void(const std::string&)> hang) {
    hang_prefix_ = std::move(path_prefix);
    hang_ = std::move(hang);
  }
  void clear_faults();
  const FsFaultCounts& fault_counts() const { return counts_; }

  // --- observation ---
  using Listener = std::function<void(const FsNotice&)>;
  // Returns a handle for remove_listener (a listener must not outlive what it captures).
  uint64_t add_listener(Listener l) {
    listeners_.emplace(next_listener_, std::move(l));
    return next_listener_++;
  }
  void remove_listener(uint64_t handle) { listeners_.erase(handle); }
  // Called after every completed TreeOp (including those run mid-read).
  void set_after_change(std::function<void()> f) { after_change_ = std::move(f); }
  Peek peek(const std::string& path) const;
  // Resolves path (following symlinks) to an inode, privileged; 0 if it does not resolve.
  uint64_t inode_of(const std::string& path, bool follow_last = true) const;
  // The reader's lookup of a directory for inotify_add_watch (needs read permission).
  Result<uint64_t> watchable_inode(const std::string& path) const;
  std::size_t inode_count() const { return nodes_.size(); }

 private:
  struct Node {
    FileType type = FileType::regular;
    unsigned mode = 0644;
    uint32_t uid = 0;
    std::string data;  // file content or symlink target
    std::map<std::string, uint64_t> children;
    uint64_t parent = 0;
    std::string name;  // its last name in parent: an unlinked file's open descriptor still
                       // reports to it, as the kernel's dentry does
    uint32_t links = 1;
    uint32_t open_count = 0;
    bool release_pending = false;  // a removed directory an open file below still pins
    int64_t mtime_ns = 0;
    int64_t ctime_ns = 0;
  };
  struct Found {
    uint64_t parent = 0;
    std::string name;
    uint64_t ino = 0;  // 0: the last component does not exist
  };
  struct ErrorFault {
    FsCall call;
    std::error_code ec;
    std::string prefix;
    int remaining;
  };
  struct CachedStat {
    FileStat stat;
    SteadyTime taken;
  };
  class SimOpenFile;

  Result<Found> resolve(const std::string& path, bool follow_last, bool as_reader) const;
  bool may(const Node& n, unsigned perm_bits, bool as_reader) const;
  FileStat stat_of(uint64_t ino);
  FileStat fresh_stat(uint64_t ino) const;
  std::error_code fault(FsCall call, const std::string& path);
  int64_t stamp() const;
  void touch(Node& n, bool content);
  uint64_t create(uint64_t parent, const std::string& name, FileType type, unsigned mode,
                  std::string data);
  void unlink(uint64_t parent, const std::string& name);
  void release_inode(uint64_t ino);
  void notify(uint64_t ino, uint32_t mask, const std::string& name = {}, uint32_t cookie = 0);
  std::error_code do_apply(const TreeOp& op);
  std::error_code do_write(const TreeOp& op, bool keep_open);
  std::error_code do_rename(const std::string& from, const std::string& to);
  std::error_code do_remove(const std::string& path, bool recursive);
  void remove_tree(uint64_t parent, const std::string& name);
  Result<std::size_t> read_at(uint64_t ino, const std::string& path, uint64_t& offset,
                              std::span<char> buffer);

  std::shared_ptr<SimClock> clock_;
  std::map<uint64_t, Node> nodes_;
  uint64_t next_ino_ = 2;
  // Numbers of released inodes, the last released reused first, as ext4 and xfs often
  // do: a directory removed and made again may have the same (dev, ino).
  std::vector<uint64_t> free_inos_;
  uint32_t next_cookie_ = 1;
  std::chrono::nanoseconds granularity_{1};
  bool directory_stamps_frozen_ = false;
  uint64_t magic_ = kTmpfsMagic;
  uint32_t reader_uid_ = kReaderUid;
  std::map<std::string, uint64_t> open_writers_;  // open_trunc .. close
  std::map<std::string, std::size_t> writer_offsets_;  // each one's file offset
  // Whether an open file lies below directory ino: its dentry pins every directory above
  // it, whose inode (and IN_DELETE_SELF) then outlives its removal until the close.
  bool pinned(uint64_t ino) const;
  std::string hang_prefix_;
  std::function<void(const std::string&)> hang_;

  std::vector<ErrorFault> errors_;
  std::size_t short_read_max_ = 0;
  std::function<void()> mid_read_;
  std::string mid_read_suffix_;
  std::chrono::nanoseconds attr_ttl_{0};
  std::map<uint64_t, CachedStat> attr_cache_;
  FsFaultCounts counts_;

  std::map<uint64_t, Listener> listeners_;  // in registration order
  uint64_t next_listener_ = 1;
  std::function<void()> after_change_;
};

}  // namespace hotreload::harness

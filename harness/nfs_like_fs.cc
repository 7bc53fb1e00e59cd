// nfs_like: a FUSE daemon that mounts a BACKING directory and behaves, towards a watcher,
// the way an NFS client mount does — for tests, the real-filesystem campaign and benchmarks
// on machines (CI, containers) whose kernel has no NFS client.
//
// What a watcher meets on NFS, and how this daemon gives it:
//   - no inotify event for a change made on the server or by another client: writers work
//     in BACKING underneath; the kernel only ever announces changes made through a mount
//   - attributes cached for actimeo: the kernel's attr/entry/negative timeouts
//     (--attr-timeout), while open() revalidates them (close-to-open, as NFS does)
//   - ESTALE after a server restart, and calls that hang while the server is away: modes
//     read from a control file by a thread of the daemon, so a test switches them at will
//
// Every call on the mount passes through one Switch (the mode) and then straight to
// BACKING, by *at() calls relative to a descriptor of BACKING opened before the mount (so
// BACKING may even be the mount point itself). Open files keep their backing fd in fh,
// open directories their DIR*.
#define FUSE_USE_VERSION 312  // fuse_loop_mt with a config (max_threads): libfuse >= 3.12

#include <dirent.h>
#include <fcntl.h>
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "command_line.h"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr double kAttrTimeoutMaxS = 3600;
constexpr auto kControlPoll = 20ms;
constexpr auto kInterruptPoll = 50ms;
constexpr std::size_t kControlReadMax = 256;  // the mode is the first word; the rest is ignored
// A hung call holds its thread, and a caller's INTERRUPT needs a free one to be read: libfuse's
// default of 10 would let 10 hung callers make every other one deaf to signals.
constexpr unsigned kThreadsMax = 64;

enum class Mode { ok, stale, hang };

const char* mode_name(Mode mode) {
  switch (mode) {
    case Mode::ok: return "ok";
    case Mode::stale: return "stale";
    case Mode::hang: return "hang";
  }
  return "?";
}

// The mode every call on the mount passes through first.
class Switch {
 public:
  void set(Mode mode) {
    {
      std::lock_guard lock(mutex_);
      mode_ = mode;
    }
    changed_.notify_all();
  }

  // The daemon is stopping: let hung calls go, or the loop cannot join its threads.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_all();
  }

  // 0 to go on to BACKING, or the error to answer with. Blocks while the mode is hang.
  int pass(bool stale_exempt) {
    std::unique_lock lock(mutex_);
    while (mode_ == Mode::hang && !stopping_) {
      // A caller that gets a signal makes the kernel send an INTERRUPT for its call; only
      // the call's own thread can see it (fuse_interrupted), hence a timed wait. Without
      // this a `timeout stat` on a hung mount would never return (the kernel waits for the
      // answer uninterruptibly once the daemon has the call).
      if (fuse_interrupted()) return -EINTR;
      changed_.wait_for(lock, kInterruptPoll);
    }
    if (mode_ == Mode::hang) return -EIO;  // stopping
    if (mode_ == Mode::stale && !stale_exempt) return -ESTALE;
    return 0;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  Mode mode_ = Mode::ok;
  bool stopping_ = false;
};

// Reads the control file every kControlPoll, sets the Switch, and reports each mode once in
// effect in FILE.state. Also the one that notices the session ending (SIGTERM) and lets
// hung calls go.
class Control {
 public:
  Control(std::string path, Switch& gate) : path_(std::move(path)), gate_(gate) {}

  // Applies the file's mode before the first call is served, then follows it.
  void start(fuse_session* session) {
    session_ = session;
    poll();
    // Signals stay with the main thread: fuse's SIGTERM handler must interrupt its wait.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    thread_ = std::thread([this] { run(); });
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }

  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
    // A state file left behind would tell the next waiter that a dead daemon obeyed.
    ::unlink((path_ + ".state").c_str());
  }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, kControlPoll, [this] { return stopping_; })) {
      if (fuse_session_exited(session_)) gate_.stop();
      poll();
    }
  }

  void poll() {
    std::optional<Mode> mode = read_mode();
    if (!mode || mode == applied_) return;
    gate_.set(*mode);
    applied_ = mode;
    write_state(*mode);
  }

  // The file's first word, as a mode; nothing when the file cannot tell (kept as it was).
  std::optional<Mode> read_mode() {
    int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
      if (errno == ENOENT) return Mode::ok;
      complain("cannot read " + path_ + ": " + std::strerror(errno));
      return std::nullopt;
    }
    char buf[kControlReadMax];
    ssize_t n = ::read(fd, buf, sizeof buf);
    ::close(fd);
    if (n < 0) {
      complain("cannot read " + path_ + ": " + std::strerror(errno));
      return std::nullopt;
    }
    std::string text(buf, static_cast<std::size_t>(n));
    const char* space = " \t\r\n";
    std::size_t begin = text.find_first_not_of(space);
    if (begin == std::string::npos) return Mode::ok;
    std::string word = text.substr(begin, text.find_first_of(space, begin) - begin);
    for (Mode m : {Mode::ok, Mode::stale, Mode::hang})
      if (word == mode_name(m)) return m;
    complain(path_ + " says \"" + word + "\", not a mode (ok, stale, hang); mode stays " +
             mode_name(applied_.value_or(Mode::ok)));
    return std::nullopt;
  }

  // Once per distinct complaint: the file is read 50 times a second.
  void complain(const std::string& what) {
    if (what == last_complaint_) return;
    last_complaint_ = what;
    std::cerr << "nfs_like: " << what << "\n";
  }

  // Replaced by rename, so a reader never sees half a word.
  void write_state(Mode mode) {
    const std::string state = path_ + ".state", temporary = state + ".tmp";
    const std::string text = std::string(mode_name(mode)) + "\n";
    int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    bool written = fd >= 0 && ::write(fd, text.data(), text.size()) ==
                                  static_cast<ssize_t>(text.size());
    if (fd >= 0) ::close(fd);
    if (!written || ::rename(temporary.c_str(), state.c_str()) != 0)
      complain("cannot write " + state + ": " + std::strerror(errno));
  }

  const std::string path_;
  Switch& gate_;
  fuse_session* session_ = nullptr;
  std::optional<Mode> applied_;
  std::string last_complaint_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

struct Volume {
  int backing = -1;  // O_PATH descriptor of BACKING
  double attr_timeout_s = 1;
  Switch gate;
};

Volume& volume() { return *static_cast<Volume*>(fuse_get_context()->private_data); }

// A path of the mount ("/", "/a/b") as one relative to BACKING.
const char* rel(const char* path) { return path[1] == '\0' ? "." : path + 1; }

int result(int r) { return r == -1 ? -errno : 0; }

int fd_of(const fuse_file_info* fi) { return static_cast<int>(fi->fh); }

// As root, files made through the mount would be root's; give them to the caller, as an
// NFS server without root squashing does.
int give_to_caller(const char* path) {
  if (::geteuid() != 0) return 0;
  const fuse_context* caller = fuse_get_context();
  return result(::fchownat(volume().backing, rel(path), caller->uid, caller->gid,
                           AT_SYMLINK_NOFOLLOW));
}

void* nfs_init(fuse_conn_info*, fuse_config* cfg) {
  Volume& v = volume();
  cfg->attr_timeout = cfg->entry_timeout = cfg->negative_timeout = v.attr_timeout_s;
  cfg->use_ino = 1;  // the backing inode numbers: a replaced file shows a new one, as on NFS
  // Files unlinked while open stay readable through their fd, not renamed to .fuse_hidden*
  // in BACKING (where a watcher of BACKING would see them).
  cfg->hard_remove = 1;
  cfg->nullpath_ok = 1;
  return &v;
}

// An open file that the server no longer has (deleted, or replaced by a rename over its
// name, underneath): NFS answers ESTALE for its handle, where a local filesystem goes on
// reading the unlinked inode. (A client's own unlink of an open file is "silly renamed" by
// NFS and stays readable; here, with hard_remove, it is stale too.)
int gone_on_server(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return -errno;
  return st.st_nlink == 0 ? -ESTALE : 0;
}

int nfs_getattr(const char* path, struct stat* st, fuse_file_info* fi) {
  // The root answers even when stale: a client keeps its mount point after a server restart.
  if (int e = volume().gate.pass(path != nullptr && std::strcmp(path, "/") == 0)) return e;
  if (fi != nullptr) {
    if (int e = gone_on_server(fd_of(fi))) return e;
    return result(::fstat(fd_of(fi), st));
  }
  return result(::fstatat(volume().backing, rel(path), st, AT_SYMLINK_NOFOLLOW));
}

int nfs_readlink(const char* path, char* buf, size_t size) {
  if (int e = volume().gate.pass(false)) return e;
  ssize_t n = ::readlinkat(volume().backing, rel(path), buf, size - 1);
  if (n < 0) return -errno;
  buf[n] = '\0';
  return 0;
}

int nfs_mkdir(const char* path, mode_t mode) {
  if (int e = volume().gate.pass(false)) return e;
  if (::mkdirat(volume().backing, rel(path), mode) != 0) return -errno;
  return give_to_caller(path);
}

int nfs_unlink(const char* path) {
  if (int e = volume().gate.pass(false)) return e;
  return result(::unlinkat(volume().backing, rel(path), 0));
}

int nfs_rmdir(const char* path) {
  if (int e = volume().gate.pass(false)) return e;
  return result(::unlinkat(volume().backing, rel(path), AT_REMOVEDIR));
}

int nfs_symlink(const char* target, const char* path) {
  if (int e = volume().gate.pass(false)) return e;
  if (::symlinkat(target, volume().backing, rel(path)) != 0) return -errno;
  return give_to_caller(path);
}

int nfs_rename(const char* from, const char* to, unsigned int flags) {
  if (int e = volume().gate.pass(false)) return e;
  if ((flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) != 0) return -EINVAL;
  return result(::renameat2(volume().backing, rel(from), volume().backing, rel(to), flags));
}

int nfs_chmod(const char* path, mode_t mode, fuse_file_info* fi) {
  if (int e = volume().gate.pass(false)) return e;
  if (fi != nullptr) return result(::fchmod(fd_of(fi), mode));
  return result(::fchmodat(volume().backing, rel(path), mode, 0));
}

int nfs_chown(const char* path, uid_t uid, gid_t gid, fuse_file_info* fi) {
  if (int e = volume().gate.pass(false)) return e;
  if (fi != nullptr) return result(::fchown(fd_of(fi), uid, gid));
  return result(::fchownat(volume().backing, rel(path), uid, gid, AT_SYMLINK_NOFOLLOW));
}

int nfs_truncate(const char* path, off_t size, fuse_file_info* fi) {
  if (int e = volume().gate.pass(false)) return e;
  if (fi != nullptr) return result(::ftruncate(fd_of(fi), size));
  int fd = ::openat(volume().backing, rel(path), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  int r = result(::ftruncate(fd, size));
  ::close(fd);
  return r;
}

int nfs_open(const char* path, fuse_file_info* fi) {
  if (int e = volume().gate.pass(false)) return e;
  int fd = ::openat(volume().backing, rel(path), fi->flags | O_CLOEXEC);
  if (fd < 0) return -errno;
  fi->fh = static_cast<uint64_t>(fd);
  // Close-to-open, as NFS: an open sees the file's current attributes, whatever the cache
  // holds. Otherwise a read would stop at a cached, older size (the kernel limits reads to
  // it) and return new bytes cut short — a torn read no NFS client produces.
  fuse_invalidate_path(fuse_get_context()->fuse, path);
  return 0;
}

int nfs_read(const char*, char* buf, size_t size, off_t offset, fuse_file_info* fi) {
  if (int e = volume().gate.pass(false)) return e;
  if (int e = gone_on_server(fd_of(fi))) return e;
  ssize_t n = ::pread(fd_of(fi), buf, size, offset);
  return n < 0 ? -errno : static_cast<int>(n);
}

int nfs_write(const char*, const char* buf, size_t size, off_t offset, fuse_file_info* fi) {
  if (int e = volume().gate.pass(false)) return e;
  ssize_t n = ::pwrite(fd_of(fi), buf, size, offset);
  return n < 0 ? -errno : static_cast<int>(n);
}

int nfs_statfs(const char*, struct statvfs* st) {
  // Answers even when stale: df on a client lists the mount after a server restart.
  if (int e = volume().gate.pass(true)) return e;
  return result(::fstatvfs(volume().backing, st));
}

int nfs_flush(const char*, fuse_file_info* fi) {
  if (int e = volume().gate.pass(false)) return e;
  // Each close(2) of the caller's descriptor: report what closing a copy of ours reports.
  int copy = ::dup(fd_of(fi));
  return copy < 0 ? -errno : result(::close(copy));
}

int nfs_release(const char*, fuse_file_info* fi) {
  volume().gate.pass(false);  // may wait while hung; the fd is closed whatever it says
  ::close(fd_of(fi));
  return 0;
}

int nfs_fsync(const char*, int datasync, fuse_file_info* fi) {
  if (int e = volume().gate.pass(false)) return e;
  return result(datasync ? ::fdatasync(fd_of(fi)) : ::fsync(fd_of(fi)));
}

int nfs_opendir(const char* path, fuse_file_info* fi) {
  if (int e = volume().gate.pass(false)) return e;
  int fd = ::openat(volume().backing, rel(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -errno;
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) {
    int e = errno;
    ::close(fd);
    return -e;
  }
  fi->fh = reinterpret_cast<uint64_t>(dir);
  return 0;
}

DIR* dir_of(const fuse_file_info* fi) { return reinterpret_cast<DIR*>(fi->fh); }

int nfs_readdir(const char*, void* buf, fuse_fill_dir_t fill, off_t, fuse_file_info* fi,
                fuse_readdir_flags) {
  if (int e = volume().gate.pass(false)) return e;
  // Offsets 0: the library keeps the whole listing and serves it in pieces; a rewind asks
  // again from the start.
  DIR* dir = dir_of(fi);
  ::rewinddir(dir);
  while (const dirent* entry = ::readdir(dir)) {
    struct stat st {};
    st.st_ino = entry->d_ino;
    st.st_mode = static_cast<mode_t>(DTTOIF(entry->d_type));
    if (fill(buf, entry->d_name, &st, 0, static_cast<fuse_fill_dir_flags>(0)) != 0) break;
  }
  return 0;
}

int nfs_releasedir(const char*, fuse_file_info* fi) {
  volume().gate.pass(false);  // may wait while hung; the directory is closed whatever it says
  ::closedir(dir_of(fi));
  return 0;
}

int nfs_create(const char* path, mode_t mode, fuse_file_info* fi) {
  if (int e = volume().gate.pass(false)) return e;
  int fd = ::openat(volume().backing, rel(path), fi->flags | O_CREAT | O_CLOEXEC, mode);
  if (fd < 0) return -errno;
  fi->fh = static_cast<uint64_t>(fd);
  return give_to_caller(path);
}

int nfs_utimens(const char* path, const timespec times[2], fuse_file_info* fi) {
  if (int e = volume().gate.pass(false)) return e;
  if (fi != nullptr) return result(::futimens(fd_of(fi), times));
  return result(::utimensat(volume().backing, rel(path), times, AT_SYMLINK_NOFOLLOW));
}

constexpr fuse_operations kOperations = {
    .getattr = nfs_getattr,
    .readlink = nfs_readlink,
    .mkdir = nfs_mkdir,
    .unlink = nfs_unlink,
    .rmdir = nfs_rmdir,
    .symlink = nfs_symlink,
    .rename = nfs_rename,
    .chmod = nfs_chmod,
    .chown = nfs_chown,
    .truncate = nfs_truncate,
    .open = nfs_open,
    .read = nfs_read,
    .write = nfs_write,
    .statfs = nfs_statfs,
    .flush = nfs_flush,
    .release = nfs_release,
    .fsync = nfs_fsync,
    .opendir = nfs_opendir,
    .readdir = nfs_readdir,
    .releasedir = nfs_releasedir,
    .init = nfs_init,
    .create = nfs_create,
    .utimens = nfs_utimens,
};

hotreload::cli::Parsed<double> parse_seconds(std::string_view text) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || !(value >= 0) ||
      value > kAttrTimeoutMaxS)
    return "expected seconds from 0 to " + std::to_string(static_cast<int>(kAttrTimeoutMaxS)) +
           " (1, 0.5, 0), not \"" + std::string(text) + "\"";
  return value;
}

bool is_within(const fs::path& path, const fs::path& dir) {
  auto [d, p] = std::mismatch(dir.begin(), dir.end(), path.begin(), path.end());
  return d == dir.end();
}

constexpr const char* kDescription =
    "Mounts BACKING at MOUNTPOINT as a stand-in for an NFS client mount, for tests, the "
    "real-filesystem campaign and benchmarks where the kernel has no NFS client. Towards a "
    "watcher it behaves as NFS does: a change made in BACKING (the server, or another "
    "client) sends no inotify event on the mount; stat may show attributes up to "
    "--attr-timeout old, while open revalidates them (close-to-open); a read of an open "
    "file deleted or replaced in BACKING fails with ESTALE; and a control file "
    "turns on ESTALE or a hang, as a server restart or an outage does. Everything else "
    "passes through to BACKING, writes included. As root the mount is shared with every "
    "user (allow_other; the kernel checks permissions), as an NFS mount is.\n\n"
    "Once mounted, nfs_like goes to the background (so `nfs_like B M && stat M/x` works).";

constexpr const char* kFooter =
    "Control file: its first word is the mode, read every 20 ms.\n"
    "  ok     pass every call through (also when FILE is missing or empty)\n"
    "  stale  every call fails with ESTALE \"Stale file handle\", but statfs and stat of the\n"
    "         root: the server restarted\n"
    "  hang   every call blocks until the mode changes, then goes on; a caller's signal ends\n"
    "         its wait with EINTR: the server is away\n"
    "Once a mode is in effect it is written to FILE.state (replaced by rename); wait for it:\n"
    "  echo hang > /tmp/ctl; until grep -qx hang /tmp/ctl.state; do sleep 0.02; done\n"
    "\n"
    "Unmount: fusermount3 -u MOUNTPOINT, or SIGTERM to the daemon (it unmounts, even when\n"
    "hung). A hung mount: echo ok > FILE first, then fusermount3 -u; or umount -l MOUNTPOINT.\n"
    "Exit status: 0 mounted (or, with --foreground, unmounted or stopped by a signal);\n"
    "1 the mount failed; 2 bad command line.";

}  // namespace

int main(int argc, char** argv) {
  using hotreload::cli::CommandLine;
  Volume served;
  std::string backing_arg, mountpoint_arg, control_arg;
  bool foreground = false;

  CommandLine cl("nfs_like", kDescription, kFooter);
  CLI::App& app = cl.app();
  app.add_option("BACKING", backing_arg, "the directory served (the NFS server's export)")
      ->required();
  app.add_option("MOUNTPOINT", mountpoint_arg, "where it is mounted")->required();
  cl.value<double>(app, "--attr-timeout", served.attr_timeout_s, parse_seconds, "SECONDS",
                   "how long the kernel trusts attributes, names and absent names it has "
                   "seen, as NFS's actimeo; 0 turns the cache off",
                   "1")
      ->group("Options");
  cl.value<std::string>(app, "--control", control_arg, hotreload::cli::text_value, "FILE",
                        "the control file (outside the mount): ok, stale or hang, see below")
      ->group("Options");
  app.add_flag("--foreground", foreground, "stay in the foreground, messages on stderr")
      ->group("Options");

  std::error_code ec;
  fs::path mountpoint, control;
  cl.rule(app, [&]() -> std::optional<std::string> {
    served.backing = ::open(backing_arg.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (served.backing < 0)
      return "BACKING " + backing_arg + " is not a directory: " + std::strerror(errno);
    mountpoint = fs::canonical(mountpoint_arg, ec);
    if (ec || !fs::is_directory(mountpoint))
      return "MOUNTPOINT " + mountpoint_arg + " is not a directory" +
             (ec ? ": " + ec.message() : "");
    if (control_arg.empty()) return std::nullopt;
    // Absolute: the daemon leaves its working directory for /.
    control = fs::weakly_canonical(control_arg, ec);
    if (ec || !fs::is_directory(control.parent_path()))
      return "--control " + control_arg + ": its directory does not exist";
    if (is_within(control, mountpoint))
      return "--control " + control_arg + " is inside MOUNTPOINT: a hung mount could not be "
             "switched back";
    return std::nullopt;
  });
  auto parsed = cl.parse(argc, argv);
  if (parsed.outcome != CommandLine::Result::Outcome::run) return cl.finish(parsed);

  std::string options = "fsname=nfs_like,subtype=nfs_like,default_permissions";
  if (::geteuid() == 0) options += ",allow_other";
  std::vector<const char*> fuse_argv = {argv[0], "-o", options.c_str()};
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(fuse_argv.size()),
                                  const_cast<char**>(fuse_argv.data()));
  fuse* f = fuse_new(&args, &kOperations, sizeof kOperations, &served);
  fuse_opt_free_args(&args);  // fuse_new may have copied them
  if (f == nullptr) return 1;
  if (fuse_mount(f, mountpoint.c_str()) != 0) {  // fuse says why on stderr
    fuse_destroy(f);
    return 1;
  }
  fuse_session* session = fuse_get_session(f);
  int status = 1;
  // Threads do not survive the fork: the control thread starts in the daemon.
  if (fuse_daemonize(foreground ? 1 : 0) == 0 && fuse_set_signal_handlers(session) == 0) {
    std::optional<Control> ctl;
    if (!control.empty()) ctl.emplace(control.string(), served.gate).start(session);
    fuse_loop_config* loop = fuse_loop_cfg_create();
    fuse_loop_cfg_set_max_threads(loop, kThreadsMax);
    // 0 when unmounted, the signal's number when stopped by one: both a clean end.
    status = fuse_loop_mt(f, loop) < 0 ? 1 : 0;
    fuse_loop_cfg_destroy(loop);
    served.gate.stop();
    if (ctl) ctl->stop();
    fuse_remove_signal_handlers(session);
  }
  fuse_unmount(f);
  fuse_destroy(f);
  ::close(served.backing);
  return status;
}

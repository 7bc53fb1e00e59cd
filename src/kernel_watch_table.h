// KernelWatchTable: every kernel watch of one hub, and which volumes each event concerns.
//
// Promises:
// - One kernel watch per directory, however many volumes are interested in it; the watch
//   is released with the last interest in its directory.
// - An event is routed to every owner with an interest in its (directory, name), or in
//   every name of that directory; an event on a directory itself, to every owner of it.
// - A directory whose descriptor may no longer name it is asked for again at the next
//   arm(): after IN_IGNORED (the kernel dropped the watch), IN_DELETE_SELF/IN_MOVE_SELF,
//   an event that renamed, created or removed an entry on its path (its inode changed
//   under the same name: `mv app app.old && mv app.new app`), and an overflow (which may
//   have swallowed any of those), and a directory whose identity, as a check saw it,
//   differs from the one seen when it was armed (a rename above it that no kernel watch
//   could report: the directories above were not watchable).
// - A rename of any directory above an anchored volume (`mv app app.old && mv app.new
//   app`, even above a mount point: a mount moves with its parent) is routed to kAnchors.
//   Each directory above is watched once for every volume below it, counted: 10,000
//   volumes in one parent cost one entry there, not 10,000.
// - Each directory's path is kept once (its descriptor's list refers to its entry), and
//   each owner's interests once, packed; the table holds no pointer into anyone else's
//   containers.
// Not thread-safe: the hub calls it under its lock.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "hotreload/event_source.h"
#include "path_walk.h"

namespace hotreload {

class KernelWatchTable {
 public:
  using Owner = uint64_t;
  // The owner reported for an event in a directory above an anchored volume: the volumes
  // at or below the directory (or the name the event is about, if it names one) moved.
  static constexpr Owner kAnchors = 0;

  explicit KernelWatchTable(EventSource& events) : events_(events) {}
  KernelWatchTable(const KernelWatchTable&) = delete;
  KernelWatchTable& operator=(const KernelWatchTable&) = delete;

  // What arming an owner's interests found.
  struct Armed {
    // A directory got a kernel watch only now: what changed in it before raised no event.
    bool armed_now = false;
    // A needed directory vanished between the look and the arm (ENOENT, ENOTDIR).
    std::error_code gone;
    // The kernel refused to watch a needed directory (ENOSPC, EMFILE, EACCES…).
    std::error_code refused;
  };

  // Makes owner's interests exactly `wanted`, then makes sure each of their directories
  // has a kernel watch, on the inode `seen` names where it names one. Interests marked
  // optional never report gone or refused.
  Armed arm(Owner owner, std::vector<Interest> wanted, const DirectoryInodes& seen = {});
  // Removes every interest of owner (and the kernel watches nobody else needs).
  void drop(Owner owner);
  // Watches every directory above dir, for every name in it, as long as any volume at or
  // below it is anchored. Never gone or refused: a directory the kernel will not watch
  // costs only that (the safety poll still looks).
  void anchor(const std::string& dir);
  void unanchor(const std::string& dir);
  // Arms again the directories above an anchored dir that were asked for again (a rename
  // on their path, an overflow, a watch the kernel dropped): the volume's arm calls it.
  void arm_anchors(const std::string& dir);
  // The interests owner holds now.
  std::vector<Interest> interests_of(Owner owner) const;

  // Calls concerned(owner, dir) for each owner an event concerns (dir: the watched
  // directory it was reported for), and applies the event's re-arming rules.
  void route(const Event& event, const std::function<void(Owner, const std::string&)>& concerned);
  // After an overflow: every directory is asked for again at its next arm().
  void forget_all();

  std::size_t kernel_watch_count() const { return kernel_watches_; }
  std::size_t directory_count() const { return dirs_.size(); }
  bool watched(const std::string& dir) const;
  // True once per distinct error: the first refusal of each cause is worth a log line.
  bool first_refusal(std::error_code ec) { return refusals_logged_.insert(ec.value()).second; }

 private:
  struct Directory {
    int wd = -1;           // -1: not armed, or asked for again at the next arm()
    bool stale = false;    // armed, but the path may name another inode now
    bool refused = false;  // an optional directory the kernel would not watch
    // The inode a check saw at the path when the watch was armed.
    Inode identity;
    // Who has an interest here, sorted: which names each wants, its packed interests say.
    std::vector<Owner> owners;
  };
  using Directories = std::map<std::string, Directory, std::less<>>;

  void join(Owner owner, const std::string& dir);
  void leave(Owner owner, const std::string& dir);
  bool wants(Owner owner, std::string_view dir, std::string_view name) const;
  void bind(Directories::iterator d, int wd);
  void unbind(Directories::iterator d);
  void mark_stale_below(const std::string& path);
  std::error_code ensure_armed(Directories::iterator d, const DirectoryInodes& seen,
                               bool& armed_now);

  EventSource& events_;
  Directories dirs_;
  // Directories per descriptor (one inode may be reached by two paths): entries of dirs_,
  // which stay put until erased, and are unbound (taken out of here) before they are.
  // A hash of nodes: one small node per directory, where a tree of vectors cost three.
  std::unordered_multimap<int, Directories::iterator> by_wd_;
  std::size_t kernel_watches_ = 0;  // distinct descriptors in by_wd_
  std::map<Owner, std::string> interests_;  // packed: see kernel_watch_table.cc
  // The directories above anchored volumes, and how many volumes each is above.
  std::map<std::string, std::size_t, std::less<>> anchors_;
  std::set<int> refusals_logged_;
};

}  // namespace hotreload

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
// - Each directory's path is kept once: its descriptor's list and its owners' interests
//   refer to its entry. The table holds no pointer into anyone else's containers.
// Not thread-safe: the hub calls it under its lock.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
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
  // has a kernel watch, on the inode `seen` names where it names one.
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
  // Who has an interest in a directory, sorted. Most directories have one owner (a
  // volume's own), kept in place; a second moves them all to the heap.
  class Owners {
   public:
    void insert(Owner owner);
    void erase(Owner owner);
    bool empty() const { return !more_ && one_ == kNobody; }
    template <class F>
    void each(F&& f) const {
      if (more_) {
        for (Owner owner : *more_) f(owner);
      } else if (one_ != kNobody) {
        f(one_);
      }
    }

   private:
    static constexpr Owner kNobody = ~Owner{0};  // ids count up from 1
    Owner one_ = kNobody;                        // the owner, while there is at most one
    std::unique_ptr<std::vector<Owner>> more_;   // all of them, while there are more
  };
  struct Directory {
    int wd = -1;           // -1: not armed, or asked for again at the next arm()
    bool stale = false;    // armed, but the path may name another inode now
    bool refused = false;  // an anchor the kernel would not watch
    // The inode a check saw at the path when the watch was armed.
    Inode identity;
    // Which names each wants, its interests say.
    Owners owners;
  };
  using Directories = std::map<std::string, Directory, std::less<>>;
  // An owner's interests in one directory: the directory's entry, which lives as long as
  // the owner is one of its owners, and the names, each followed by a NUL (an empty one:
  // every name). A path is kept once, in dirs_; a volume's names fit in the string itself.
  struct Interests {
    Directories::iterator dir;
    std::string names;
  };

  Directories::iterator join(Owner owner, const std::string& dir);
  void leave(Owner owner, Directories::iterator d);
  std::vector<Interests> replaced(Owner owner, const std::vector<Interests>& kept,
                                  const std::vector<Interest>& wanted);
  // Whether kept says what wanted (sorted) says.
  static bool same(const std::vector<Interests>& kept, const std::vector<Interest>& wanted);
  bool wants(Owner owner, Directories::iterator d, std::string_view name) const;
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
  std::unordered_map<Owner, std::vector<Interests>> interests_;  // sorted by directory
  // The directories above anchored volumes, and how many volumes each is above.
  std::map<std::string, std::size_t, std::less<>> anchors_;
  std::set<int> refusals_logged_;
};

}  // namespace hotreload

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
// - It keeps paths and owner ids, never pointers into containers.
// Not thread-safe: the hub calls it under its lock.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include "hotreload/event_source.h"
#include "path_walk.h"

namespace hotreload {

class KernelWatchTable {
 public:
  using Owner = uint64_t;

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
  // The interests owner holds now.
  std::vector<Interest> interests_of(Owner owner) const;

  // Calls concerned(owner, dir) for each owner an event concerns (dir: the watched
  // directory it was reported for), and applies the event's re-arming rules.
  void route(const Event& event, const std::function<void(Owner, const std::string&)>& concerned);
  // After an overflow: every directory is asked for again at its next arm().
  void forget_all();

  std::size_t kernel_watch_count() const { return by_wd_.size(); }
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
    // (name, owner), sorted; "" = every name in the directory.
    std::vector<std::pair<std::string, Owner>> names;
  };

  void add(Owner owner, const Interest& interest);
  void remove(Owner owner, const Interest& interest);
  void bind(const std::string& dir, Directory& d, int wd);
  void unbind(const std::string& dir, Directory& d);
  void mark_stale_below(const std::string& path);
  std::error_code ensure_armed(const std::string& dir, Directory& d, const DirectoryInodes& seen,
                               bool& armed_now);

  EventSource& events_;
  std::map<std::string, Directory, std::less<>> dirs_;
  // Directories per descriptor: one inode may be reached by two paths.
  std::map<int, std::vector<std::string>> by_wd_;
  std::map<Owner, std::string> interests_;  // packed: see kernel_watch_table.cc
  std::set<int> refusals_logged_;
};

}  // namespace hotreload

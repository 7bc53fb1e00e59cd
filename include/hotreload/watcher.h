// Watcher: what FileWatcher and VolumeWatcher have in common — a callback's verdict, the
// status of a watch, the error start() throws, and the start/stop life cycle.
//
// Promises (both kinds):
// - start() loads synchronously, on the calling thread; if the content cannot be read or
//   the callback refuses it, start() throws StartError naming the path and why.
// - After start(), the callback runs on the hub thread (for a volume in poll mode: on a
//   thread of the hub's CheckRunner), only for content whose SHA-256 differs from the
//   active one, never twice at once, and never again for a content it has just refused.
//   A refusal or an exception keeps the previous content active.
// - Nothing the filesystem does after start() throws out of the library.
// - stop() is idempotent, waits for a callback of this watch in flight (unless called
//   from inside it), never for a filesystem call stuck on a dead mount, and the
//   destructor calls it. No callback or on_decision runs after stop() has returned.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>

#include "hotreload/clock.h"
#include "hotreload/decision.h"
#include "hotreload/digest.h"
#include "hotreload/export.h"
#include "hotreload/options.h"

namespace hotreload {

class Hub;
class Watch;

// The callback's answer.
struct Verdict {
  bool accepted = true;
  std::string reason;  // why it was refused; shown in logs and in StartError

  static Verdict accept() { return {}; }
  static Verdict reject(std::string why) { return {false, std::move(why)}; }
};

struct Status {
  std::string path;                    // the watched file, or the watched directory
  std::string volume;                  // the directory whose volume it belongs to
  std::optional<Digest> hash;          // the active content's (or snapshot's) SHA-256
  std::optional<WallTime> last_reload; // when the active content was accepted
  uint64_t reloads = 0;                // accepted changes after the initial load
  uint64_t errors = 0;                 // distinct failures: rejections, read errors, vanishings
  ActiveMode mode = ActiveMode::events;
  std::string last_error;              // empty while the watch is healthy
  // Set while a check of the watch has been stuck in a filesystem call for longer than
  // Options::stall_timeout (a hung remote or FUSE volume): when the call began.
  std::optional<SteadyTime> stalled_since;
};

class HOTRELOAD_EXPORT StartError : public std::system_error {
 public:
  StartError(std::error_code ec, const std::string& what) : std::system_error(ec, what) {}
};

class HOTRELOAD_EXPORT Watcher {
 public:
  virtual ~Watcher();
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  void start();
  void stop() noexcept;
  Status status() const;
  const std::string& path() const;

 protected:
  // hub defaults to Hub::shared().
  Watcher(std::shared_ptr<Watch> watch, std::shared_ptr<Hub> hub);

 private:
  std::shared_ptr<Hub> hub_;
  std::shared_ptr<Watch> watch_;
  bool started_ = false;
};

}  // namespace hotreload

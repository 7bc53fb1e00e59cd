// Watch: everything hotreload knows and decides about one watched file.
//
// It looks at the file only through the Filesystem seam and never touches a thread, a
// timer or the event source: the Hub decides when to call check(), and reads back which
// names the watch cares about (interests) and whether it wants a retry or polling.
// check() runs on the hub thread only; status() may be called from any thread.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "hotreload/clock.h"
#include "hotreload/decision.h"
#include "hotreload/file_watcher.h"
#include "hotreload/filesystem.h"
#include "hotreload/options.h"
#include "path_walk.h"

namespace hotreload {

// Why a check runs. When several coincide they merge into the strongest (the largest).
enum class Trigger : uint8_t {
  poll,         // poll mode's interval
  safety_poll,  // events mode's slow interval: a change found here was never announced
  retry,        // the last read found the file changing under it
  event,        // inotify named something the watch cares about (or overflowed)
  rehash,       // every Nth poll, IN_CLOSE_WRITE or an overflow: read and hash even if
                // the signature is unchanged
};

class Watch {
 public:
  Watch(std::string path, Callback callback, Options options);

  // The initial load, on the caller's thread, before the hub knows the watch. On failure
  // returns the error and sets message to a sentence naming the path and the reason.
  std::error_code load(Filesystem& fs, Clock& clock, std::string& message);

  // Looks at the file and, if its content changed, offers it to the callback.
  void check(Filesystem& fs, Clock& clock, Trigger trigger, SteadyTime noticed_at);

  const std::string& path() const { return path_; }
  const Options& options() const { return options_; }
  Status status() const;
  ActiveMode mode() const { return mode_; }
  // Reports the change unless why is empty; quiet: to on_decision only, not the log (the
  // hub logs a cause shared by many watches once).
  void set_mode(ActiveMode mode, std::string_view why, bool quiet);

  // What the last look found, for the hub to act on.
  // Hands the interests over to the hub, which keeps the registered copy.
  std::vector<Interest> take_interests() { return std::exchange(interests_, {}); }
  bool wants_retry() const { return wants_retry_; }
  bool found_unannounced_change() const { return unannounced_change_; }

  // The hub's bookkeeping, guarded by the hub's mutex; the watch never reads it.
  struct HubSlot {
    uint64_t id = 0;
    SteadyTime due{};
    unsigned polls = 0;
    bool retry = false;
    // The interests registered in the hub's directory table; dir points at the table's key.
    struct Armed {
      const std::string* dir;
      std::string name;
    };
    std::vector<Armed> armed;
  } slot;

 private:
  struct Look;
  Look look(Filesystem& fs, const Signature* known);
  void offer(std::string_view content, Clock& clock, SteadyTime noticed_at);
  Verdict run_callback(std::string_view content, Clock& clock,
                       std::chrono::nanoseconds& took);
  void fail(std::error_code ec, const std::string& where);
  void report(Decision d, bool quiet = false);

  const std::string path_;
  const Callback callback_;
  const Options options_;
  std::shared_ptr<spdlog::logger> logger_;

  // Hub-thread state.
  ActiveMode mode_ = ActiveMode::events;
  std::optional<Signature> signature_;  // of the content last read; reset on failure
  std::optional<Digest> refused_;       // the content the callback last refused
  std::string refused_reason_;
  std::error_code failure_;             // the cause last logged, so it is logged once
  std::vector<Interest> interests_;
  bool wants_retry_ = false;
  int unstable_rounds_ = 0;              // consecutive checks that found the file moving
  bool unannounced_change_ = false;

  mutable std::mutex status_mu_;
  Status status_;  // written on the hub thread under status_mu_
};

std::shared_ptr<spdlog::logger> default_logger();

}  // namespace hotreload

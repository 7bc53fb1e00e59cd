// FileWatcher: keeps a callback in step with one file's content.
//
// Promises:
// - start() loads the file synchronously, on the calling thread; if the file cannot be
//   read or the callback refuses it, start() throws StartError naming the path and why.
// - After start(), the callback runs on the hub thread, only for content whose SHA-256
//   differs from the active one, never twice at once, and never again for a content it
//   has just refused. A refusal or an exception keeps the previous content active.
// - Nothing the filesystem does after start() throws out of the library.
// - stop() is idempotent, waits for a callback in flight (unless called from inside the
//   callback), and the destructor calls it.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
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

using Callback = std::function<Verdict(std::string_view content)>;

struct Status {
  std::string path;
  std::optional<Digest> hash;          // the active content's SHA-256
  std::optional<WallTime> last_reload; // when the active content was accepted
  uint64_t reloads = 0;                // accepted changes after the initial load
  uint64_t errors = 0;                 // distinct failures: rejections, read errors, vanishings
  ActiveMode mode = ActiveMode::events;
  std::string last_error;              // empty while the file is healthy
};

class HOTRELOAD_EXPORT StartError : public std::system_error {
 public:
  StartError(std::error_code ec, const std::string& what) : std::system_error(ec, what) {}
};

class HOTRELOAD_EXPORT FileWatcher {
 public:
  // path may be relative (made absolute now). hub defaults to Hub::shared().
  // Throws std::invalid_argument for an empty path or a non-positive interval or limit.
  FileWatcher(std::string path, Callback callback, Options options = {},
              std::shared_ptr<Hub> hub = nullptr);
  ~FileWatcher();
  FileWatcher(const FileWatcher&) = delete;
  FileWatcher& operator=(const FileWatcher&) = delete;

  void start();
  void stop() noexcept;
  Status status() const;
  const std::string& path() const;

 private:
  std::shared_ptr<Hub> hub_;
  std::shared_ptr<Watch> watch_;
  bool started_ = false;
};

}  // namespace hotreload

// FileWatcher: keeps a callback in step with one file's content.
//
// The file may be reached through any symlinks (a ConfigMap key: `key -> ..data/key`,
// `..data -> ..<timestamp>`); every link on the way is watched. Every FileWatcher on a
// file of the same directory shares that directory's volume (one kernel watch, one
// resolution of `..data` per check for all its keys). The callback receives the whole
// content of one version of the file, never a mix of two. See Watcher for the rest of
// the promises.
#pragma once

#include <concepts>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "hotreload/export.h"
#include "hotreload/watcher.h"

namespace hotreload {

using Callback = std::function<Verdict(std::string_view content)>;

class HOTRELOAD_EXPORT FileWatcher : public Watcher {
 public:
  // path may be relative (made absolute now). hub defaults to Hub::shared().
  // Throws std::invalid_argument for an empty path or a non-positive interval or limit.
  FileWatcher(std::string path, Callback callback, Options options = {},
              std::shared_ptr<Hub> hub = nullptr);
  // The same, with options shared by every watcher given them: a process watching
  // thousands of files alike keeps one copy (null: the defaults). A template only so that
  // `{}` and `{.mode = …}` still mean an Options.
  template <class Shared>
    requires std::convertible_to<Shared, std::shared_ptr<const Options>>
  FileWatcher(std::string path, Callback callback, Shared options,
              std::shared_ptr<Hub> hub = nullptr)
      : FileWatcher(Sharing{}, std::move(path), std::move(callback),
                    std::shared_ptr<const Options>(std::move(options)), std::move(hub)) {}

 private:
  struct Sharing {};
  FileWatcher(Sharing, std::string path, Callback callback,
              std::shared_ptr<const Options> options, std::shared_ptr<Hub> hub);
};

}  // namespace hotreload

// FileWatcher: keeps a callback in step with one file's content.
//
// The file may be reached through any symlinks (a ConfigMap key: `key -> ..data/key`,
// `..data -> ..<timestamp>`); every link on the way is watched. Every FileWatcher on a
// file of the same directory shares that directory's volume (one kernel watch, one
// resolution of `..data` per check for all its keys). The callback receives the whole
// content of one version of the file, never a mix of two. See Watcher for the rest of
// the promises.
#pragma once

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
};

}  // namespace hotreload

#include "hotreload/watcher.h"

#include "hotreload/file_watcher.h"
#include "hotreload/hub.h"
#include "hotreload/volume_watcher.h"
#include "key_watch.h"
#include "path_walk.h"
#include "snapshot_watch.h"

namespace hotreload {

namespace {

// Refuses options that would spin the hub or refuse every file, before anything starts.
std::shared_ptr<const Options> checked(std::shared_ptr<const Options> options,
                                       const std::string& path) {
  auto refuse = [&](const std::string& why) {
    throw std::invalid_argument("hotreload: bad options for " + path + ": " + why);
  };
  if (path.empty()) refuse("the path is empty");
  if (!options) options = std::make_shared<const Options>();
  if (options->poll_interval.count() <= 0) refuse("poll_interval must be positive");
  if (options->safety_interval.count() <= 0) refuse("safety_interval must be positive");
  if (options->read_size_max == 0) refuse("read_size_max must be positive");
  return options;
}

// A file's path: "f/" and "f/." name a directory (open(2) fails with ENOTDIR on a file),
// never the file f.
std::string file_path(const std::string& path) {
  if (names_only_a_directory(path))
    throw std::invalid_argument("hotreload: bad path " + path +
                                ": it ends with '/', '.' or '..', so it never names a file");
  return absolute_normal(path);
}

KeySelection checked(KeySelection keys, const std::string& dir) {
  auto refuse = [&](const std::string& why) {
    throw std::invalid_argument("hotreload: bad key selection for " + dir + ": " + why);
  };
  if (keys.keys_max == 0) refuse("keys_max must be positive");
  if (keys.total_size_max == 0) refuse("total_size_max must be positive");
  for (const auto* globs : {&keys.include, &keys.exclude})
    for (const std::string& glob : *globs)
      if (glob.empty()) refuse("a glob is empty");
  return keys;
}

}  // namespace

Watcher::Watcher(std::shared_ptr<Watch> watch, std::shared_ptr<Hub> hub)
    : hub_(hub ? std::move(hub) : Hub::shared()), watch_(std::move(watch)) {}

Watcher::~Watcher() { stop(); }

void Watcher::start() {
  if (started_) return;
  hub_->attach(watch_);
  started_ = true;
}

void Watcher::stop() noexcept {
  if (!started_) return;
  hub_->detach(*watch_);
  started_ = false;
}

Status Watcher::status() const { return watch_->status(); }

const std::string& Watcher::path() const { return watch_->path(); }

FileWatcher::FileWatcher(std::string path, Callback callback, Options options,
                         std::shared_ptr<Hub> hub)
    : FileWatcher(Sharing{}, std::move(path), std::move(callback),
                  std::make_shared<const Options>(std::move(options)), std::move(hub)) {}

// The public signatures take the path by value; it is used twice here, so not moved.
FileWatcher::FileWatcher(Sharing,
                         std::string path,  // NOLINT(performance-unnecessary-value-param)
                         Callback callback, std::shared_ptr<const Options> options,
                         std::shared_ptr<Hub> hub)
    : Watcher(std::make_shared<KeyWatch>(file_path(path), std::move(callback),
                                         checked(std::move(options), path)),
              std::move(hub)) {}

VolumeWatcher::VolumeWatcher(std::string dir, SnapshotCallback callback, Options options,
                             KeySelection keys, std::shared_ptr<Hub> hub)
    : VolumeWatcher(Sharing{}, std::move(dir), std::move(callback),
                    std::make_shared<const Options>(std::move(options)), std::move(keys),
                    std::move(hub)) {}

VolumeWatcher::VolumeWatcher(Sharing,
                             std::string dir,  // NOLINT(performance-unnecessary-value-param)
                             SnapshotCallback callback, std::shared_ptr<const Options> options,
                             KeySelection keys, std::shared_ptr<Hub> hub)
    : Watcher(std::make_shared<SnapshotWatch>(absolute_normal(dir), std::move(callback),
                                              checked(std::move(options), dir),
                                              checked(std::move(keys), dir)),
              std::move(hub)) {}

}  // namespace hotreload

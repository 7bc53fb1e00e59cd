#include "hotreload/file_watcher.h"

#include "hotreload/hub.h"
#include "path_walk.h"
#include "watch.h"

namespace hotreload {

namespace {

// Refuses options that would spin the hub or refuse every file, before anything starts.
Options checked(Options options, const std::string& path) {
  auto refuse = [&](const std::string& why) {
    throw std::invalid_argument("hotreload: bad options for " + path + ": " + why);
  };
  if (path.empty()) refuse("the path is empty");
  if (options.poll_interval.count() <= 0) refuse("poll_interval must be positive");
  if (options.safety_interval.count() <= 0) refuse("safety_interval must be positive");
  if (options.read_size_max == 0) refuse("read_size_max must be positive");
  return options;
}

}  // namespace

// The public signature takes the path by value; it is used twice here, so not moved.
FileWatcher::FileWatcher(std::string path,  // NOLINT(performance-unnecessary-value-param)
                         Callback callback, Options options, std::shared_ptr<Hub> hub)
    : hub_(hub ? std::move(hub) : Hub::shared()),
      watch_(std::make_shared<Watch>(absolute_normal(path), std::move(callback),
                                     checked(std::move(options), path))) {
}

FileWatcher::~FileWatcher() { stop(); }

void FileWatcher::start() {
  if (started_) return;
  hub_->attach(watch_);
  started_ = true;
}

void FileWatcher::stop() noexcept {
  if (!started_) return;
  hub_->detach(*watch_);
  started_ = false;
}

Status FileWatcher::status() const { return watch_->status(); }

const std::string& FileWatcher::path() const { return watch_->path(); }

}  // namespace hotreload

#include "hotreload/file_watcher.h"

#include "hotreload/hub.h"
#include "path_walk.h"
#include "watch.h"

namespace hotreload {

FileWatcher::FileWatcher(std::string path, Callback callback, Options options,
                         std::shared_ptr<Hub> hub)
    : hub_(hub ? std::move(hub) : Hub::shared()),
      watch_(std::make_shared<Watch>(absolute_normal(path), std::move(callback),
                                     std::move(options))) {}

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

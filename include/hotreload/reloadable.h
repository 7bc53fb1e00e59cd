// Reloadable<T>: a config parsed and validated into an immutable T, swapped atomically.
//
// The parse function turns content into a T, or throws to refuse it (the message becomes
// the rejection reason). get() hands out a shared_ptr<const T> snapshot: readers never
// wait for a parse or a callback, and a snapshot stays valid for as long as it is held,
// whatever reloads happen meanwhile.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "hotreload/file_watcher.h"

namespace hotreload {

template <class T>
class Reloadable {
 public:
  using Parse = std::function<T(std::string_view content)>;
  // Called on the hub thread after each accepted reload, with the new snapshot.
  using OnReload = std::function<void(const std::shared_ptr<const T>&)>;

  Reloadable(std::string path, Parse parse, Options options = {},
             std::shared_ptr<Hub> hub = nullptr, OnReload on_reload = nullptr)
      : parse_(std::move(parse)),
        on_reload_(std::move(on_reload)),
        watcher_(std::move(path), [this](std::string_view content) { return accept(content); },
                 std::move(options), std::move(hub)) {}

  // Loads and parses the file; throws StartError if either fails.
  void start() { watcher_.start(); }
  void stop() noexcept { watcher_.stop(); }

  std::shared_ptr<const T> get() const { return current_.load(std::memory_order_acquire); }
  Status status() const { return watcher_.status(); }

 private:
  Verdict accept(std::string_view content) {
    // A throwing parse is a rejection; FileWatcher turns the exception into the reason.
    auto next = std::make_shared<const T>(parse_(content));
    current_.store(next, std::memory_order_release);
    if (on_reload_) on_reload_(next);
    return Verdict::accept();
  }

  Parse parse_;
  OnReload on_reload_;
  std::atomic<std::shared_ptr<const T>> current_;
  FileWatcher watcher_;  // last: stops (and so stops calling accept) before the rest goes
};

}  // namespace hotreload

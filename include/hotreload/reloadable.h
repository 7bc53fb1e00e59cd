// Reloadable<T>: a config parsed and validated into an immutable T, swapped atomically.
//
// From a file, the parse function turns its content into a T; from a directory (a
// ConfigMap volume: every key of one publish together), it turns a Snapshot into a T. It
// throws to refuse (the message becomes the rejection reason). get() hands out a shared_ptr<const T> snapshot: readers never
// wait for a parse or a callback, and a snapshot stays valid for as long as it is held,
// whatever reloads happen meanwhile.
//
// The snapshot pointer is guarded by a mutex held only to copy or swap it, not by
// std::atomic<std::shared_ptr>: libstdc++ 12 (Debian 12's) unlocks that one with a relaxed
// store after load(), which lets the pointer read move past the unlock on weakly ordered
// CPUs (ThreadSanitizer reports it; google/sanitizers#1558). Hot paths take a Reader: its
// get() is one acquire load while nothing changed, lock-free, and locks once per reload.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "hotreload/file_watcher.h"
#include "hotreload/volume_watcher.h"

namespace hotreload {

template <class T>
class Reloadable {
 public:
  using Parse = std::function<T(std::string_view content)>;
  using ParseSnapshot = std::function<T(const Snapshot& snapshot)>;
  // Called on the hub thread after each accepted reload, with the new snapshot.
  using OnReload = std::function<void(const std::shared_ptr<const T>&)>;

  // A config held in one file.
  Reloadable(std::string path, Parse parse, Options options = {},
             std::shared_ptr<Hub> hub = nullptr, OnReload on_reload = nullptr)
      : on_reload_(std::move(on_reload)),
        watcher_(std::make_unique<FileWatcher>(
            std::move(path),
            [this, parse = std::move(parse)](std::string_view content) {
              return accept(parse(content));
            },
            std::move(options), std::move(hub))) {}

  // A config made of every key of a directory (a ConfigMap or Secret volume), which
  // changes only as a whole.
  Reloadable(std::string dir, ParseSnapshot parse, Options options = {}, KeySelection keys = {},
             std::shared_ptr<Hub> hub = nullptr, OnReload on_reload = nullptr)
      : on_reload_(std::move(on_reload)),
        watcher_(std::make_unique<VolumeWatcher>(
            std::move(dir),
            [this, parse = std::move(parse)](const Snapshot& snapshot) {
              return accept(parse(snapshot));
            },
            std::move(options), std::move(keys), std::move(hub))) {}

  ~Reloadable() { watcher_->stop(); }  // first: no callback may run into the rest

  // Loads and parses the config; throws StartError if either fails.
  void start() { watcher_->start(); }
  void stop() noexcept { watcher_->stop(); }

  std::shared_ptr<const T> get() const {
    std::lock_guard lock(current_mu_);
    return current_;
  }

  // One thread's view of the config. Not shareable between threads: give each its own.
  class Reader {
   public:
    explicit Reader(const Reloadable& source) : source_(&source) {}
    // The current snapshot; valid until the next get() on this Reader.
    const std::shared_ptr<const T>& get() {
      if (source_->version_.load(std::memory_order_acquire) != seen_ || !snapshot_) {
        std::lock_guard lock(source_->current_mu_);
        snapshot_ = source_->current_;
        seen_ = source_->version_.load(std::memory_order_relaxed);
      }
      return snapshot_;
    }

   private:
    const Reloadable* source_;
    uint64_t seen_ = 0;
    std::shared_ptr<const T> snapshot_;
  };

  Status status() const { return watcher_->status(); }

 private:
  // A throwing parse is a rejection: the watcher turns the exception into the reason.
  Verdict accept(T parsed) {
    auto next = std::make_shared<const T>(std::move(parsed));
    std::shared_ptr<const T> previous;  // released after the lock, not under it
    {
      std::lock_guard lock(current_mu_);
      previous = std::exchange(current_, next);
      version_.fetch_add(1, std::memory_order_release);
    }
    if (on_reload_) on_reload_(next);
    return Verdict::accept();
  }

  OnReload on_reload_;
  mutable std::mutex current_mu_;
  std::shared_ptr<const T> current_;
  std::atomic<uint64_t> version_{0};  // bumped after each swap, for Readers
  std::unique_ptr<Watcher> watcher_;
};

}  // namespace hotreload

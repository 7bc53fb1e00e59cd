// A program that watches a file through Hub::shared() and returns from main, as most
// users' programs do. The shared hub is a static; OpenSSL frees its tables at exit. The
// hub's thread hashes with them, so the hub must be gone when OpenSSL cleans up: exits 1
// if it is not (a ThreadSanitizer run of an example program crashed there, in SHA-256).
#include <openssl/crypto.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>

#include "hotreload/file_watcher.h"
#include "hotreload/hub.h"

namespace {
// Leaked on purpose: read by OpenSSL's cleanup, after every static destructor has run.
std::weak_ptr<hotreload::Hub>* shared_hub = nullptr;

void check_hub_gone() {
  if (shared_hub->expired()) return;
  std::fputs("the shared hub is still running while OpenSSL frees its tables\n", stderr);
  _exit(1);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fputs("usage: shared_hub_exit FILE (FILE is created)\n", stderr);
    return 2;
  }
  { std::ofstream(argv[1]) << "x"; }
  hotreload::FileWatcher watcher(argv[1], [](std::string_view) { return hotreload::Verdict::accept(); });
  watcher.start();
  shared_hub = new std::weak_ptr<hotreload::Hub>(hotreload::Hub::shared());
  if (!OPENSSL_atexit(check_hub_gone)) return 3;
  return 0;
}

// MetricsServer: /metrics (Prometheus text exposition), /healthz and /readyz over HTTP, for
// --metrics-listen. Binding happens before any file is loaded, so a port already in use
// is reported at once, with its own exit code, rather than after the first reload.
//
// A health endpoint must answer whatever other clients do: one thread serves every
// connection with poll(), never waiting on any one of them; each connection gets one
// request and 5 s in all (then it is closed), a request is at most 8 KiB, and at most 512
// connections are open at once (a new one closes the one nearest its deadline).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "duration.h"

namespace hotreload::cli {

struct ListenAddress {
  std::string host;  // "0.0.0.0" when the address was written ":PORT"
  int port = 0;      // 0: any free port (see MetricsServer::port())
};

// "127.0.0.1:9533", ":9533", "[::1]:9533", "localhost:9533".
Parsed<ListenAddress> parse_listen_address(std::string_view text);

class MetricsServer {
 public:
  using Render = std::function<std::string()>;
  // What is wrong, one line each, for a 503 of /healthz (liveness) or /readyz
  // (readiness); empty when all is well.
  using Health = std::function<std::string()>;

  MetricsServer(Render render, Health health, Health readiness);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Binds the socket; on failure, a sentence naming the address and the reason.
  std::optional<std::string> bind(const ListenAddress& address);
  int port() const;
  void start();  // serves on a thread of its own
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hotreload::cli

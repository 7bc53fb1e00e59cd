#include "metrics_server.h"

#include <errno.h>
#include <httplib.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <charconv>
#include <cstring>
#include <thread>
#include <utility>

namespace hotreload::cli {

Parsed<ListenAddress> parse_listen_address(std::string_view text) {
  const std::string quoted = "\"" + std::string(text) + "\"";
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos)
    return "invalid listen address " + quoted + ": expected ADDR:PORT, like 127.0.0.1:9533 or :9533";
  std::string_view host = text.substr(0, colon);
  std::string_view port = text.substr(colon + 1);
  int number = -1;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || number < 0 ||
      number > 65535)
    return "invalid listen address " + quoted + ": port \"" + std::string(port) +
           "\" must be a number from 0 to 65535";
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  ListenAddress out{host.empty() ? "0.0.0.0" : std::string(host), number};
  return out;
}

struct MetricsServer::Impl {
  httplib::Server server;
  std::thread thread;
  int port = 0;
};

MetricsServer::MetricsServer(Render render, Healthy healthy) : impl_(new Impl) {
  impl_->server.Get("/metrics", [render = std::move(render)](const httplib::Request&, httplib::Response& res) {
    res.set_content(render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  impl_->server.Get("/healthz", [healthy = std::move(healthy)](const httplib::Request&, httplib::Response& res) {
    bool ok = healthy();
    res.status = ok ? 200 : 503;
    res.set_content(ok ? "ok\n" : "stopping\n", "text/plain");
  });
  // httplib's default also sets SO_REUSEPORT, which would let a second instance bind
  // the same port silently and steal half the scrapes. SO_REUSEADDR alone is enough to
  // restart quickly.
  impl_->server.set_socket_options([](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
}

MetricsServer::~MetricsServer() { stop(); }

std::optional<std::string> MetricsServer::bind(const ListenAddress& address) {
  std::string where = address.host + ":" + std::to_string(address.port);
  // Resolve first so that an unknown host is told apart from a busy port.
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(address.host.c_str(), nullptr, &hints, &found); rc != 0)
    return "cannot listen on " + where + ": unknown address (" + ::gai_strerror(rc) + ")";
  ::freeaddrinfo(found);
  errno = 0;
  if (address.port == 0) {
    int port = impl_->server.bind_to_any_port(address.host);
    if (port <= 0) return "cannot listen on " + where + ": " + std::strerror(errno ? errno : EADDRNOTAVAIL);
    impl_->port = port;
    return std::nullopt;
  }
  if (!impl_->server.bind_to_port(address.host, address.port)) {
    int e = errno;
    std::string why = e == EADDRINUSE ? "the port is already in use (EADDRINUSE)"
                      : e != 0      ? std::string(std::strerror(e))
                                    : "bind failed (is the port in use?)";
    return "cannot listen on " + where + ": " + why;
  }
  impl_->port = address.port;
  return std::nullopt;
}

int MetricsServer::port() const { return impl_->port; }

void MetricsServer::start() {
  impl_->thread = std::thread([this] { impl_->server.listen_after_bind(); });
}

void MetricsServer::stop() {
  if (!impl_) return;
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace hotreload::cli

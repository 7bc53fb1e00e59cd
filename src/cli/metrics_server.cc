#include "metrics_server.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>
#include <list>
#include <thread>
#include <utility>
#include <vector>

namespace hotreload::cli {

namespace {

using Steady = std::chrono::steady_clock;

// Everything a connection may take: from accept to the last byte of the answer.
constexpr auto kConnectionTime = std::chrono::seconds(5);
// Connections open at once (well under the usual 1024 descriptors); a new one beyond
// closes the one closest to its deadline.
constexpr std::size_t kConnectionsMax = 512;
// A request (line and headers) larger than this is answered 431 and closed.
constexpr std::size_t kRequestBytesMax = std::size_t{8} * 1024;

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

std::string response(int status, const char* reason, const std::string& type,
                     const std::string& body, bool head, const char* extra_header = "") {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\n";
  if (!type.empty()) out += "Content-Type: " + type + "\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  out += extra_header;
  out += "Connection: close\r\n\r\n";
  if (!head) out += body;
  return out;
}

}  // namespace

Parsed<ListenAddress> parse_listen_address(std::string_view text) {
  const std::string quoted = "\"" + std::string(text) + "\"";
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos)
    return "invalid listen address " + quoted +
           ": expected ADDR:PORT, like 127.0.0.1:9533 or :9533";
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

// One thread serves every connection with poll(): it never waits on any one client, so
// idle or trickling sockets cannot keep a scrape or a health probe waiting. Each
// connection gets one request and kConnectionTime in all, then is closed.
struct MetricsServer::Impl {
  struct Connection {
    int fd = -1;
    Steady::time_point deadline;
    std::string request;
    std::string answer;  // set once the request is complete
    std::size_t sent = 0;
  };

  Render render;
  Health health;
  Health readiness;
  int listen_fd = -1;
  int wake[2] = {-1, -1};  // stop() writes to wake[1]
  int port = 0;
  std::thread thread;
  std::list<Connection> connections;

  ~Impl() {
    for (auto& c : connections) close_fd(c.fd);
    close_fd(listen_fd);
    close_fd(wake[0]);
    close_fd(wake[1]);
  }

  std::string answer(const std::string& request) {
    auto line_end = request.find("\r\n");
    if (line_end == std::string::npos) line_end = request.find('\n');
    std::string_view line(request.data(), line_end);
    auto sp1 = line.find(' ');
    auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos)
      return response(400, "Bad Request", "text/plain", "bad request line\n", false);
    std::string_view method = line.substr(0, sp1);
    std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    target = target.substr(0, target.find('?'));
    bool head = method == "HEAD";
    if (method != "GET" && !head)
      return response(405, "Method Not Allowed", "text/plain", "use GET\n", false,
                      "Allow: GET, HEAD\r\n");
    if (target == "/metrics")
      return response(200, "OK", "text/plain; version=0.0.4; charset=utf-8", render(), head);
    if (target == "/healthz" || target == "/readyz") {
      std::string problems = target == "/healthz" ? health() : readiness();
      if (problems.empty()) return response(200, "OK", "text/plain", "ok\n", head);
      return response(503, "Service Unavailable", "text/plain", problems, head);
    }
    return response(404, "Not Found", "text/plain",
                    "not found: try /metrics, /healthz or /readyz\n", head);
  }

  // Rendering must not end the server: a failure is this request's 500.
  std::string answer_or_500(const std::string& request) {
    try {
      return answer(request);
    } catch (const std::exception& e) {
      return response(500, "Internal Server Error", "text/plain", std::string(e.what()) + "\n",
                      false);
    }
  }

  void close_oldest() {
    auto oldest = std::min_element(
        connections.begin(), connections.end(),
        [](const Connection& a, const Connection& b) { return a.deadline < b.deadline; });
    close_fd(oldest->fd);
    connections.erase(oldest);
  }

  void accept_all(Steady::time_point now) {
    for (;;) {
      int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        // Out of descriptors: make room, so that the next wakeup can take the new client.
        if ((errno == EMFILE || errno == ENFILE) && !connections.empty()) close_oldest();
        return;  // EAGAIN: none left; anything else: try again on the next wakeup
      }
      if (connections.size() >= kConnectionsMax) close_oldest();
      connections.push_back({fd, now + kConnectionTime, {}, {}, 0});
    }
  }

  // False when the connection is done with (answered, closed by the peer, or broken).
  bool serve(Connection& c, short revents) {
    if (c.answer.empty()) {
      if (!(revents & (POLLIN | POLLHUP | POLLERR))) return true;
      char buffer[4096];
      ssize_t n = ::recv(c.fd, buffer, sizeof buffer, 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return false;
      if (n < 0) return true;
      c.request.append(buffer, static_cast<std::size_t>(n));
      bool complete = c.request.find("\r\n\r\n") != std::string::npos ||
                      c.request.find("\n\n") != std::string::npos;
      if (!complete && c.request.size() <= kRequestBytesMax) return true;
      c.answer = complete ? answer_or_500(c.request)
                          : response(431, "Request Header Fields Too Large", "text/plain",
                                     "request too large\n", false);
    }
    ssize_t n = ::send(c.fd, c.answer.data() + c.sent, c.answer.size() - c.sent, MSG_NOSIGNAL);
    if (n < 0) return errno == EAGAIN || errno == EINTR;
    c.sent += static_cast<std::size_t>(n);
    if (c.sent < c.answer.size()) return true;
    ::shutdown(c.fd, SHUT_WR);
    return false;
  }

  void loop() {
    std::vector<pollfd> fds;
    for (;;) {
      auto now = Steady::now();
      for (auto it = connections.begin(); it != connections.end();) {
        if (it->deadline > now) {
          ++it;
          continue;
        }
        close_fd(it->fd);
        it = connections.erase(it);
      }
      fds.clear();
      fds.push_back({wake[0], POLLIN, 0});
      fds.push_back({listen_fd, POLLIN, 0});
      Steady::time_point next = now + kConnectionTime;
      for (const Connection& c : connections) {
        fds.push_back({c.fd, static_cast<short>(c.answer.empty() ? POLLIN : POLLOUT), 0});
        next = std::min(next, c.deadline);
      }
      auto wait_ms = std::chrono::ceil<std::chrono::milliseconds>(next - now).count();
      if (::poll(fds.data(), fds.size(), static_cast<int>(std::max<long long>(wait_ms, 0))) < 0 &&
          errno != EINTR)
        continue;
      if (fds[0].revents) return;
      now = Steady::now();
      std::size_t i = 2;
      for (auto it = connections.begin(); it != connections.end(); ++i) {
        if (fds[i].revents == 0 || serve(*it, fds[i].revents)) {
          ++it;
          continue;
        }
        close_fd(it->fd);
        it = connections.erase(it);
      }
      if (fds[1].revents & POLLIN) accept_all(now);
    }
  }
};

MetricsServer::MetricsServer(Render render, Health health, Health readiness) : impl_(new Impl) {
  impl_->render = std::move(render);
  impl_->health = std::move(health);
  impl_->readiness = std::move(readiness);
}

MetricsServer::~MetricsServer() { stop(); }

std::optional<std::string> MetricsServer::bind(const ListenAddress& address) {
  std::string where = address.host + ":" + std::to_string(address.port);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(address.port);
  if (int rc = ::getaddrinfo(address.host.c_str(), service.c_str(), &hints, &found); rc != 0)
    return "cannot listen on " + where + ": unknown address (" + ::gai_strerror(rc) + ")";
  int error = EADDRNOTAVAIL;
  for (addrinfo* a = found; a; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      error = errno;
      continue;
    }
    // SO_REUSEADDR to restart quickly; never SO_REUSEPORT, which would let a second
    // instance bind the same port silently and steal half the scrapes.
    int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, SOMAXCONN) == 0) {
      impl_->listen_fd = fd;
      break;
    }
    error = errno;
    ::close(fd);
  }
  ::freeaddrinfo(found);
  if (impl_->listen_fd < 0) {
    std::string why = error == EADDRINUSE ? "the port is already in use (EADDRINUSE)"
                                          : std::string(std::strerror(error));
    return "cannot listen on " + where + ": " + why;
  }
  if (::pipe2(impl_->wake, O_CLOEXEC | O_NONBLOCK) != 0)
    return "cannot serve on " + where + ": pipe: " + std::strerror(errno);
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(impl_->listen_fd, reinterpret_cast<sockaddr*>(&bound), &len);
  impl_->port = bound.ss_family == AF_INET6
                    ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                    : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return std::nullopt;
}

int MetricsServer::port() const { return impl_->port; }

void MetricsServer::start() {
  if (impl_->listen_fd < 0 || impl_->thread.joinable()) return;
  impl_->thread = std::thread([this] { impl_->loop(); });
}

void MetricsServer::stop() {
  if (!impl_ || !impl_->thread.joinable()) return;
  char byte = 0;
  while (::write(impl_->wake[1], &byte, 1) < 0 && errno == EINTR) {
  }
  impl_->thread.join();
}

}  // namespace hotreload::cli

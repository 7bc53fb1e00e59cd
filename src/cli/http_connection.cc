#include "http_connection.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <functional>
#include <optional>
#include <utility>
#include <variant>

#include "fd.h"

namespace hotreload::cli {

namespace {

using Steady = std::chrono::steady_clock;
using Failure = HttpAnswer::Failure;

// An answer's status line and headers.
constexpr std::size_t kHeadBytesMax = std::size_t{64} * 1024;

// An eventfd that a stop request makes readable: every wait polls it beside the socket.
class StopSignal {
 public:
  explicit StopSignal(const std::stop_token& stop)
      : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)), on_stop_(stop, [this] {
          uint64_t one = 1;
          [[maybe_unused]] auto n = ::write(fd_.get(), &one, sizeof one);
        }) {}
  int fd() const { return fd_.get(); }

 private:
  // Made before on_stop_, which may write to it as it is constructed, and closed after it
  // is gone: a stop_callback's destructor waits for the callback running on another thread.
  Fd fd_;
  std::stop_callback<std::function<void()>> on_stop_;
};

enum class Wait { ready, timed_out, stopped };

// Until fd has one of events, the deadline passes, or a stop is requested.
Wait wait_for(int fd, short events, Steady::time_point deadline, const StopSignal& stop) {
  for (;;) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Steady::now());
    if (left.count() <= 0) return Wait::timed_out;
    pollfd p[2] = {{fd, events, 0}, {stop.fd(), POLLIN, 0}};
    int timeout = static_cast<int>(std::min<std::chrono::milliseconds::rep>(left.count(), 60'000));
    int n = ::poll(p, stop.fd() >= 0 ? 2 : 1, timeout);
    if (n < 0 && errno != EINTR) return Wait::ready;  // the call that follows says what is wrong
    if (n <= 0) continue;
    if (p[1].revents) return Wait::stopped;
    if (p[0].revents) return Wait::ready;
  }
}

Failure failure_of(Wait w, Failure otherwise) {
  if (w == Wait::stopped) return Failure::stopped;
  return w == Wait::timed_out ? Failure::timed_out : otherwise;
}

std::string openssl_error() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return {};
  char text[256];
  ERR_error_string_n(e, text, sizeof text);
  return text;
}

bool is_ip_literal(const std::string& host) {
  in6_addr any;
  return ::inet_pton(AF_INET, host.c_str(), &any) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), &any) == 1;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

struct HttpConnection::Open {
  explicit Open(Fd connected) : socket(std::move(connected)) {}
  Open(const Open&) = delete;
  Open& operator=(const Open&) = delete;
  ~Open() {
    if (ssl) SSL_free(ssl);  // no close_notify: the peer learns from the TCP close
    if (ctx) SSL_CTX_free(ctx);
  }
  int fd() const { return socket.get(); }

  Fd socket;  // closed after the TLS session is freed
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  std::string buffer;  // read past what the last answer used (nothing, for a well-behaved peer)

  // Some bytes into buffer: their count, 0 at the end of the stream, or a failure.
  std::variant<std::size_t, Failure> read_some(Steady::time_point deadline,
                                               const StopSignal& stop) {
    char chunk[16 * 1024];
    for (;;) {
      short want = POLLIN;
      if (ssl) {
        std::size_t n = 0;
        ERR_clear_error();  // SSL_get_error reads the queue: only this call's errors
        int rc = SSL_read_ex(ssl, chunk, sizeof chunk, &n);
        if (rc == 1) {
          buffer.append(chunk, n);
          return n;
        }
        int err = SSL_get_error(ssl, rc);
        if (err == SSL_ERROR_ZERO_RETURN) return std::size_t{0};
        if (err == SSL_ERROR_WANT_WRITE) want = POLLOUT;
        else if (err != SSL_ERROR_WANT_READ) return Failure::read;
      } else {
        ssize_t n = ::recv(fd(), chunk, sizeof chunk, 0);
        if (n >= 0) {
          buffer.append(chunk, static_cast<std::size_t>(n));
          return static_cast<std::size_t>(n);
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return Failure::read;
      }
      if (Wait w = wait_for(fd(), want, deadline, stop); w != Wait::ready)
        return failure_of(w, Failure::read);
    }
  }

  std::optional<Failure> write_all(std::string_view data, Steady::time_point deadline,
                                   const StopSignal& stop) {
    while (!data.empty()) {
      short want = POLLOUT;
      if (ssl) {
        std::size_t n = 0;
        ERR_clear_error();
        int rc = SSL_write_ex(ssl, data.data(), data.size(), &n);
        if (rc == 1) {
          data.remove_prefix(n);
          continue;
        }
        int err = SSL_get_error(ssl, rc);
        if (err == SSL_ERROR_WANT_READ) want = POLLIN;
        else if (err != SSL_ERROR_WANT_WRITE) return Failure::write;
      } else {
        ssize_t n = ::send(fd(), data.data(), data.size(), MSG_NOSIGNAL);
        if (n >= 0) {
          data.remove_prefix(static_cast<std::size_t>(n));
          continue;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return Failure::write;
      }
      if (Wait w = wait_for(fd(), want, deadline, stop); w != Wait::ready)
        return failure_of(w, Failure::write);
    }
    return std::nullopt;
  }

  // The TLS session over the socket: the server's certificate verified against files.ca_file (or
  // the system's CAs) and host, the client's certificate presented if there is one.
  std::optional<std::pair<Failure, std::string>> start_tls(const std::string& host,
                                                           const HttpTlsFiles& files,
                                                           Steady::time_point deadline,
                                                           const StopSignal& stop) {
    using Why = std::pair<Failure, std::string>;
    ERR_clear_error();
    ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) return Why{Failure::tls_handshake, openssl_error()};
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);  // a close is an end, as for HTTP
    int trusted = files.ca_file.empty()
                      ? SSL_CTX_set_default_verify_paths(ctx)
                      : SSL_CTX_load_verify_locations(ctx, files.ca_file.c_str(), nullptr);
    if (trusted != 1)
      return Why{Failure::tls_handshake,
                 (files.ca_file.empty() ? std::string("the system's CA certificates")
                                        : "CA file " + files.ca_file) +
                     ": " + openssl_error()};
    if (!files.cert_file.empty()) {
      if (SSL_CTX_use_certificate_chain_file(ctx, files.cert_file.c_str()) != 1)
        return Why{Failure::tls_handshake,
                   "client certificate " + files.cert_file + ": " + openssl_error()};
      const std::string& key = files.key_file.empty() ? files.cert_file : files.key_file;
      if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1)
        return Why{Failure::tls_handshake, "client key " + key + ": " + openssl_error()};
    }
    ssl = SSL_new(ctx);
    if (!ssl || SSL_set_fd(ssl, fd()) != 1) return Why{Failure::tls_handshake, openssl_error()};
    if (is_ip_literal(host)) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl, host.c_str());
      SSL_set1_host(ssl, host.c_str());
    }
    for (;;) {
      ERR_clear_error();
      int rc = SSL_connect(ssl);
      if (rc == 1) return std::nullopt;
      int err = SSL_get_error(ssl, rc);
      short want = err == SSL_ERROR_WANT_READ ? POLLIN : err == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
      if (want == 0) {
        if (long verify = SSL_get_verify_result(ssl); verify != X509_V_OK)
          return Why{Failure::tls_untrusted, X509_verify_cert_error_string(verify)};
        return Why{Failure::tls_handshake, openssl_error()};
      }
      if (Wait w = wait_for(fd(), want, deadline, stop); w != Wait::ready)
        return Why{failure_of(w, Failure::tls_handshake), {}};
    }
  }

  // More bytes into buffer; the end of the stream is a failure here.
  std::optional<Failure> read_more(Steady::time_point deadline, const StopSignal& stop) {
    auto got = read_some(deadline, stop);
    if (auto* f = std::get_if<Failure>(&got)) return *f;
    if (std::get<std::size_t>(got) == 0) return Failure::read;
    return std::nullopt;
  }

  // A line ending in CRLF, taken off the buffer without it.
  std::optional<Failure> line(std::string& out, Steady::time_point deadline,
                              const StopSignal& stop) {
    for (;;) {
      if (auto eol = buffer.find("\r\n"); eol != std::string::npos) {
        out.assign(buffer, 0, eol);
        buffer.erase(0, eol + 2);
        return std::nullopt;
      }
      if (buffer.size() > kHeadBytesMax) return Failure::read;
      if (auto f = read_more(deadline, stop)) return f;
    }
  }

  // n bytes of a body, dropped as they come.
  std::optional<Failure> skip(std::size_t n, Steady::time_point deadline, const StopSignal& stop) {
    for (;;) {
      std::size_t take = std::min(n, buffer.size());
      buffer.erase(0, take);
      n -= take;
      if (n == 0) return std::nullopt;
      if (auto f = read_more(deadline, stop)) return f;
    }
  }

  std::optional<Failure> skip_chunked(Steady::time_point deadline, const StopSignal& stop) {
    std::string size_line;
    for (;;) {
      if (auto f = line(size_line, deadline, stop)) return f;
      std::string_view digits = trim(std::string_view(size_line).substr(0, size_line.find(';')));
      std::size_t size = 0;
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), size, 16);
      if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size())
        return Failure::read;
      if (size == 0) break;
      if (auto f = skip(size, deadline, stop)) return f;
      if (auto f = line(size_line, deadline, stop)) return f;
      if (!size_line.empty()) return Failure::read;
    }
    do {  // trailers, up to the empty line
      if (auto f = line(size_line, deadline, stop)) return f;
    } while (!size_line.empty());
    return std::nullopt;
  }

  std::optional<Failure> skip_to_end(Steady::time_point deadline, const StopSignal& stop) {
    for (;;) {
      buffer.clear();
      auto got = read_some(deadline, stop);
      if (auto* f = std::get_if<Failure>(&got)) return *f;
      if (std::get<std::size_t>(got) == 0) return std::nullopt;
    }
  }

  // The answer through its body. keep: whether the connection may carry another request.
  std::optional<Failure> read_answer(int& status, bool& keep, bool& answered,
                                     Steady::time_point deadline, const StopSignal& stop) {
    std::string text;
    int minor = 1;
    for (;;) {  // 1xx answers come before the one that counts
      if (buffer.empty()) {
        if (auto f = read_more(deadline, stop)) return f;
      }
      answered = true;
      if (auto f = line(text, deadline, stop)) return f;
      // "HTTP/1.1 200 OK"
      if (text.size() < 12 || !text.starts_with("HTTP/1.") || text[8] != ' ') return Failure::read;
      minor = text[7] - '0';
      auto [end, ec] = std::from_chars(text.data() + 9, text.data() + 12, status);
      if (ec != std::errc() || end != text.data() + 12 || status < 100) return Failure::read;
      if (status >= 200 || status == 101) break;
      do {
        if (auto f = line(text, deadline, stop)) return f;
      } while (!text.empty());
    }
    std::optional<std::size_t> length;
    bool chunked = false, close = minor == 0, keep_alive = false;
    for (std::size_t bytes = 0;;) {
      if (auto f = line(text, deadline, stop)) return f;
      if (text.empty()) break;
      if ((bytes += text.size()) > kHeadBytesMax) return Failure::read;
      auto colon = text.find(':');
      if (colon == std::string::npos) return Failure::read;
      std::string_view name = trim(std::string_view(text).substr(0, colon));
      std::string_view value = trim(std::string_view(text).substr(colon + 1));
      if (iequals(name, "content-length")) {
        std::size_t n = 0;
        auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
        if (value.empty() || ec != std::errc() || end != value.data() + value.size() ||
            (length && *length != n))
          return Failure::read;
        length = n;
      } else if (iequals(name, "transfer-encoding")) {
        std::string_view last = trim(value.substr(value.rfind(',') + 1));
        chunked = iequals(last, "chunked");
      } else if (iequals(name, "connection")) {
        for (std::size_t at = 0; at <= value.size();) {
          auto comma = std::min(value.find(',', at), value.size());
          std::string_view token = trim(value.substr(at, comma - at));
          if (iequals(token, "close")) close = true;
          if (iequals(token, "keep-alive")) keep_alive = true;
          at = comma + 1;
        }
      }
    }
    keep = !close || (minor == 0 && keep_alive);
    if (status == 204 || status == 304 || status == 101) {
      keep = keep && status != 101;
    } else if (chunked) {
      if (auto f = skip_chunked(deadline, stop)) return f;
    } else if (length) {
      if (auto f = skip(*length, deadline, stop)) return f;
    } else {
      keep = false;  // the body ends with the connection
      if (auto f = skip_to_end(deadline, stop)) return f;
    }
    if (!buffer.empty()) keep = false;  // more than was asked for: out of step
    return std::nullopt;
  }

  // A kept connection the peer closed (or wrote to unasked) while idle: not to be reused.
  bool still_idle() const {
    pollfd p{fd(), POLLIN | POLLRDHUP, 0};
    return ::poll(&p, 1, 0) == 0 && (!ssl || SSL_pending(ssl) == 0);
  }
};

HttpConnection::HttpConnection(std::string_view origin, HttpTlsFiles tls)
    : files_(std::move(tls)) {
  tls_ = origin.starts_with("https://");
  std::string_view rest = origin.substr(origin.find("://") + 3);
  std::string_view host = rest, port;
  if (rest.starts_with('[')) {  // [v6]:port
    auto close = rest.find(']');
    host = rest.substr(1, close - 1);
    if (close + 1 < rest.size() && rest[close + 1] == ':') port = rest.substr(close + 2);
  } else if (auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  host_ = std::string(host);
  port_ = port.empty() ? (tls_ ? "443" : "80") : std::string(port);
}

HttpConnection::~HttpConnection() = default;

namespace {

// A TCP connection to the first address of host that takes one, TCP_NODELAY set (a request
// goes out at once, not after a delayed ACK), non-blocking.
std::variant<Fd, HttpAnswer> connect_to(const std::string& host, const std::string& port,
                                         Steady::time_point deadline, const StopSignal& stop) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0)
    return HttpAnswer{.failure = Failure::connect, .detail = ::gai_strerror(rc)};
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, ::freeaddrinfo);
  HttpAnswer why{.failure = Failure::connect};
  for (addrinfo* a = found; a; a = a->ai_next) {
    Fd fd(::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol));
    if (fd.get() < 0) {
      why.detail = std::strerror(errno);
      continue;
    }
    int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int rc = ::connect(fd.get(), a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      Wait w = wait_for(fd.get(), POLLOUT, deadline, stop);
      if (w != Wait::ready) {
        Failure f = w == Wait::stopped ? Failure::stopped : Failure::connect_timeout;
        return HttpAnswer{.failure = f};
      }
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
      rc = err == 0 ? 0 : -1;
      errno = err;
    }
    if (rc == 0) return fd;
    why.detail = std::strerror(errno);
  }
  return why;
}

}  // namespace

HttpAnswer HttpConnection::exchange(std::string_view request, Steady::time_point deadline,
                                    const std::stop_token& stop_token) {
  StopSignal stop(stop_token);
  HttpAnswer answer;
  if (open_ && !open_->still_idle()) open_.reset();
  answer.reused = static_cast<bool>(open_);
  auto fail = [&](Failure f, std::string detail = {}) {
    open_.reset();
    answer.failure = f;
    answer.detail = std::move(detail);
    return answer;
  };
  if (!open_) {
    auto connected = connect_to(host_, port_, deadline, stop);
    if (auto* why = std::get_if<HttpAnswer>(&connected)) return *why;
    open_ = std::make_unique<Open>(std::move(std::get<Fd>(connected)));
    if (tls_)
      if (auto why = open_->start_tls(host_, files_, deadline, stop))
        return fail(why->first, why->second);
  }
  if (auto why = open_->write_all(request, deadline, stop)) return fail(*why);
  bool keep = false;
  if (auto why = open_->read_answer(answer.status, keep, answer.answered, deadline, stop))
    return fail(*why);
  if (!keep) open_.reset();
  return answer;
}

}  // namespace hotreload::cli

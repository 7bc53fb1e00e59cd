#include "webhook.h"

#include <fcntl.h>
#include <httplib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

namespace hotreload::cli {

namespace {

std::string describe(httplib::Error error, const std::string& origin) {
  switch (error) {
    case httplib::Error::Connection: return "could not connect to " + origin;
    case httplib::Error::ConnectionTimeout: return "timed out connecting to " + origin;
    case httplib::Error::Read: return "no complete answer from " + origin + " (read failed or timed out)";
    case httplib::Error::Write: return "could not send the request to " + origin;
    case httplib::Error::SSLConnection: return "TLS handshake with " + origin + " failed";
    case httplib::Error::SSLServerVerification:
      return "TLS certificate of " + origin + " not trusted";
    default: return "request to " + origin + " failed (" + httplib::to_string(error) + ")";
  }
}

using Steady = std::chrono::steady_clock;

// A duplicate of the client's socket, taken when the client creates it: shutting it down
// ends whatever the client is doing on it (connecting, a TLS handshake, a read), from any
// thread, and being ours the descriptor is never closed and reused under our feet.
class SocketCopy {
 public:
  ~SocketCopy() { reset(); }
  void take(int sock) {
    std::lock_guard lock(mu_);
    if (fd_ >= 0) ::close(fd_);
    fd_ = ::fcntl(sock, F_DUPFD_CLOEXEC, 0);
  }
  void shut_down() {
    std::lock_guard lock(mu_);
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
  }
  void reset() {
    std::lock_guard lock(mu_);
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  std::mutex mu_;
  int fd_ = -1;
};

// Ends an attempt that is still running at its deadline, or when a stop is requested: the
// per-read timeouts of the HTTP client restart with every byte, so an endpoint that
// trickles its answer would hold the attempt forever. The socket is shut down (and the
// client told to stop) until the attempt returns: before the socket exists, that does
// nothing, and the connect timeout bounds the wait.
class AttemptGuard {
 public:
  AttemptGuard(httplib::Client& client, SocketCopy& socket, Steady::time_point deadline,
               const std::stop_token& stop)
      : thread_([this, &client, &socket, deadline, stop] {
          std::unique_lock lock(mu_);
          cv_.wait_until(lock, stop, deadline, [this] { return done_; });
          while (!done_) {
            fired_ = true;
            lock.unlock();
            socket.shut_down();
            client.stop();
            lock.lock();
            cv_.wait_for(lock, std::chrono::milliseconds(20), [this] { return done_; });
          }
        }) {}
  ~AttemptGuard() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  AttemptGuard(const AttemptGuard&) = delete;
  AttemptGuard& operator=(const AttemptGuard&) = delete;

  // Whether the attempt was cut short (then its own error only says the socket closed).
  bool fired() const { return fired_.load(); }

 private:
  std::mutex mu_;
  std::condition_variable_any cv_;
  bool done_ = false;
  std::atomic<bool> fired_{false};
  std::thread thread_;  // last: it uses the members above
};

// Sleeps d unless a stop is requested first; false if it was.
bool sleep_unless_stopped(std::chrono::milliseconds d, const std::stop_token& stop) {
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock lock(mu);
  cv.wait_for(lock, stop, d, [] { return false; });
  return !stop.stop_requested();
}

}  // namespace

Parsed<WebhookUrl> parse_webhook_url(std::string_view url) {
  const std::string quoted = "\"" + std::string(url) + "\"";
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos)
    return "invalid webhook URL " + quoted + ": expected http://host[:port]/path";
  std::string_view scheme = url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https")
    return "invalid webhook URL " + quoted + ": scheme must be http or https, not \"" +
           std::string(scheme) + "\"";
  std::string_view rest = url.substr(scheme_end + 3);
  auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (authority.empty() || authority.front() == ':')
    return "invalid webhook URL " + quoted + ": no host";
  if (authority.find('@') != std::string_view::npos)
    return "invalid webhook URL " + quoted + ": credentials in the URL are not supported";
  auto colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']') == std::string_view::npos) {
    std::string_view port = authority.substr(colon + 1);
    bool digits = !port.empty() && port.size() <= 5 &&
                  std::all_of(port.begin(), port.end(),
                              [](char c) { return c >= '0' && c <= '9'; });
    if (!digits || std::stoi(std::string(port)) == 0 || std::stoi(std::string(port)) > 65535)
      return "invalid webhook URL " + quoted + ": port \"" + std::string(port) +
             "\" must be a number from 1 to 65535";
  }
  WebhookUrl out;
  out.origin = std::string(scheme) + "://" + std::string(authority);
  out.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  return out;
}

struct WebhookClient::Connection {
  explicit Connection(const WebhookConfig& config) : client(config.parsed.origin) {
    client.set_connection_timeout(config.timeout);
    client.set_read_timeout(config.timeout);
    client.set_write_timeout(config.timeout);
    client.set_keep_alive(true);
    client.set_tcp_nodelay(true);
    client.set_socket_options([this](int sock) { socket.take(sock); });
  }
  httplib::Client client;
  SocketCopy socket;  // of the connection the client holds now
};

WebhookClient::WebhookClient(WebhookConfig config)
    : config_(std::move(config)), connection_(std::make_unique<Connection>(config_)) {}

WebhookClient::~WebhookClient() = default;

WebhookOutcome WebhookClient::post(const std::string& body, const std::stop_token& stop) {
  const WebhookConfig& config = config_;
  httplib::Client& client = connection_->client;
  SocketCopy& socket = connection_->socket;
  WebhookOutcome outcome;
  auto backoff = config.backoff_first;
  for (unsigned attempt = 0; attempt <= config.retries; ++attempt) {
    if (attempt > 0) {
      if (!sleep_unless_stopped(backoff, stop)) {
        outcome.error += " (gave up: stopping)";
        return outcome;
      }
      backoff = std::min(backoff * 2, config.backoff_max);
    }
    if (stop.stop_requested()) {
      outcome.error = "not sent: stopping";
      return outcome;
    }
    ++outcome.attempts;
    std::optional<httplib::Result> res;
    bool cut = false;
    {
      AttemptGuard guard(client, socket, Steady::now() + config.timeout, stop);
      res.emplace(client.Post(config.parsed.target, body, "application/json"));
      cut = guard.fired();
    }
    // A connection shut down at the deadline, or that failed, is not reused.
    if (cut || !*res) {
      client.stop();
      socket.reset();
    }
    if (*res && (*res)->status >= 200 && (*res)->status < 300) {
      outcome.ok = true;
      outcome.error.clear();
      return outcome;
    }
    if (cut) {
      outcome.error = "no complete answer from " + config.parsed.origin + " within " +
                      format_duration(config.timeout) + " (the whole attempt's time)";
      if (stop.stop_requested()) {
        outcome.error = "no complete answer from " + config.parsed.origin + " (gave up: stopping)";
        return outcome;
      }
      continue;
    }
    if (!*res) {
      outcome.error = describe(res->error(), config.parsed.origin);
      continue;
    }
    outcome.error = config.url + " answered HTTP " + std::to_string((*res)->status);
  }
  return outcome;
}

}  // namespace hotreload::cli

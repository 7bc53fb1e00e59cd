#include "webhook.h"

#include <fcntl.h>
#include <httplib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "small_file.h"

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

// A credential file's text without its trailing line break (as `kubectl create secret
// --from-file` keeps it). Its content never goes into an error.
constexpr std::size_t kSecretBytesMax = std::size_t{64} * 1024;

Parsed<std::string> read_secret(const std::string& path, const char* flag) {
  std::string text;
  if (auto why = read_small_file(path, kSecretBytesMax, text))
    return Parsed<std::string>(std::in_place_index<1>, std::string(flag) + " " + path + " " + *why);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
    text.pop_back();
  if (text.empty())
    return Parsed<std::string>(std::in_place_index<1>, std::string(flag) + " " + path + " is empty");
  return Parsed<std::string>(std::in_place_index<0>, std::move(text));
}

// The headers of one request: the user's, then the credentials (read now).
Parsed<httplib::Headers> request_headers(const WebhookConfig& config) {
  httplib::Headers headers(config.headers.begin(), config.headers.end());
  if (!config.bearer_token_file.empty()) {
    auto token = read_secret(config.bearer_token_file, "--webhook-bearer-token-file");
    if (auto* why = std::get_if<1>(&token)) return *why;
    headers.emplace("Authorization", "Bearer " + std::get<0>(token));
  }
  if (!config.basic_auth_file.empty()) {
    auto pair = read_secret(config.basic_auth_file, "--webhook-basic-auth-file");
    if (auto* why = std::get_if<1>(&pair)) return *why;
    const std::string& text = std::get<0>(pair);
    auto colon = text.find(':');
    if (colon == std::string::npos || colon == 0)
      return "--webhook-basic-auth-file " + config.basic_auth_file +
             " does not hold user:password";
    headers.insert(httplib::make_basic_authentication_header(text.substr(0, colon),
                                                             text.substr(colon + 1)));
  }
  return headers;
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
  out.text = std::string(url);
  out.origin = std::string(scheme) + "://" + std::string(authority);
  out.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  return out;
}

namespace {

bool is_token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

Parsed<std::pair<std::string, std::string>> parse_webhook_header(std::string_view text) {
  const std::string quoted = "\"" + std::string(text) + "\"";
  auto colon = text.find(':');
  if (colon == std::string_view::npos)
    return "invalid --webhook-header " + quoted + ": expected 'Name: value'";
  std::string_view name = text.substr(0, colon);
  std::string_view value = text.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (name.empty() || !std::all_of(name.begin(), name.end(), is_token_char))
    return "invalid --webhook-header " + quoted +
           ": the name before ':' must be letters, digits and -, without spaces";
  if (value.find_first_of("\r\n") != std::string_view::npos || value.find('\0') != std::string_view::npos)
    return "invalid --webhook-header " + quoted + ": a value cannot hold a line break";
  const std::string key = lower(name);
  if (key == "host" || key == "content-length" || key == "transfer-encoding" || key == "connection")
    return "invalid --webhook-header " + quoted + ": " + std::string(name) +
           " is set by hotreload itself";
  return std::pair{std::string(name), std::string(value)};
}

Parsed<std::string> parse_webhook_method(std::string_view text) {
  std::string upper(text);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const char* m : {"GET", "POST", "PUT", "PATCH", "DELETE"})
    if (upper == m) return Parsed<std::string>(std::in_place_index<0>, upper);
  return Parsed<std::string>(std::in_place_index<1>,
                             "invalid --webhook-method \"" + std::string(text) +
                                 "\": expected GET, POST, PUT, PATCH or DELETE");
}

struct WebhookClient::Connection {
  Connection(const WebhookConfig& config, const WebhookUrl& url)
      : client(url.origin, config.cert_file, config.key_file) {
    client.set_connection_timeout(config.timeout);
    client.set_read_timeout(config.timeout);
    client.set_write_timeout(config.timeout);
    client.set_keep_alive(true);
    client.set_tcp_nodelay(true);
    if (!config.ca_file.empty()) client.set_ca_cert_path(config.ca_file);
    client.set_socket_options([this](int sock) {
      socket.take(sock);
      opened = true;
    });
  }
  httplib::Client client;
  SocketCopy socket;    // of the connection the client holds now
  bool opened = false;  // whether the last send opened it (else it reused a kept one)
};

WebhookClient::WebhookClient(const WebhookConfig& config, WebhookUrl url)
    : config_(config), url_(std::move(url)) {}

WebhookClient::~WebhookClient() = default;

WebhookAttempt WebhookClient::attempt(const std::string& body, const std::stop_token& stop) {
  return request(config_.method, config_.method == "GET" ? nullptr : &body,
                 config_.expect_status, stop);
}

WebhookAttempt WebhookClient::probe(const std::stop_token& stop) {
  return request("GET", nullptr, std::nullopt, stop);
}

WebhookAttempt WebhookClient::request(std::string_view method, const std::string* body,
                                      std::optional<int> expect_status,
                                      const std::stop_token& stop) {
  if (stop.stop_requested()) return {false, "not sent: stopping"};
  auto headers = request_headers(config_);
  if (auto* why = std::get_if<1>(&headers)) return {false, *why};
  // A client certificate is read when a connection is made; say which file is wrong
  // rather than "TLS handshake failed".
  for (const auto& [file, flag] : {std::pair{&config_.cert_file, "--webhook-cert-file"},
                                   std::pair{&config_.key_file, "--webhook-key-file"},
                                   std::pair{&config_.ca_file, "--webhook-ca-file"}}) {
    if (file->empty() || ::access(file->c_str(), R_OK) == 0) continue;
    return {false, std::string(flag) + " " + *file + " cannot be read: " + std::strerror(errno)};
  }
  httplib::Request req;
  req.method = std::string(method);
  req.path = url_.target;
  req.headers = std::move(std::get<0>(headers));
  if (body) {
    req.body = *body;
    if (!req.has_header("Content-Type")) req.set_header("Content-Type", "application/json");
  }
  const auto deadline = Steady::now() + config_.timeout;
  std::optional<httplib::Result> res;
  bool cut = false;
  // A kept connection the service closed (its idle timeout) just as the request went out
  // fails without an answer; that is not the service refusing. As HTTP clients do for a
  // reused connection, the request goes once more, on a new one.
  for (bool retried = false;; retried = true) {
    if (!connection_) connection_ = std::make_unique<Connection>(config_, url_);
    connection_->opened = false;
    {
      AttemptGuard guard(connection_->client, connection_->socket, deadline, stop);
      res.emplace(connection_->client.send(req));
      cut = guard.fired();
    }
    const bool reused = !connection_->opened;
    // A connection shut down at the deadline, or that failed, is not reused: the next
    // request opens a new one, with the certificate files as they are then.
    if (cut || !*res) connection_.reset();
    const bool stale = !cut && !*res && reused &&
                       (res->error() == httplib::Error::Read || res->error() == httplib::Error::Write);
    if (!stale || retried) break;
  }
  if (cut)
    return {false, stop.stop_requested()
                       ? "no complete answer from " + url_.origin + " (gave up: stopping)"
                       : "no complete answer from " + url_.origin + " within " +
                             format_duration(config_.timeout) + " (the whole attempt's time)"};
  if (!*res) return {false, describe(res->error(), url_.origin)};
  int status = (*res)->status;
  bool ok = expect_status ? status == *expect_status : status >= 200 && status < 300;
  if (ok) return {true, {}};
  std::string error = req.method + " " + url_.text + " answered HTTP " + std::to_string(status);
  if (expect_status) error += ", not the expected " + std::to_string(*expect_status);
  return {false, error};
}

}  // namespace hotreload::cli

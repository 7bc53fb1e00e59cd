#include "webhook.h"

#include <openssl/evp.h>
#include <strings.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>

#include "http_connection.h"
#include "small_file.h"

namespace hotreload::cli {

namespace {

using Steady = std::chrono::steady_clock;
using Failure = HttpAnswer::Failure;

std::string describe(const HttpAnswer& a, const WebhookUrl& url,
                     std::chrono::milliseconds timeout) {
  const std::string& origin = url.origin;
  std::string detail = a.detail.empty() ? "" : " (" + a.detail + ")";
  switch (a.failure) {
    case Failure::connect: return "could not connect to " + origin + detail;
    case Failure::connect_timeout: return "timed out connecting to " + origin;
    case Failure::tls_handshake: return "TLS handshake with " + origin + " failed" + detail;
    case Failure::tls_untrusted: return "TLS certificate of " + origin + " not trusted" + detail;
    case Failure::write: return "could not send the request to " + origin;
    case Failure::read: return "no complete answer from " + origin + " (read failed, or not HTTP)";
    case Failure::timed_out:
      return "no complete answer from " + origin + " within " + format_duration(timeout) +
             " (the whole attempt's time)";
    case Failure::stopped: return "no complete answer from " + origin + " (gave up: stopping)";
    case Failure::none: break;
  }
  return {};
}

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

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// One request as it goes on the wire: the user's headers, then the credentials (read
// now), then the body's.
Parsed<std::string> request_text(const WebhookConfig& config, std::string_view method,
                                 const WebhookUrl& url, const std::string* body) {
  auto refused = [](std::string why) {
    return Parsed<std::string>(std::in_place_index<1>, std::move(why));
  };
  std::string_view authority = url.origin;
  authority.remove_prefix(authority.find("://") + 3);
  std::string text;
  text.reserve(256 + (body ? body->size() : 0));
  text.append(method).append(" ").append(url.target).append(" HTTP/1.1\r\nHost: ");
  text.append(authority).append("\r\nUser-Agent: hotreload\r\n");
  bool typed = false;
  for (const auto& [name, value] : config.headers) {
    text.append(name).append(": ").append(value).append("\r\n");
    typed = typed || strcasecmp(name.c_str(), "Content-Type") == 0;
  }
  if (!config.bearer_token_file.empty()) {
    auto token = read_secret(config.bearer_token_file, "--webhook-bearer-token-file");
    if (auto* why = std::get_if<1>(&token)) return refused(*why);
    text.append("Authorization: Bearer ").append(std::get<0>(token)).append("\r\n");
  }
  if (!config.basic_auth_file.empty()) {
    auto pair = read_secret(config.basic_auth_file, "--webhook-basic-auth-file");
    if (auto* why = std::get_if<1>(&pair)) return refused(*why);
    const std::string& secret = std::get<0>(pair);
    auto colon = secret.find(':');
    if (colon == std::string::npos || colon == 0)
      return refused("--webhook-basic-auth-file " + config.basic_auth_file +
                     " does not hold user:password");
    text.append("Authorization: Basic ").append(base64(secret)).append("\r\n");
  }
  if (body) {
    if (!typed) text.append("Content-Type: application/json\r\n");
    text.append("Content-Length: ").append(std::to_string(body->size())).append("\r\n\r\n");
    text.append(*body);
  } else {
    text.append("\r\n");
  }
  return Parsed<std::string>(std::in_place_index<0>, std::move(text));
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
  auto text = request_text(config_, method, url_, body);
  if (auto* why = std::get_if<1>(&text)) return {false, *why};
  // A client certificate is read when a connection is made; say which file is wrong
  // rather than "TLS handshake failed".
  for (const auto& [file, flag] : {std::pair{&config_.cert_file, "--webhook-cert-file"},
                                   std::pair{&config_.key_file, "--webhook-key-file"},
                                   std::pair{&config_.ca_file, "--webhook-ca-file"}}) {
    if (file->empty() || ::access(file->c_str(), R_OK) == 0) continue;
    return {false, std::string(flag) + " " + *file + " cannot be read: " + std::strerror(errno)};
  }
  if (!connection_)
    connection_ = std::make_unique<HttpConnection>(
        url_.origin, HttpTlsFiles{config_.ca_file, config_.cert_file, config_.key_file});
  const auto deadline = Steady::now() + config_.timeout;
  HttpAnswer answer;
  // A kept connection the service closed (its idle timeout) just as the request went out
  // fails without an answer; that is not the service refusing. As HTTP clients do for a
  // reused connection, the request goes once more, on a new one.
  for (bool retried = false;; retried = true) {
    answer = connection_->exchange(std::get<0>(text), deadline, stop);
    const bool stale = answer.reused && !answer.answered &&
                       (answer.failure == Failure::read || answer.failure == Failure::write);
    if (!stale || retried) break;
  }
  if (answer.failure != Failure::none)
    return {false, describe(answer, url_, config_.timeout)};
  int status = answer.status;
  bool ok = expect_status ? status == *expect_status : status >= 200 && status < 300;
  if (ok) return {true, {}};
  std::string error = std::string(method) + " " + url_.text + " answered HTTP " + std::to_string(status);
  if (expect_status) error += ", not the expected " + std::to_string(*expect_status);
  return {false, error};
}

}  // namespace hotreload::cli

// Webhook: the HTTP request that tells a service to reload, one attempt at a time, with
// the connection kept open between attempts; and the settings every --webhook shares
// (method, headers, credentials, TLS, what answer counts as accepted). Retrying until the
// service accepts is the action runner's (actions.h): it owns the schedule.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "duration.h"

namespace hotreload::cli {

class HttpConnection;

struct WebhookUrl {
  std::string text;    // as given, for logs and errors
  std::string origin;  // "http://host:port", what the HTTP client connects to
  std::string target;  // "/-/reload?x=1", what it asks for
};

// http:// or https:// URLs with a host; anything else says what is wrong.
Parsed<WebhookUrl> parse_webhook_url(std::string_view url);

// "Name: value" (--webhook-header): a header name (an RFC 9110 token) and a value without
// line breaks; the headers this client sets itself (Host, Content-Length) are refused.
Parsed<std::pair<std::string, std::string>> parse_webhook_header(std::string_view text);

// GET, POST, PUT, PATCH or DELETE, any case; upper case out.
Parsed<std::string> parse_webhook_method(std::string_view text);

struct WebhookConfig {
  std::vector<WebhookUrl> urls;  // each --webhook: delivered to independently
  std::string method = "POST";   // the body goes with every method but GET
  std::vector<std::pair<std::string, std::string>> headers;  // --webhook-header
  // Credentials, read from their files at every attempt (a rotated Secret is picked up),
  // never logged: "Authorization: Bearer <token>", or Basic with "user:password".
  std::string bearer_token_file;
  std::string basic_auth_file;
  std::string ca_file;    // trust this CA (PEM) instead of the system's
  std::string cert_file;  // client certificate and key (PEM), for mutual TLS
  std::string key_file;
  std::optional<int> expect_status;     // this status only is success; by default any 2xx
  std::optional<WebhookUrl> ready_url;  // GET until 2xx before a delivery after a failure
  std::optional<unsigned> retries;      // attempts after the first; none: until accepted
  std::chrono::milliseconds timeout{5'000};       // per attempt, whole: connect, send, receive
  std::chrono::milliseconds backoff_first{500};   // doubled after each failure…
  std::chrono::milliseconds backoff_max{10'000};  // …up to this
};

struct WebhookAttempt {
  bool ok = false;
  std::string error;  // why not: the same sentence for the same cause
};

// One endpoint, with its connection kept open between requests (as configmap-reload's Go
// client keeps it): a request after the first costs no TCP or TLS handshake, and goes out
// at once (no Nagle delay). A connection the endpoint closed meanwhile is opened again; one
// that failed is dropped, and the next attempt opens a new one (reading the client
// certificate again). One thread at a time.
class WebhookClient {
 public:
  WebhookClient(const WebhookConfig& config, WebhookUrl url);
  ~WebhookClient();
  WebhookClient(const WebhookClient&) = delete;
  WebhookClient& operator=(const WebhookClient&) = delete;

  // One request with config.method, the headers and credentials, and body (JSON) unless
  // the method is GET; success is config.expect_status, or any 2xx. The attempt ends by
  // config.timeout counted from its start, however slowly the endpoint trickles its answer
  // in (the socket is shut down at the deadline); a stop request ends it at once.
  WebhookAttempt attempt(const std::string& body, const std::stop_token& stop);

  // GET the URL (for --ready-url): any 2xx is ready.
  WebhookAttempt probe(const std::stop_token& stop);

  const WebhookUrl& url() const { return url_; }

 private:
  WebhookAttempt request(std::string_view method, const std::string* body,
                         std::optional<int> expect_status, const std::stop_token& stop);

  const WebhookConfig& config_;
  const WebhookUrl url_;
  std::unique_ptr<HttpConnection> connection_;
};

}  // namespace hotreload::cli

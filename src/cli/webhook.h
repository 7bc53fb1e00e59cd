// Webhook: the HTTP POST that tells a service to reload, retried with exponential
// backoff, so that a service still starting, or briefly overloaded, is reached anyway.
#pragma once

#include <chrono>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>

#include "duration.h"

namespace hotreload::cli {

struct WebhookUrl {
  std::string origin;  // "http://host:port", what the HTTP client connects to
  std::string target;  // "/-/reload?x=1", what it asks for
};

// http:// or https:// URLs with a host; anything else says what is wrong.
Parsed<WebhookUrl> parse_webhook_url(std::string_view url);

struct WebhookConfig {
  std::string url;
  WebhookUrl parsed;
  unsigned retries = 3;                           // attempts after the first
  std::chrono::milliseconds timeout{5'000};       // per attempt, whole: connect, send, receive
  std::chrono::milliseconds backoff_first{500};   // doubled after each failure…
  std::chrono::milliseconds backoff_max{10'000};  // …up to this
};

struct WebhookOutcome {
  bool ok = false;
  unsigned attempts = 0;
  std::string error;  // the last attempt's failure
};

// The webhook's endpoint, with its connection kept open between POSTs (as
// configmap-reload's Go client keeps it): a reload after the first costs no TCP or TLS
// handshake, and the request goes out at once (no Nagle delay). A connection the endpoint
// closed meanwhile is opened again. One thread at a time.
class WebhookClient {
 public:
  explicit WebhookClient(WebhookConfig config);
  ~WebhookClient();
  WebhookClient(const WebhookClient&) = delete;
  WebhookClient& operator=(const WebhookClient&) = delete;

  // POSTs body (JSON) to the URL; a 2xx answer is success, anything else is retried.
  // Each attempt ends by config.timeout counted from its start, however slowly the
  // endpoint trickles its answer in (the socket is shut down at the deadline); a stop
  // request ends the attempt in flight and the backoff at once.
  WebhookOutcome post(const std::string& body, const std::stop_token& stop);

  const WebhookConfig& config() const { return config_; }

 private:
  struct Connection;
  const WebhookConfig config_;
  std::unique_ptr<Connection> connection_;
};

}  // namespace hotreload::cli

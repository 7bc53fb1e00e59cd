#include "webhook.h"

#include <httplib.h>

#include <algorithm>

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
                  std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits || std::stoi(std::string(port)) == 0 || std::stoi(std::string(port)) > 65535)
      return "invalid webhook URL " + quoted + ": port \"" + std::string(port) +
             "\" must be a number from 1 to 65535";
  }
  WebhookUrl out;
  out.origin = std::string(scheme) + "://" + std::string(authority);
  out.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  return out;
}

WebhookOutcome post_webhook(const WebhookConfig& config, const std::string& body,
                            const InterruptibleWait& wait) {
  WebhookOutcome outcome;
  httplib::Client client(config.parsed.origin);
  client.set_connection_timeout(config.timeout);
  client.set_read_timeout(config.timeout);
  client.set_write_timeout(config.timeout);
  auto backoff = config.backoff_first;
  for (unsigned attempt = 0; attempt <= config.retries; ++attempt) {
    if (attempt > 0) {
      if (!wait(backoff)) {
        outcome.error += " (gave up: stopping)";
        return outcome;
      }
      backoff = std::min(backoff * 2, config.backoff_max);
    }
    ++outcome.attempts;
    auto res = client.Post(config.parsed.target, body, "application/json");
    if (!res) {
      outcome.error = describe(res.error(), config.parsed.origin);
      continue;
    }
    if (res->status >= 200 && res->status < 300) {
      outcome.ok = true;
      outcome.error.clear();
      return outcome;
    }
    outcome.error = config.url + " answered HTTP " + std::to_string(res->status);
  }
  return outcome;
}

}  // namespace hotreload::cli

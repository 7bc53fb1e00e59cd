// HttpConnection: one HTTP/1.1 connection to an origin, plain or TLS, kept open from one
// exchange to the next, and an exchange that ends by its deadline or a stop request
// whatever the peer does (trickles its answer, stalls in the handshake, never answers).
//
// It is the webhook's transport, written for what a sidecar needs and no more: one request
// at a time, the answer's status (its body is read and dropped, so the connection can be
// kept), TLS through OpenSSL's libssl with the system's CAs or a given one and an optional
// client certificate. A process that never speaks https never initialises libssl: the
// HTTP library this replaces set up OpenSSL when it was loaded: with the libraries it
// brought, 2.2 MB of resident memory for every sidecar (see README, Performance).
#pragma once

#include <chrono>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>

namespace hotreload::cli {

struct HttpTlsFiles {
  std::string ca_file;    // PEM; empty: the system's CAs
  std::string cert_file;  // client certificate (PEM chain), and its key; empty: none
  std::string key_file;
};

struct HttpAnswer {
  enum class Failure {
    none,
    connect,          // no address of the host took the connection (or none resolved)
    connect_timeout,  // the deadline passed while connecting
    tls_handshake,    // the TLS handshake failed, or a client certificate file is unusable
    tls_untrusted,    // the server's certificate did not verify (chain or host name)
    write,            // the request could not be sent
    read,             // the answer ended early or is not HTTP
    timed_out,        // the deadline passed after the connection was made
    stopped,          // a stop was requested
  };
  Failure failure = Failure::none;
  int status = 0;       // with Failure::none
  bool reused = false;  // the exchange went over a connection kept from an earlier one
  bool answered = false;  // some of the answer arrived (a failure after it is no stale reuse)
  std::string detail;   // what OpenSSL or the system said, if anything
};

class HttpConnection {
 public:
  // origin: "http://host[:port]" or "https://host[:port]", the host a name, an IPv4
  // address or a bracketed IPv6 one (as parse_webhook_url gives it). Nothing is opened yet.
  HttpConnection(std::string_view origin, HttpTlsFiles tls);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Sends request (head and body, as they go on the wire) over the kept connection, or a
  // new one, and reads the answer through its body. The connection is kept if the answer
  // allows (HTTP/1.1 without "Connection: close", a body of known length); after any
  // failure it is closed, and the next exchange opens a new one (reading the TLS files
  // again).
  HttpAnswer exchange(std::string_view request, std::chrono::steady_clock::time_point deadline,
                      const std::stop_token& stop);

 private:
  struct Open;  // the socket, and the TLS session over it

  bool tls_ = false;
  std::string host_;  // without brackets: what the resolver and the certificate check want
  std::string port_;
  HttpTlsFiles files_;
  std::unique_ptr<Open> open_;
};

}  // namespace hotreload::cli

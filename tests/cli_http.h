// The HTTP side of the CLI end-to-end tests: a service's reload endpoint that records the
// webhook bodies it receives, and a /metrics scrape read by the strict Prometheus parser.
#pragma once

#include <httplib.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "cli_test_support.h"
#include "prometheus_text.h"

namespace hotreload::test {

// The files of a local certificate authority, and of a server and a client certificate it
// signed (for 127.0.0.1), made with the openssl command in dir.
struct TestPki {
  std::string ca, server_cert, server_key, client_cert, client_key, other_ca;
};

// A local HTTP (or HTTPS) server standing in for the service a webhook reloads: it records
// what it receives at /-/reload, answers with a chosen status (or 503 for its first
// failures), and serves /ready (503 for its first not-ready GETs, then 200).
class ReloadEndpoint {
 public:
  struct Received {
    std::string method;
    std::string body;
    httplib::Headers headers;
  };
  // tls: serve HTTPS with pki's server certificate; client_ca: require a client certificate
  // signed by it (mutual TLS).
  explicit ReloadEndpoint(int failures_first, const TestPki* tls = nullptr,
                          bool require_client_cert = false)
      : failures_left_(failures_first) {
    if (tls) {
      server_ = std::make_unique<httplib::SSLServer>(
          tls->server_cert.c_str(), tls->server_key.c_str(),
          require_client_cert ? tls->ca.c_str() : nullptr);
      scheme_ = "https";
    } else {
      server_ = std::make_unique<httplib::Server>();
    }
    auto reload = [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu_);
      bodies_.push_back(req.body);
      received_.push_back({req.method, req.body, req.headers});
      connections_.insert(req.remote_addr + ":" + std::to_string(req.remote_port));
      if (failures_left_ > 0) {
        --failures_left_;
        res.status = 503;
        return;
      }
      res.status = status_;
    };
    server_->Post("/-/reload", reload);
    server_->Put("/-/reload", reload);
    server_->Get("/-/reload", reload);
    server_->Get("/ready", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lock(mu_);
      ++ready_gets_;
      if (not_ready_left_ > 0) {
        --not_ready_left_;
        res.status = 503;
        return;
      }
      res.status = 200;
    });
    port_ = server_->bind_to_any_port("127.0.0.1");
    BOOST_REQUIRE(port_ > 0);
    thread_ = std::thread([this] { server_->listen_after_bind(); });
  }
  ~ReloadEndpoint() {
    server_->stop();
    thread_.join();
  }
  std::string url() const {
    return scheme_ + "://127.0.0.1:" + std::to_string(port_) + "/-/reload";
  }
  std::string ready_url() const {
    return scheme_ + "://127.0.0.1:" + std::to_string(port_) + "/ready";
  }
  std::vector<std::string> bodies() {
    std::lock_guard lock(mu_);
    return bodies_;
  }
  std::vector<Received> received() {
    std::lock_guard lock(mu_);
    return received_;
  }
  // The client connections the bodies came on.
  std::size_t connections() {
    std::lock_guard lock(mu_);
    return connections_.size();
  }
  int ready_gets() {
    std::lock_guard lock(mu_);
    return ready_gets_;
  }
  // The next n requests are answered 503.
  void fail_next(int n) {
    std::lock_guard lock(mu_);
    failures_left_ = n;
  }
  // What a request not failed is answered (200 by default).
  void answer_with(int status) {
    std::lock_guard lock(mu_);
    status_ = status;
  }
  // The first n GETs of /ready are answered 503.
  void not_ready_for(int n) {
    std::lock_guard lock(mu_);
    not_ready_left_ = n;
  }
  // Idle connections are closed after this long (httplib's default is 5 s).
  void close_idle_after(std::chrono::seconds t) { server_->set_keep_alive_timeout(t.count()); }

 private:
  std::unique_ptr<httplib::Server> server_;
  std::string scheme_ = "http";
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  int failures_left_;
  int status_ = 200;
  int not_ready_left_ = 0;
  int ready_gets_ = 0;
  std::vector<std::string> bodies_;
  std::vector<Received> received_;
  std::set<std::string> connections_;
};

inline std::vector<PromSample> scrape(int port, const std::string& path = "/metrics") {
  httplib::Client client("127.0.0.1", port);
  auto res = client.Get(path.c_str());
  BOOST_REQUIRE_MESSAGE(res, "GET " << path << " failed: " << httplib::to_string(res.error()));
  BOOST_REQUIRE(res->status == 200);
  BOOST_TEST(contains(res->get_header_value("Content-Type"), "text/plain; version=0.0.4"));
  return parse_prometheus_text(res->body);
}

}  // namespace hotreload::test

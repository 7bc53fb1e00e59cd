// The HTTP side of the CLI end-to-end tests: a service's reload endpoint that records the
// webhook bodies it receives, and a /metrics scrape read by the strict Prometheus parser.
#pragma once

#include <httplib.h>

#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "cli_test_support.h"
#include "prometheus_text.h"

namespace hotreload::test {

// A local HTTP server standing in for the service a webhook reloads.
class ReloadEndpoint {
 public:
  explicit ReloadEndpoint(int failures_first) : failures_left_(failures_first) {
    server_.Post("/-/reload", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu_);
      bodies_.push_back(req.body);
      connections_.insert(req.remote_addr + ":" + std::to_string(req.remote_port));
      if (failures_left_ > 0) {
        --failures_left_;
        res.status = 503;
        return;
      }
      res.status = 200;
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    BOOST_REQUIRE(port_ > 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~ReloadEndpoint() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/-/reload"; }
  std::vector<std::string> bodies() {
    std::lock_guard lock(mu_);
    return bodies_;
  }
  // The client connections the bodies came on.
  std::size_t connections() {
    std::lock_guard lock(mu_);
    return connections_.size();
  }
  // Idle connections are closed after this long (httplib's default is 5 s).
  void close_idle_after(std::chrono::seconds t) { server_.set_keep_alive_timeout(t.count()); }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  int failures_left_;
  std::vector<std::string> bodies_;
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

// The webhook's HTTP/1.1 connection against a scripted server that writes answers byte for
// byte: every way an answer's end is marked, keep-alive and its end, what is not HTTP,
// large requests, deadlines and stops. (HTTPS, mutual TLS, trickling and stalled endpoints
// are driven through the tool in cli_sidecar and cli_hardening_webhook.)
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "cli_test_support.h"
#include "http_connection.h"

using namespace hotreload::cli;
using namespace hotreload::test;
using namespace std::chrono_literals;
using Failure = HttpAnswer::Failure;

namespace {

// Answers each request it reads (head, and a body of its Content-Length) with the next
// scripted answer, then closes the connection if the step says so.
class ScriptedServer {
 public:
  struct Step {
    std::string answer;
    bool close = false;
  };

  explicit ScriptedServer(std::vector<Step> script) : script_(std::move(script)) {
    listen_ = listening_socket(port_);
    thread_ = std::thread([this] { serve(); });
  }
  ~ScriptedServer() {
    stopping_ = true;
    thread_.join();
    ::close(listen_);
  }

  std::string origin() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int connections() const { return accepted_.load(); }
  std::vector<std::string> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  // Bytes from fd until the buffer holds n, false at the end of the stream or on a stop.
  bool fill(int fd, std::string& buffer, std::size_t n) {
    while (buffer.size() < n) {
      pollfd p{fd, POLLIN, 0};
      if (stopping_) return false;
      if (::poll(&p, 1, 50) <= 0) continue;
      char chunk[65536];
      ssize_t got = ::recv(fd, chunk, sizeof chunk, 0);
      if (got <= 0) return false;
      buffer.append(chunk, static_cast<std::size_t>(got));
    }
    return true;
  }

  bool read_request(int fd, std::string& buffer) {
    std::size_t end;
    while ((end = buffer.find("\r\n\r\n")) == std::string::npos)
      if (!fill(fd, buffer, buffer.size() + 1)) return false;
    std::size_t body = 0;
    if (auto at = buffer.find("Content-Length: "); at != std::string::npos && at < end)
      body = std::stoul(buffer.substr(at + 16));
    if (!fill(fd, buffer, end + 4 + body)) return false;
    std::lock_guard lock(mu_);
    requests_.push_back(buffer.substr(0, end + 4 + body));
    buffer.erase(0, end + 4 + body);
    return true;
  }

  void serve() {
    std::size_t next = 0;
    while (!stopping_ && next < script_.size()) {
      pollfd p{listen_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int fd = ::accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      ++accepted_;
      std::string buffer;
      bool closing = false;
      while (!closing && next < script_.size() && read_request(fd, buffer)) {
        const Step& step = script_[next++];
        closing = step.close;
        if (::send(fd, step.answer.data(), step.answer.size(), MSG_NOSIGNAL) !=
            static_cast<ssize_t>(step.answer.size()))
          break;  // the client went: what it saw is the test's to check
      }
      // The last step's connection stays open until the test ends, unless the step closes
      // it: an answer that is never finished is the test's to time out.
      while (!closing && next >= script_.size() && !stopping_) std::this_thread::sleep_for(10ms);
      ::close(fd);
    }
  }

  std::vector<Step> script_;
  int listen_ = -1;
  int port_ = 0;
  std::atomic<int> accepted_{0};
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  std::vector<std::string> requests_;
  std::thread thread_;  // last: it uses the members above
};

const std::string kGet = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

HttpAnswer ask(HttpConnection& c, std::string_view request = kGet,
                    std::chrono::milliseconds patience = 5s) {
  std::stop_source never;
  return c.exchange(request, std::chrono::steady_clock::now() + patience, never.get_token());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cli_http_connection)

BOOST_AUTO_TEST_CASE(answers_framed_every_way_are_read_through_on_one_kept_connection) {
  ScriptedServer server({
      {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"},
      // An interim answer first; chunks with an extension, and a trailer.
      {"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
       "5;name=value\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: t\r\n\r\n"},
      {"HTTP/1.1 204 No Content\r\n\r\n"},
      {"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nConnection: keep-alive\r\n\r\n"},
      {"HTTP/1.0 202 Accepted\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok"},
  });
  HttpConnection c(server.origin(), {});
  std::vector<int> statuses;
  std::vector<bool> reused;
  for (int i = 0; i < 5; ++i) {
    HttpAnswer a = ask(c);
    BOOST_TEST((a.failure == Failure::none), "exchange " << i << ": " << a.detail);
    statuses.push_back(a.status);
    reused.push_back(a.reused);
  }
  BOOST_TEST(statuses == (std::vector<int>{200, 201, 204, 503, 202}));
  BOOST_TEST(reused == (std::vector<bool>{false, true, true, true, true}));
  BOOST_TEST(server.connections() == 1);  // an answer misread leaves the next out of step
}

BOOST_AUTO_TEST_CASE(an_answer_that_ends_the_connection_is_not_followed_on_it) {
  ScriptedServer server({
      // The server says it will close, and does not yet: the client closes.
      {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", false},
      {"HTTP/1.0 200 OK\r\n\r\nthe body ends with the connection", true},
      {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
  });
  HttpConnection c(server.origin(), {});
  for (int i = 0; i < 3; ++i) {
    HttpAnswer a = ask(c);
    BOOST_TEST((a.failure == Failure::none), "exchange " << i << ": " << a.detail);
    BOOST_TEST(a.status == 200);
    BOOST_TEST(!a.reused);
  }
  BOOST_TEST(server.connections() == 3);
}

BOOST_AUTO_TEST_CASE(what_is_not_http_or_ends_early_is_a_read_failure) {
  for (const std::string& bad : {std::string("SSH-2.0-OpenSSH_9.2\r\n\r\n"),
                                 std::string("HTTP/1.1 2x0 OK\r\n\r\n"),
                                 std::string("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"),
                                 std::string("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"),
                                 std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                                             "\r\nzz\r\n")}) {
    ScriptedServer server({{bad, true}});
    HttpConnection c(server.origin(), {});
    HttpAnswer a = ask(c);
    BOOST_TEST((a.failure == Failure::read), bad);
    BOOST_TEST(a.answered, bad);  // not mistaken for a stale kept connection
  }
}

BOOST_AUTO_TEST_CASE(a_large_request_goes_out_whole) {
  ScriptedServer server({{"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"}});
  std::string body(4 << 20, 'x');
  for (std::size_t i = 0; i < body.size(); i += 4096) body[i] = static_cast<char>('a' + i % 26);
  const std::string request = "POST /reload HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n" + body;
  HttpConnection c(server.origin(), {});
  HttpAnswer a = ask(c, request);
  BOOST_TEST((a.failure == Failure::none), a.detail);
  BOOST_TEST(a.status == 200);
  auto got = server.requests();
  BOOST_REQUIRE(got.size() == 1u);
  BOOST_TEST((got[0] == request));
}

BOOST_AUTO_TEST_CASE(an_answer_that_never_ends_times_out_or_is_stopped) {
  // The head, and half of the body it promises.
  ScriptedServer server({{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabcde"}});
  HttpConnection c(server.origin(), {});
  HttpAnswer a = ask(c, kGet, 300ms);
  BOOST_TEST((a.failure == Failure::timed_out));

  ScriptedServer silent({{""}});
  HttpConnection s(silent.origin(), {});
  std::stop_source stop;
  std::thread stopper([&] {
    std::this_thread::sleep_for(200ms);
    stop.request_stop();
  });
  HttpAnswer b = s.exchange(kGet, std::chrono::steady_clock::now() + 60s, stop.get_token());
  stopper.join();
  BOOST_TEST((b.failure == Failure::stopped));
}

BOOST_AUTO_TEST_CASE(a_refusing_port_is_a_connect_failure) {
  RefusingPort refusing;
  HttpConnection c("http://127.0.0.1:" + std::to_string(refusing.port()), {});
  HttpAnswer a = ask(c);
  BOOST_TEST((a.failure == Failure::connect));
  BOOST_TEST(a.detail == "Connection refused");
}

BOOST_AUTO_TEST_SUITE_END()

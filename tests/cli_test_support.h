// Shared by the CLI end-to-end tests: a kubelet-style ConfigMap volume, free ports on
// 127.0.0.1, and the paths of the binaries under test.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <string>

#include <boost/test/unit_test.hpp>

#include "cli_process.h"
#include "posix_tree.h"
#include "test_support.h"
#include "writers.h"

namespace hotreload::test {

inline const std::string kCli = HOTRELOAD_CLI_PATH;

// A directory updated the way the kubelet updates a ConfigMap volume.
class KubeletVolume {
 public:
  using Payload = std::map<std::string, std::string>;
  KubeletVolume(std::initializer_list<Payload::value_type> payload) { publish(Payload(payload)); }
  KubeletVolume(const KubeletVolume&) = delete;
  KubeletVolume& operator=(const KubeletVolume&) = delete;
  void publish(const Payload& payload) {
    BOOST_REQUIRE(!harness::apply_all(tree_, writer_.plan(tree_, payload)));
  }
  std::string key(const std::string& name) const { return dir_ / name; }
  std::string scratch(const std::string& name) const { return scratch_ / name; }
  const std::string& dir() const { return dir_.path(); }

 private:
  TempDir dir_;
  TempDir scratch_;  // logs and files the test needs beside the volume
  harness::PosixTree tree_;
  harness::KubeletWriter writer_{dir_.path()};
};

// Binds fd to a port of 127.0.0.1 the kernel picks (no collisions between tests): which.
inline int bind_loopback(int fd) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    throw std::runtime_error("cannot bind a port on 127.0.0.1");
  return ntohs(a.sin_port);
}

// A port nobody listens on right now.
inline int free_port() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  int port = bind_loopback(s);
  ::close(s);
  return port;
}

// A socket listening on a port of 127.0.0.1 (set in port), for a test's own server.
inline int listening_socket(int& port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  port = bind_loopback(fd);
  if (::listen(fd, 64) != 0) throw std::runtime_error("cannot listen on 127.0.0.1");
  return fd;
}

// A port on 127.0.0.1 that refuses every connection for as long as this lives: bound, so
// that no other test (ctest runs them in parallel) or free_port() can take it meanwhile,
// and never listening, so a connect gets ECONNREFUSED. A port free_port() returned and
// nobody bound can be taken by anyone before the test connects to it.
class RefusingPort {
 public:
  RefusingPort() : fd_(::socket(AF_INET, SOCK_STREAM, 0)), port_(bind_loopback(fd_)) {}
  ~RefusingPort() { ::close(fd_); }
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;
  int port() const { return port_; }

 private:
  int fd_;
  int port_;
};

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

inline std::vector<std::string> file_lines(const std::string& path) {
  std::vector<std::string> lines;
  std::istringstream in(read_text_file(path));
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

}  // namespace hotreload::test

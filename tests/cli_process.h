// Running the real `hotreload` binary from tests: its stdout read line by line with
// bounded waits (the wait ends as soon as the line is there; the bound only decides how
// long a broken build takes to fail), its stderr kept in a file, and no process left
// behind whatever the test does.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "test_support.h"

namespace hotreload::test {

inline std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class CliProcess {
 public:
  // Starts program with args; stderr goes to stderr_file.
  CliProcess(const std::string& program, const std::vector<std::string>& args,
             std::string stderr_file)
      : stderr_file_(std::move(stderr_file)) {
    std::vector<std::string> argv_storage{program};
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_storage) argv.push_back(a.data());
    argv.push_back(nullptr);
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    int err = ::open(stderr_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (err < 0) throw std::runtime_error("cannot open " + stderr_file_);
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::dup2(out[1], 1);
      ::dup2(err, 2);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    ::close(err);
    out_ = out[0];
  }
  ~CliProcess() {
    if (pid_ > 0 && !exit_status_) {
      ::kill(pid_, SIGKILL);
      int status;
      ::waitpid(pid_, &status, 0);
    }
    if (out_ >= 0) ::close(out_);
  }
  CliProcess(const CliProcess&) = delete;
  CliProcess& operator=(const CliProcess&) = delete;

  pid_t pid() const { return pid_; }

  // The next stdout line (after those already returned) that pred accepts.
  std::optional<std::string> wait_line(const std::function<bool(const std::string&)>& pred,
                                       std::chrono::milliseconds bound = kPatience) {
    auto until = std::chrono::steady_clock::now() + bound;
    for (;;) {
      while (next_ < lines_.size()) {
        const std::string& line = lines_[next_++];
        if (pred(line)) return line;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !read_more(left)) return std::nullopt;
    }
  }

  // The next JSON log line with this event (and path, if given).
  std::optional<nlohmann::json> wait_event(const std::string& event, const std::string& path = "",
                                           std::chrono::milliseconds bound = kPatience) {
    std::optional<nlohmann::json> found;
    wait_line(
        [&](const std::string& line) {
          auto j = nlohmann::json::parse(line, nullptr, false);
          if (j.is_discarded())
            throw std::runtime_error("stdout line is not JSON: " + line);
          if (j.value("event", "") != event) return false;
          if (!path.empty() && j.value("path", "") != path) return false;
          found = j;
          return true;
        },
        bound);
    return found;
  }

  // Sends sig and waits for the exit status; -1 if it did not exit within the bound.
  int stop(int sig = SIGTERM, std::chrono::milliseconds bound = kPatience) {
    if (!exit_status_) ::kill(pid_, sig);
    return wait_exit(bound);
  }

  int wait_exit(std::chrono::milliseconds bound = kPatience) {
    auto until = std::chrono::steady_clock::now() + bound;
    while (!exit_status_) {
      int status = 0;
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        break;
      }
      // Reading stdout both drains the pipe (so the child is never blocked writing) and
      // gives the wait its pace: the read returns when output comes or the child exits.
      if (std::chrono::steady_clock::now() > until) return -1;
      read_more(std::chrono::milliseconds(20));
    }
    while (read_more(std::chrono::milliseconds(0))) {
    }
    return *exit_status_;
  }

  const std::vector<std::string>& lines() const { return lines_; }
  std::string stderr_text() const { return read_text_file(stderr_file_); }

 private:
  // Reads what stdout has within the bound; false at end of file or if nothing came.
  bool read_more(std::chrono::milliseconds bound) {
    if (out_ < 0) return false;
    pollfd pfd{out_, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(bound.count())) <= 0) return false;
    char buffer[4096];
    ssize_t n = ::read(out_, buffer, sizeof buffer);
    if (n <= 0) {
      ::close(out_);
      out_ = -1;
      return false;
    }
    partial_.append(buffer, static_cast<std::size_t>(n));
    for (std::size_t nl; (nl = partial_.find('\n')) != std::string::npos;) {
      lines_.push_back(partial_.substr(0, nl));
      partial_.erase(0, nl + 1);
    }
    return true;
  }

  pid_t pid_ = -1;
  int out_ = -1;
  std::string stderr_file_;
  std::string partial_;
  std::vector<std::string> lines_;
  std::size_t next_ = 0;
  std::optional<int> exit_status_;
};

struct CliRun {
  int exit_status = -1;
  std::string out;
  std::string err;
};

// Runs a command that should finish by itself (bad input, probe) within the bound.
inline CliRun run_to_exit(const std::string& program, const std::vector<std::string>& args,
                          const std::string& stderr_file,
                          std::chrono::milliseconds bound = kPatience) {
  CliProcess p(program, args, stderr_file);
  CliRun r;
  r.exit_status = p.wait_exit(bound);
  for (const auto& l : p.lines()) r.out += l + "\n";
  r.err = p.stderr_text();
  return r;
}

}  // namespace hotreload::test

#include "subprocess.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>

#include <nlohmann/json.hpp>

#include "duration.h"
#include "fd.h"

extern char** environ;

namespace hotreload::cli {

namespace {

constexpr std::size_t kStderrKeptBytes = 4096;

bool make_pipe(Fd& read_end, Fd& write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return false;
  read_end = Fd(fds[0]);
  write_end = Fd(fds[1]);
  return true;
}

// Our environment with the extra variables set (replacing any of the same name). Built
// before fork: between fork and exec only async-signal-safe calls are allowed.
std::vector<std::string> environment_with(
    const std::vector<std::pair<std::string, std::string>>& extra) {
  std::map<std::string, std::string> vars;
  for (char** e = environ; e && *e; ++e) {
    std::string_view entry(*e);
    auto eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    vars[std::string(entry.substr(0, eq))] = std::string(entry.substr(eq + 1));
  }
  for (const auto& [k, v] : extra) vars[k] = v;
  std::vector<std::string> out;
  for (const auto& [k, v] : vars) out.push_back(k + "=" + v);
  return out;
}

int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  return -1;
#endif
}

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// execvp's PATH search, done before fork (execvp may allocate; the child must not).
// Unchanged when the program has a '/' or is found nowhere (execve then fails: 127).
std::string find_program(const std::string& program) {
  if (program.find('/') != std::string::npos) return program;
  const char* path = std::getenv("PATH");
  std::string_view dirs = path && *path ? path : "/usr/local/bin:/usr/bin:/bin";
  for (std::size_t start = 0; start <= dirs.size();) {
    std::size_t colon = dirs.find(':', start);
    if (colon == std::string_view::npos) colon = dirs.size();
    std::string dir(dirs.substr(start, colon - start));
    std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = colon + 1;
  }
  return program;
}

}  // namespace

std::string CommandResult::describe(std::chrono::milliseconds timeout) const {
  switch (outcome) {
    case Outcome::spawn_failed: return "could not start the command: " + spawn_error;
    case Outcome::timed_out: return "timed out after " + format_duration(timeout) + " (killed)";
    case Outcome::killed_by_signal: return "killed by signal " + std::to_string(signal);
    case Outcome::exited: break;
  }
  if (exit_status == 127) return "command not found (exit status 127)";
  if (exit_status == 126) return "command not executable (exit status 126)";
  return "exited with status " + std::to_string(exit_status);
}

std::string CommandResult::first_stderr_line() const {
  std::size_t start = 0;
  while (start < stderr_head.size()) {
    std::size_t end = stderr_head.find('\n', start);
    if (end == std::string::npos) end = stderr_head.size();
    std::string line = stderr_head.substr(start, end - start);
    auto first = line.find_first_not_of(" \t\r");
    if (first != std::string::npos) {
      auto last = line.find_last_not_of(" \t\r");
      return line.substr(first, last - first + 1);
    }
    start = end + 1;
  }
  return {};
}

namespace {

// Kubernetes' rule for container arguments: "$(NAME)" is NAME's value when the environment
// sets it (else left as written), and "$$" is a "$".
std::string expand_references(const std::string& arg,
                              const std::vector<std::pair<std::string, std::string>>& env) {
  std::string out;
  for (std::size_t i = 0; i < arg.size(); ++i) {
    if (arg[i] != '$' || i + 1 == arg.size()) {
      out += arg[i];
      continue;
    }
    if (arg[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    auto close = arg.find(')', i);
    if (arg[i + 1] == '(' && close != std::string::npos) {
      std::string name = arg.substr(i + 2, close - i - 2);
      auto it = std::find_if(env.begin(), env.end(), [&](const auto& e) { return e.first == name; });
      if (it != env.end()) {
        out += it->second;
        i = close;
        continue;
      }
    }
    out += arg[i];
  }
  return out;
}

}  // namespace

std::vector<std::string> command_argv(
    const std::string& command, const std::vector<std::pair<std::string, std::string>>& environment) {
  // Docker's rule: a valid JSON array of strings is the exec form, anything else (even
  // "[ -f x ] && …", a shell test) is a shell command line.
  if (command.find_first_not_of(" \t\n") != std::string::npos &&
      command[command.find_first_not_of(" \t\n")] == '[') {
    auto doc = nlohmann::json::parse(command, nullptr, false);
    if (doc.is_array() && !doc.empty() &&
        std::all_of(doc.begin(), doc.end(), [](const auto& v) { return v.is_string(); })) {
      auto args = doc.get<std::vector<std::string>>();
      for (std::string& a : args) a = expand_references(a, environment);
      return args;
    }
  }
  return {"/bin/sh", "-c", command};
}

CommandResult run_shell_command(const CommandSpec& spec) {
  CommandResult result;
  auto started = std::chrono::steady_clock::now();
  auto deadline = started + spec.timeout;
  auto fail = [&](const char* what) {
    result.outcome = CommandResult::Outcome::spawn_failed;
    result.spawn_error = std::string(what) + ": " + std::strerror(errno);
    return result;
  };

  Fd in_r, in_w, err_r, err_w;
  if (!make_pipe(in_r, in_w)) return fail("pipe");
  if (spec.capture_stderr && !make_pipe(err_r, err_w)) return fail("pipe");

  std::vector<std::string> env = environment_with(spec.environment);
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = command_argv(spec.command, spec.environment);
  const std::string program = find_program(args.front());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  pid_t pid = ::fork();
  if (pid < 0) return fail("fork");
  if (pid == 0) {
    // The child: async-signal-safe calls only.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::setpgid(0, 0);
    ::dup2(in_r.get(), 0);
    ::dup2(2, 1);  // our stdout carries the log; the command's output goes to stderr
    if (err_w.get() >= 0) ::dup2(err_w.get(), 2);
    ::execve(program.c_str(), argv.data(), envp.data());
    ::_exit(errno == ENOENT || errno == ENOTDIR ? 127 : 126);  // as a shell would say
  }
  in_r.reset();
  err_w.reset();
  Fd pidfd(open_pidfd(pid));

  // Feed stdin and collect stderr until the child exits or the deadline passes.
  std::size_t written = 0;
  if (spec.stdin_content.empty()) in_w.reset();
  else set_nonblocking(in_w.get());
  if (err_r.get() >= 0) set_nonblocking(err_r.get());
  bool exited = false;
  int status = 0;
  char buffer[4096];
  auto keep_stderr = [&](const char* data, std::size_t n) {
    if (result.stderr_head.size() < kStderrKeptBytes)
      result.stderr_head.append(data, std::min(n, kStderrKeptBytes - result.stderr_head.size()));
    if (spec.on_stderr) spec.on_stderr(std::string_view(data, n));
  };
  for (;;) {
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      break;
    }
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) break;
    pollfd fds[3];
    nfds_t n = 0;
    if (in_w.get() >= 0) fds[n++] = {in_w.get(), POLLOUT, 0};
    if (err_r.get() >= 0) fds[n++] = {err_r.get(), POLLIN, 0};
    if (pidfd.get() >= 0) fds[n++] = {pidfd.get(), POLLIN, 0};
    auto left_ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
    // Without a pidfd (old kernels) nothing wakes us when the child exits: look every 5 ms.
    int wait_ms = pidfd.get() >= 0 ? static_cast<int>(left_ms) + 1 : 5;
    if (::poll(fds, n, wait_ms) < 0 && errno != EINTR) break;
    if (in_w.get() >= 0) {
      ssize_t w = ::write(in_w.get(), spec.stdin_content.data() + written,
                          spec.stdin_content.size() - written);
      if (w > 0) written += static_cast<std::size_t>(w);
      if ((w < 0 && errno != EAGAIN) || written == spec.stdin_content.size()) in_w.reset();
    }
    if (err_r.get() >= 0) {
      ssize_t r = ::read(err_r.get(), buffer, sizeof buffer);
      if (r > 0) keep_stderr(buffer, static_cast<std::size_t>(r));
      if (r == 0 || (r < 0 && errno != EAGAIN)) err_r.reset();
    }
  }
  if (!exited) {
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    result.outcome = CommandResult::Outcome::timed_out;
  } else {
    // What the command wrote just before it exited is still in the pipe.
    while (err_r.get() >= 0) {
      ssize_t r = ::read(err_r.get(), buffer, sizeof buffer);
      if (r <= 0) break;
      keep_stderr(buffer, static_cast<std::size_t>(r));
    }
    if (WIFEXITED(status)) {
      result.outcome = CommandResult::Outcome::exited;
      result.exit_status = WEXITSTATUS(status);
    } else {
      result.outcome = CommandResult::Outcome::killed_by_signal;
      result.signal = WTERMSIG(status);
    }
  }
  result.took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  return result;
}

}  // namespace hotreload::cli

// Running an operator's command with a bound on its time: the --validate-cmd that reads a
// new config on stdin, the --exec action that runs after an accepted change.
//
// A command is a /bin/sh command line, or — as container runtimes take it, for images
// without a shell — a JSON array of strings, the program and its arguments, run without
// a shell ('["/app/check", "--config"]'; a program without '/' is looked up in PATH). With
// no shell to expand "$HOTRELOAD_DIR", an argument may say "$(HOTRELOAD_DIR)" — Kubernetes'
// own syntax for container arguments — for any variable the command's environment sets;
// "$$(" stands for a literal "$(".
// It runs in its own process group (a timeout kills the whole group), with the signals
// the CLI blocks unblocked again, its stdout sent to our stderr (stdout is the JSON
// log's), and the start of its stderr kept as the failure's reason.
// The caller must ignore SIGPIPE (a command may exit without reading its stdin).
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hotreload::cli {

struct CommandSpec {
  std::string command;        // a /bin/sh command line, or a JSON array (exec form)
  std::string stdin_content;  // written to the command's stdin, then closed
  std::vector<std::pair<std::string, std::string>> environment;  // added to ours
  std::chrono::milliseconds timeout{10'000};
  bool capture_stderr = true;  // false: the command's stderr goes to ours
  // With capture_stderr: all of the command's stderr, chunk by chunk as it comes (the
  // result keeps only its head).
  std::function<void(std::string_view)> on_stderr;
};

struct CommandResult {
  enum class Outcome { exited, killed_by_signal, timed_out, spawn_failed };
  Outcome outcome = Outcome::spawn_failed;
  int exit_status = -1;        // when exited
  int signal = 0;              // when killed_by_signal
  std::string stderr_head;     // the first 4 KiB of its stderr (on_stderr sees all of it)
  std::string spawn_error;     // when spawn_failed
  std::chrono::milliseconds took{0};

  bool succeeded() const { return outcome == Outcome::exited && exit_status == 0; }
  // "exited with status 1", "command not found (exit status 127)", "timed out after 2s"…
  std::string describe(std::chrono::milliseconds timeout) const;
  // The first non-empty line of stderr, trimmed; empty if there was none.
  std::string first_stderr_line() const;
};

// The program and arguments a command runs: the JSON array's strings when command is a
// non-empty JSON array of strings (exec form, its "$(NAME)" references to environment
// replaced), else {"/bin/sh", "-c", command}.
std::vector<std::string> command_argv(
    const std::string& command,
    const std::vector<std::pair<std::string, std::string>>& environment = {});

CommandResult run_shell_command(const CommandSpec& spec);

}  // namespace hotreload::cli

// --exec and --validate-cmd in exec form: a JSON array run without a shell (what a sidecar
// image without /bin/sh needs), next to the shell form it must not break.
#include <filesystem>
#include <thread>

#include <boost/test/unit_test.hpp>

#include "cli_test_support.h"
#include "subprocess.h"

using namespace hotreload;
using namespace hotreload::cli;
using namespace hotreload::test;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(cli_exec_form)

BOOST_AUTO_TEST_CASE(a_json_array_is_the_program_and_its_arguments_verbatim) {
  BOOST_TEST((command_argv(R"(["/app/check", "--config", "a b"])") ==
              std::vector<std::string>{"/app/check", "--config", "a b"}));
  // Anything else is a shell command line, including a shell test that starts with '['.
  BOOST_TEST((command_argv("[ -f /x ] && echo y") ==
              std::vector<std::string>{"/bin/sh", "-c", "[ -f /x ] && echo y"}));
  BOOST_TEST(command_argv("[]").front() == "/bin/sh");
  // $(NAME) is what the command's environment sets, as in a Kubernetes container's args;
  // an unknown name stays as written, and $$ is a $.
  std::vector<std::pair<std::string, std::string>> env{{"HOTRELOAD_DIR", "/tmp/snap x"}};
  std::string command = R"json(["nginx", "-c", "$(HOTRELOAD_DIR)/nginx.conf", "$(NOPE)",
                                     "$$(HOTRELOAD_DIR)", "$5"])json";
  BOOST_TEST((command_argv(command, env) ==
              std::vector<std::string>{"nginx", "-c", "/tmp/snap x/nginx.conf", "$(NOPE)",
                                       "$(HOTRELOAD_DIR)", "$5"}));
  BOOST_TEST((command_argv("echo $(HOTRELOAD_DIR)", env) ==  // a shell expands its own
              std::vector<std::string>{"/bin/sh", "-c", "echo $(HOTRELOAD_DIR)"}));
  BOOST_TEST(command_argv(R"(["a", 1])").front() == "/bin/sh");

  // No shell in between: no word splitting, no expansion; the environment still arrives.
  auto r = run_shell_command({.command = R"(["sh", "-c", "echo \"$0|$1|$X\" >&2; exit 5", "a b", "$HOME"])",
                              .environment = {{"X", "x"}},
                              .timeout = 10s});
  BOOST_TEST(r.exit_status == 5);
  BOOST_TEST(r.first_stderr_line() == "a b|$HOME|x");  // "sh" found in PATH
  r = run_shell_command({.command = R"(["/nonexistent/check"])", .timeout = 10s});
  BOOST_TEST(r.describe(10s) == "command not found (exit status 127)");
  r = run_shell_command({.command = R"(["/etc/passwd"])", .timeout = 10s});
  BOOST_TEST(r.describe(10s) == "command not executable (exit status 126)");
  r = run_shell_command({.command = "[ 1 = 1 ] && exit 4", .timeout = 10s});
  BOOST_TEST(r.exit_status == 4);
}

BOOST_AUTO_TEST_CASE(watch_validates_and_acts_with_exec_form_commands) {
  KubeletVolume vol({{"app.json", "{\"ok\": 1}"}});
  const std::string marker = vol.scratch("exec-ran");
  CliProcess cli(kCli,
                 {"watch", "--log-format", "json", "--validate-cmd",
                  R"(["grep", "-q", "ok"])", "--exec",
                  R"(["sh", "-c", "echo \"$HOTRELOAD_HASH\" > \"$0\"", ")" + marker + R"("])",
                  vol.key("app.json")},
                 vol.scratch("stderr"));
  BOOST_REQUIRE(cli.wait_event("loaded"));
  vol.publish({{"app.json", "{\"nope\": 1}"}});
  BOOST_REQUIRE(cli.wait_event("rejected"));  // grep found no "ok"
  vol.publish({{"app.json", "{\"ok\": 2}"}});
  auto reloaded = cli.wait_event("reloaded");
  BOOST_REQUIRE(reloaded);
  // The action runs on the worker thread after the reload is logged: give it its time.
  std::string written;
  for (auto until = std::chrono::steady_clock::now() + 10s;
       written.empty() && std::chrono::steady_clock::now() < until;
       std::this_thread::sleep_for(20ms))
    written = std::filesystem::exists(marker) ? read_text_file(marker) : "";
  BOOST_TEST(written == std::string((*reloaded)["hash"]) + "\n");
  BOOST_TEST(cli.stop() == 0);
}

BOOST_AUTO_TEST_SUITE_END()

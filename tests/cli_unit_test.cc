// The CLI's parsers and runners, called directly: durations, sizes, signals, addresses,
// URLs, the mount table, the watch command line, syntax checks and the command runner.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include <boost/test/unit_test.hpp>

#include "actions.h"
#include "cli_test_support.h"
#include "event_log.h"
#include "hotreload/errors.h"
#include "duration.h"
#include "metrics_server.h"
#include "mountinfo.h"
#include "signal_names.h"
#include "subprocess.h"
#include "test_support.h"
#include "validator.h"
#include "watch_options.h"
#include "webhook.h"

using namespace hotreload;
using namespace hotreload::cli;
using namespace std::chrono_literals;

namespace {

template <class T>
T ok(const Parsed<T>& p) {
  if (auto* why = std::get_if<std::string>(&p)) BOOST_FAIL("unexpected error: " << *why);
  return std::get<T>(p);
}

template <class T>
std::string error(const Parsed<T>& p) {
  BOOST_REQUIRE_MESSAGE(std::holds_alternative<std::string>(p), "expected an error");
  return std::get<std::string>(p);
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cli_units)

BOOST_AUTO_TEST_CASE(durations_need_a_unit_and_say_what_is_wrong) {
  BOOST_TEST(ok(parse_duration("500ms")).count() == 500);
  BOOST_TEST(ok(parse_duration("2s")).count() == 2000);
  BOOST_TEST(ok(parse_duration("1.5s")).count() == 1500);
  BOOST_TEST(ok(parse_duration("1m")).count() == 60000);
  BOOST_TEST(ok(parse_duration("1h")).count() == 3600000);
  BOOST_TEST(contains(error(parse_duration("2")), "a unit is required"));
  BOOST_TEST(contains(error(parse_duration("5x")), "unknown unit \"x\""));
  BOOST_TEST(contains(error(parse_duration("ms")), "expected a number"));
  BOOST_TEST(contains(error(parse_duration("0s")), "at least 1ms"));
  BOOST_TEST(contains(error(parse_duration("1.2.3s")), "not a number"));
  BOOST_TEST(contains(error(parse_duration("200h")), "at most"));
  BOOST_TEST(format_duration(1500ms) == "1500ms");
  BOOST_TEST(format_duration(120000ms) == "2m");
  BOOST_TEST(format_duration(3s) == "3s");
}

BOOST_AUTO_TEST_CASE(sizes_take_binary_units) {
  BOOST_TEST(ok(parse_size("1048576")) == 1048576u);
  BOOST_TEST(ok(parse_size("64KiB")) == 65536u);
  BOOST_TEST(ok(parse_size("16MiB")) == 16u << 20);
  BOOST_TEST(ok(parse_size("1G")) == 1u << 30);
  BOOST_TEST(contains(error(parse_size("16MB")), "unknown unit \"MB\""));
  BOOST_TEST(contains(error(parse_size("0")), "at least 1 byte"));
  BOOST_TEST(contains(error(parse_size("-1")), "whole number"));
}

BOOST_AUTO_TEST_CASE(signals_by_name_or_number) {
  BOOST_TEST(ok(parse_signal("HUP")) == SIGHUP);
  BOOST_TEST(ok(parse_signal("SIGUSR1")) == SIGUSR1);
  BOOST_TEST(ok(parse_signal("usr2")) == SIGUSR2);
  BOOST_TEST(ok(parse_signal("15")) == SIGTERM);
  BOOST_TEST(contains(error(parse_signal("HANGUP")), "use a name like HUP"));
  BOOST_TEST(contains(error(parse_signal("0")), "from 1 to"));
  BOOST_TEST(signal_name(SIGHUP) == "SIGHUP");
}

BOOST_AUTO_TEST_CASE(listen_addresses) {
  auto a = ok(parse_listen_address("127.0.0.1:9533"));
  BOOST_TEST(a.host == "127.0.0.1");
  BOOST_TEST(a.port == 9533);
  BOOST_TEST(ok(parse_listen_address(":9533")).host == "0.0.0.0");
  BOOST_TEST(ok(parse_listen_address("[::1]:80")).host == "::1");
  BOOST_TEST(contains(error(parse_listen_address("9533")), "expected ADDR:PORT"));
  BOOST_TEST(contains(error(parse_listen_address("host:99999")), "from 0 to 65535"));
}

BOOST_AUTO_TEST_CASE(webhook_urls) {
  auto u = ok(parse_webhook_url("http://127.0.0.1:8080/-/reload?x=1"));
  BOOST_TEST(u.origin == "http://127.0.0.1:8080");
  BOOST_TEST(u.target == "/-/reload?x=1");
  BOOST_TEST(ok(parse_webhook_url("https://svc")).target == "/");
  BOOST_TEST(contains(error(parse_webhook_url("ftp://x/")), "scheme must be http or https"));
  BOOST_TEST(contains(error(parse_webhook_url("localhost:80/x")), "expected http://"));
  BOOST_TEST(contains(error(parse_webhook_url("http://:80/")), "no host"));
  BOOST_TEST(contains(error(parse_webhook_url("http://h:0/")), "from 1 to 65535"));
}

BOOST_AUTO_TEST_CASE(mountinfo_is_parsed_with_escapes_and_optional_fields) {
  const std::string text =
      "22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
      "90 22 0:50 /..2026_11_26/app.yaml /etc/my\\040app/app.yaml ro,relatime shared:5 master:2 - "
      "tmpfs tmpfs rw,size=1024k\n"
      "garbage line\n";
  auto mounts = parse_mountinfo(text);
  BOOST_REQUIRE(mounts.size() == 2u);
  BOOST_TEST(mounts[1].mount_point == "/etc/my app/app.yaml");
  BOOST_TEST(mounts[1].root == "/..2026_11_26/app.yaml");
  BOOST_TEST(mounts[1].fs_type == "tmpfs");
  BOOST_TEST(mounts[0].fs_type == "ext4");
  BOOST_TEST(unescape_mount_field("a\\011b\\134") == "a\tb\\");
  BOOST_TEST(unescape_mount_field("end\\04") == "end\\04");  // too short to be an escape
}

BOOST_AUTO_TEST_CASE(a_file_is_a_single_file_mount_only_if_it_is_a_mount_point) {
  test::TempDir dir;
  test::write_file(dir / "app.yaml", "a: 1\n");
  std::string real = dir / "app.yaml";
  std::vector<MountEntry> table{{"/", "/", "ext4", "/dev/vda"},
                                {"/cm/app.yaml", real, "tmpfs", "tmpfs"}};
  auto found = find_single_file_mount(real, table);
  BOOST_REQUIRE(found.has_value());
  BOOST_TEST(found->root == "/cm/app.yaml");
  // Through a symlink, the mounted file is still found.
  BOOST_REQUIRE(::symlink("app.yaml", (dir / "link").c_str()) == 0);
  BOOST_TEST(find_single_file_mount(dir / "link", table).has_value());
  // A directory mount point, or a file that is not one, is not.
  table.push_back({"/", dir.path(), "tmpfs", "tmpfs"});
  BOOST_TEST(!find_single_file_mount(dir.path(), table).has_value());
  test::write_file(dir / "other", "x");
  BOOST_TEST(!find_single_file_mount(dir / "other", table).has_value());
  BOOST_TEST(contains(single_file_mount_warning(real, *found), "subPath"));
}

BOOST_AUTO_TEST_CASE(webhook_headers_and_methods) {
  auto h = ok(parse_webhook_header("X-Tenant:  blue team "));
  BOOST_TEST(h.first == "X-Tenant");
  BOOST_TEST(h.second == "blue team");
  BOOST_TEST(ok(parse_webhook_header("X-Empty:")).second.empty());
  BOOST_TEST(contains(error(parse_webhook_header("no colon")), "expected 'Name: value'"));
  BOOST_TEST(contains(error(parse_webhook_header("Bad Name: v")), "without spaces"));
  BOOST_TEST(contains(error(parse_webhook_header(": v")), "without spaces"));
  BOOST_TEST(contains(error(parse_webhook_header("X-A: a\r\nX-B: b")), "line break"));
  BOOST_TEST(contains(error(parse_webhook_header("content-length: 3")), "set by hotreload itself"));
  BOOST_TEST(contains(error(parse_webhook_header("Host: x")), "set by hotreload itself"));
  // Parsed<std::string>: the value at index 0, the sentence at 1.
  BOOST_TEST(std::get<0>(parse_webhook_method("put")) == "PUT");
  BOOST_TEST(std::get<0>(parse_webhook_method("GET")) == "GET");
  BOOST_TEST(contains(std::get<1>(parse_webhook_method("TRACE")),
                      "expected GET, POST, PUT, PATCH or DELETE"));
}

BOOST_AUTO_TEST_CASE(webhook_flags_and_their_rules) {
  test::TempDir dir;
  const std::string token = dir / "token", cert = dir / "c.pem", key = dir / "k.pem";
  for (const std::string& f : {token, cert, key}) test::write_file(f, "x\n");
  auto c = ok(parse_watch_arguments(
      {"--webhook", "http://a:1/r", "--webhook", "https://b/r", "--webhook-header", "X-A: 1",
       "--webhook-header", "X-B: 2", "--webhook-method", "patch", "--webhook-bearer-token-file",
       token, "--webhook-cert-file", cert, "--webhook-key-file", key, "--webhook-status-code",
       "204", "--ready-url", "http://a:1/ready", "a"}));
  const WebhookConfig& w = *c.actions.webhook;
  BOOST_TEST(w.urls.size() == 2u);
  BOOST_TEST(w.urls[1].origin == "https://b");
  BOOST_TEST(w.headers.size() == 2u);
  BOOST_TEST(w.method == "PATCH");
  BOOST_TEST(w.bearer_token_file == token);
  BOOST_TEST(*w.expect_status == 204);
  BOOST_TEST(w.ready_url->target == "/ready");
  BOOST_TEST(!w.retries);  // until accepted
  BOOST_TEST(!ok(parse_watch_arguments({"--webhook", "http://a/", "a"})).actions.webhook->retries);

  auto refused = [](std::vector<std::string> args) { return error(parse_watch_arguments(args)); };
  BOOST_TEST(contains(refused({"--webhook", "http://a/", "--webhook", "http://a/", "a"}), "given twice"));
  BOOST_TEST(contains(refused({"--webhook-header", "X-A: 1", "a"}), "--webhook-header needs --webhook URL"));
  BOOST_TEST(contains(refused({"--ready-url", "http://a/", "a"}), "--ready-url needs --webhook URL"));
  BOOST_TEST(contains(refused({"--webhook", "https://a/", "--webhook-cert-file", cert, "a"}),
                      "needs --webhook-key-file"));
  BOOST_TEST(contains(refused({"--webhook", "http://a/", "--webhook-ca-file", cert, "a"}),
                      "are for https:// URLs"));
  BOOST_TEST(contains(refused({"--webhook", "http://a/", "--webhook-bearer-token-file", token,
                               "--webhook-basic-auth-file", token, "a"}),
                      "not both"));
  BOOST_TEST(contains(refused({"--webhook", "http://a/", "--webhook-bearer-token-file", token,
                               "--webhook-header", "authorization: x", "a"}),
                      "both set Authorization"));
  BOOST_TEST(contains(refused({"--webhook", "http://a/", "--webhook-bearer-token-file",
                               std::string(dir / "none"), "a"}),
                      "cannot be read: No such file"));
  BOOST_TEST(contains(refused({"--webhook", "http://a/", "--webhook-bearer-token-file", std::string(dir.path()), "a"}),
                      "not a regular file"));
  BOOST_TEST(contains(refused({"--webhook", "http://a/", "--webhook-status-code", "99", "a"}),
                      "an HTTP status from 100 to 599"));
  BOOST_TEST(contains(refused({"--webhook", "http://a/", "--webhook-retries", "-1", "a"}),
                      "invalid --webhook-retries"));
}

// HOTRELOAD_* for every flag; the command line wins; a bad value is refused as the flag's.
BOOST_AUTO_TEST_CASE(watch_flags_from_the_environment) {
  struct Env {
    const char* name;
    Env(const char* n, const char* v) : name(n) { ::setenv(n, v, 1); }
    ~Env() { ::unsetenv(name); }
  };
  {
    Env mode("HOTRELOAD_MODE", "poll"), interval("HOTRELOAD_POLL_INTERVAL", "250ms"),
        allow("HOTRELOAD_ALLOW_EMPTY", "true"), dirs("HOTRELOAD_VOLUME_DIR", "/d1\n/d2"),
        format("HOTRELOAD_LOG_FORMAT", "json");
    auto c = ok(parse_watch_arguments({"--poll-interval", "2s"}));
    BOOST_TEST((c.watch.mode == Mode::poll));
    BOOST_TEST(c.watch.poll_interval.count() == 2000);  // argv wins
    BOOST_TEST(c.watch.allow_empty);
    BOOST_TEST(c.dirs == (std::vector<std::string>{"/d1", "/d2"}));
    BOOST_TEST((c.log_format == LogFormat::json));
  }
  {
    // What the tool sets for its commands is never read as a flag.
    Env dir("HOTRELOAD_DIR", "/x"), path("HOTRELOAD_PATH", "/y");
    BOOST_TEST(contains(error(parse_watch_arguments({})), "no PATH"));
  }
  Env bad("HOTRELOAD_MAX_SIZE", "huge");
  BOOST_TEST(contains(error(parse_watch_arguments({"a"})), "--max-size"));
}

BOOST_AUTO_TEST_CASE(watch_arguments_are_parsed_and_combinations_checked) {
  auto c = ok(parse_watch_arguments({"--mode", "poll", "--poll-interval=250ms", "--max-size",
                                     "1MiB", "--format", "yaml", "--signal", "HUP", "--pid",
                                     "42", "--webhook", "http://x:1/r", "--webhook-retries",
                                     "5", "--log-format", "json", "--metrics-listen", ":9533",
                                     "--metrics-prefix", "k_", "a.yaml", "--", "--b.yaml"}));
  BOOST_TEST((c.watch.mode == Mode::poll));
  BOOST_TEST(c.watch.poll_interval.count() == 250);
  BOOST_TEST(c.watch.read_size_max == 1u << 20);
  BOOST_TEST((c.validator.format == ContentFormat::yaml));
  BOOST_TEST(*c.actions.signal == SIGHUP);
  BOOST_TEST(*c.actions.pid == 42);
  BOOST_TEST(*c.actions.webhook->retries == 5u);
  BOOST_TEST(c.actions.webhook->urls.at(0).target == "/r");
  BOOST_TEST((c.log_format == LogFormat::json));
  BOOST_TEST(c.metrics_listen->port == 9533);
  BOOST_TEST(c.metrics_prefix == "k_");
  BOOST_TEST(c.paths == (std::vector<std::string>{"a.yaml", "--b.yaml"}));

  BOOST_TEST(ok(parse_watch_arguments({"--help"})).help);
  BOOST_TEST(contains(error(parse_watch_arguments({"--frobnicate", "a"})), "unknown option \"--frobnicate\""));
  BOOST_TEST(contains(error(parse_watch_arguments({})), "no PATH"));
  BOOST_TEST(contains(error(parse_watch_arguments({"a", "--mode"})), "needs a value"));
  BOOST_TEST(contains(error(parse_watch_arguments({"--mode", "fast", "a"})), "auto, events, poll"));
  BOOST_TEST(contains(error(parse_watch_arguments({"--signal", "HUP", "a"})),
                      "add --pid PID, --pid-file FILE or --process-name NAME"));
  BOOST_TEST(contains(error(parse_watch_arguments({"--signal", "HUP", "--pid", "7", "--process-name", "x", "a"})),
                      "give one of --pid, --pid-file and --process-name"));
  BOOST_TEST(contains(error(parse_watch_arguments({"--process-name", "x", "a"})), "--signal, which is missing"));
  BOOST_TEST(contains(error(parse_watch_arguments({"--signal", "HUP", "--process-name", "/usr/sbin/nginx", "a"})),
                      "not its path"));
  BOOST_TEST(ok(parse_watch_arguments({"--signal", "HUP", "--process-name", "nginx", "a"})).actions.process_name == "nginx");
  BOOST_TEST(contains(error(parse_watch_arguments({"--pid", "3", "a"})), "--signal, which is missing"));
  BOOST_TEST(contains(error(parse_watch_arguments({"--pid", "x", "--signal", "HUP", "a"})), "invalid --pid"));
  BOOST_TEST(contains(error(parse_watch_arguments({"a", "a"})), "given twice"));
  BOOST_TEST(contains(error(parse_watch_arguments({"--mode", "poll", "--mode", "events", "a"})), "given twice"));
  BOOST_TEST(contains(error(parse_watch_arguments({"--webhook-retries", "2", "a"})), "--webhook-retries needs --webhook URL"));
  BOOST_TEST(contains(error(parse_watch_arguments({"--metrics-prefix", "1x", "a"})), "invalid --metrics-prefix"));
  BOOST_TEST(contains(error(parse_watch_arguments({"--poll-interval", "10", "a"})), "a unit is required"));
  BOOST_TEST(contains(error(parse_watch_arguments({"--unhealthy-after-stall", "30s", "a"})),
                      "is about /healthz: add --metrics-listen"));
  BOOST_TEST(contains(error(parse_watch_arguments({"--stall-timeout", "0s", "a"})), "at least 1ms"));
  auto stall = ok(parse_watch_arguments({"--stall-timeout", "2s", "--metrics-listen", ":0",
                                         "--unhealthy-after-stall", "90s", "a"}));
  BOOST_TEST(stall.watch.stall_timeout.count() == 2000);
  BOOST_TEST(stall.unhealthy_after_stall.count() == 90'000);
  BOOST_TEST(ok(parse_watch_arguments({"a"})).unhealthy_after_stall.count() == 60'000);
  BOOST_TEST(ok(parse_watch_arguments({"a"})).watch.rehash_every == 10u);
  BOOST_TEST(ok(parse_watch_arguments({"--rehash-every", "0", "a"})).watch.rehash_every == 0u);
  BOOST_TEST(ok(parse_watch_arguments({"--rehash-every", "30", "a"})).watch.rehash_every == 30u);
  BOOST_TEST(ok(parse_watch_arguments({"a"})).watch.safety_rehash_every == 30u);
  auto never = ok(parse_watch_arguments({"--safety-rehash-every", "0", "a"}));
  BOOST_TEST(never.watch.safety_rehash_every == 0u);
  auto seventh = ok(parse_watch_arguments({"--safety-rehash-every", "7", "a"}));
  BOOST_TEST(seventh.watch.safety_rehash_every == 7u);
  BOOST_TEST(seventh.watch.rehash_every == 10u);  // polls keep theirs
  BOOST_TEST(contains(error(parse_watch_arguments({"--safety-rehash-every", "often", "a"})),
                      "invalid --safety-rehash-every \"often\": expected a number of safety polls"));
  BOOST_TEST(contains(error(parse_watch_arguments({"--rehash-every", "-1", "a"})),
                      "invalid --rehash-every \"-1\": expected a number of polls"));
  BOOST_TEST(contains(watch_usage(), "Exit codes"));
}

BOOST_AUTO_TEST_CASE(syntax_checks_name_the_place_of_the_error) {
  BOOST_TEST(!check_syntax(ContentFormat::json, "{\"a\": [1, 2]}").has_value());
  auto bad_json = check_syntax(ContentFormat::json, "{\"a\": [1, 2}");
  BOOST_REQUIRE(bad_json.has_value());
  BOOST_TEST(contains(*bad_json, "invalid JSON"));
  BOOST_TEST(contains(*bad_json, "line 1, column 12"));
  BOOST_TEST(!check_syntax(ContentFormat::yaml, "a: 1\nb: [x, y]\n").has_value());
  auto bad_yaml = check_syntax(ContentFormat::yaml, "a: 1\nb: [x, y\n");
  BOOST_REQUIRE(bad_yaml.has_value());
  BOOST_TEST(contains(*bad_yaml, "invalid YAML"));
  BOOST_TEST(contains(*bad_yaml, "line"));
  BOOST_TEST(!check_syntax(ContentFormat::any, "{{{").has_value());
}

BOOST_AUTO_TEST_CASE(commands_get_stdin_and_environment_and_report_stderr) {
  auto r = run_shell_command({.command = "read line; test \"$line\" = hello && test \"$X\" = y",
                              .stdin_content = "hello\n",
                              .environment = {{"X", "y"}},
                              .timeout = 10s});
  BOOST_TEST(r.succeeded());
  r = run_shell_command({.command = "echo '  first reason ' >&2; echo second >&2; exit 3",
                         .timeout = 10s});
  BOOST_TEST(!r.succeeded());
  BOOST_TEST(r.exit_status == 3);
  BOOST_TEST(r.first_stderr_line() == "first reason");
  BOOST_TEST(r.describe(10s) == "exited with status 3");
  r = run_shell_command({.command = "/nonexistent/validator", .timeout = 10s});
  BOOST_TEST(r.describe(10s) == "command not found (exit status 127)");
}

BOOST_AUTO_TEST_CASE(a_command_over_its_time_is_killed_with_its_children) {
  auto started = std::chrono::steady_clock::now();
  // The background sleep keeps stderr open: the whole process group must be killed.
  auto r = run_shell_command({.command = "sleep 30 & sleep 30", .timeout = 200ms});
  auto took = std::chrono::steady_clock::now() - started;
  BOOST_TEST((r.outcome == CommandResult::Outcome::timed_out));
  BOOST_TEST(r.describe(200ms) == "timed out after 200ms (killed)");
  BOOST_TEST(took < 5s);
}

BOOST_AUTO_TEST_CASE(validator_runs_the_format_check_before_the_command) {
  Validator v({.format = ContentFormat::json,
               .validate_command = "grep -q '\"replicas\"' || { echo 'no replicas key' >&2; exit 1; }",
               .validate_timeout = 10s});
  BOOST_TEST(v.validate("/p", "{\"replicas\": 2}").accepted);
  auto refused = v.validate("/p", "{\"other\": 2}");
  BOOST_TEST(!refused.accepted);
  BOOST_TEST(refused.reason == "no replicas key");
  auto syntax = v.validate("/p", "{\"replicas\": ");
  BOOST_TEST(contains(syntax.reason, "invalid JSON"));
  Validator silent({.validate_command = "exit 4", .validate_timeout = 10s});
  BOOST_TEST(silent.validate("/p", "x").reason == "validate command exited with status 4");
}

BOOST_AUTO_TEST_CASE(pid_files) {
  test::TempDir dir;
  test::write_file(dir / "ok.pid", " 1234\n");
  test::write_file(dir / "bad.pid", "12x\n");
  test::write_file(dir / "empty.pid", "\n");
  BOOST_TEST(ok(read_pid_file(dir / "ok.pid")) == 1234);
  BOOST_TEST(contains(error(read_pid_file(dir / "bad.pid")), "does not hold a process id"));
  BOOST_TEST(contains(error(read_pid_file(dir / "empty.pid")), "is empty"));
  BOOST_TEST(contains(error(read_pid_file(dir / "none.pid")), "No such file"));
}

BOOST_AUTO_TEST_CASE(json_log_lines_carry_the_contract_fields_for_each_event) {
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  EventLog log(LogFormat::json, out, err);
  Digest h = Digest::of("x");
  log.decision({.kind = DecisionKind::loaded, .path = "/p", .hash = h, .mode = ActiveMode::poll});
  log.decision({.kind = DecisionKind::rejected, .path = "/p", .hash = h,
                .error = make_error_code(Errc::rejected), .detail = "bad \"quote\"\n"});
  log.decision({.kind = DecisionKind::read_error, .path = "/p",
                .error = std::make_error_code(std::errc::permission_denied), .detail = "/p/..x/key"});
  log.decision({.kind = DecisionKind::mode, .path = "/p", .detail = "fuse", .mode = ActiveMode::poll});
  log.decision({.kind = DecisionKind::slow_callback, .path = "/p"});  // not in the contract
  log.action_failed("/p", "/", "webhook", "could not connect", 4);
  log.stopped(Status{.path = "/p", .hash = h, .reloads = 2});
  auto read_all = [](std::FILE* f) {
    std::rewind(f);
    std::string text;
    for (int c; (c = std::fgetc(f)) != EOF;) text.push_back(static_cast<char>(c));
    std::fclose(f);
    return text;
  };
  std::istringstream lines(read_all(out));
  std::vector<nlohmann::json> events;
  for (std::string line; std::getline(lines, line);) events.push_back(nlohmann::json::parse(line));
  BOOST_REQUIRE(events.size() == 6u);
  for (const auto& e : events)
    for (const char* field : {"ts", "level", "event", "path"}) BOOST_TEST(e.contains(field));
  BOOST_TEST(events[0]["event"] == "loaded");
  BOOST_TEST(events[0]["hash"] == h.hex());
  BOOST_TEST(events[0]["mode"] == "poll");
  BOOST_TEST(events[1]["error"] == "bad \"quote\"\n");  // escaped by JSON, read back intact
  BOOST_TEST(events[1]["level"] == "warn");
  BOOST_TEST(events[2]["event"] == "read_error");
  BOOST_TEST(events[2]["errno"] == "EACCES");
  BOOST_TEST(events[2]["error"] == "Permission denied");
  BOOST_TEST(!events[2].contains("hash"));
  BOOST_TEST(events[3]["mode"] == "poll");
  BOOST_TEST(events[3]["reason"] == "fuse");
  BOOST_TEST(events[4]["event"] == "action_failed");
  BOOST_TEST(events[4]["level"] == "error");
  BOOST_TEST(events[4]["attempts"] == 4);
  BOOST_TEST(events[5]["event"] == "stopped");
  BOOST_TEST(events[5]["reloads"] == 2);
  BOOST_TEST(contains(read_all(err), "slow_callback"));  // on stderr, not in the contract
}

BOOST_AUTO_TEST_CASE(the_action_queue_is_bounded_and_drops_the_oldest_waiting_path) {
  test::TempDir dir;
  std::FILE* out = std::tmpfile();
  EventLog log(LogFormat::json, out, stderr);
  const std::string started = dir / "started", go = dir / "go", ran = dir / "ran";
  ActionConfig config;
  // Each job says it started, then holds the worker until the test says go: the child
  // waits, not the test.
  config.exec_command = "touch " + started + "; while [ ! -f " + go +
                        " ]; do sleep 0.01; done; echo \"$HOTRELOAD_HASH\" >> " + ran;
  config.queue_max = 1;
  ActionRunner runner(config, log);
  runner.enqueue({"/a", "h1", "h0"});
  // Once h1 runs, the queue is empty again.
  BOOST_REQUIRE(test::eventually([&] { return ::access(started.c_str(), F_OK) == 0; }));
  // Paths of their own (a newer job of the same path would take the waiting one's place).
  runner.enqueue({"/b", "h2", "h1"});
  runner.enqueue({"/c", "h3", "h2"});  // the queue holds one: h2 is dropped
  test::write_file(go, "");
  BOOST_REQUIRE(test::eventually([&] { return test::file_lines(ran).size() >= 2; }));
  runner.stop();
  BOOST_TEST(test::file_lines(ran) == (std::vector<std::string>{"h1", "h3"}));
  std::rewind(out);
  std::string text;
  for (int c; (c = std::fgetc(out)) != EOF;) text.push_back(static_cast<char>(c));
  std::fclose(out);
  BOOST_TEST(contains(text, "\"action\":\"queue\""));
  BOOST_TEST(contains(text, "dropped the actions for hash h2"));
}

BOOST_AUTO_TEST_CASE(an_exec_over_its_time_is_killed_and_reported) {
  std::FILE* out = std::tmpfile();
  EventLog log(LogFormat::json, out, stderr);
  ActionConfig config;
  config.exec_command = "sleep 30";
  config.exec_timeout = 200ms;
  {
    ActionRunner runner(config, log);
    runner.enqueue({"/p", "h1", "h0"});
    BOOST_REQUIRE(test::eventually([&] {
      auto families = runner.metric_families();
      return !families[1].samples.empty() && families[1].samples[0].value == 1;
    }));
  }
  std::rewind(out);
  std::string text;
  for (int c; (c = std::fgetc(out)) != EOF;) text.push_back(static_cast<char>(c));
  std::fclose(out);
  BOOST_TEST(contains(text, "exec timed out after 200ms (killed)"));
}

BOOST_AUTO_TEST_SUITE_END()

// `hotreload watch` end to end: the real binary on a kubelet-style volume updated by the
// kubelet's AtomicWriter model, checked through its JSON log, its actions and /metrics.
#include <signal.h>
#include <sys/wait.h>

#include <boost/test/unit_test.hpp>

#include "cli_http.h"
#include "cli_test_support.h"
#include "hotreload/digest.h"

using namespace hotreload;
using namespace hotreload::test;
using namespace std::chrono_literals;

namespace {

std::string sha(const std::string& content) { return Digest::of(content).hex(); }

}  // namespace

BOOST_AUTO_TEST_SUITE(cli_watch)

BOOST_AUTO_TEST_CASE(reload_and_rejection_lines_follow_the_json_contract) {
  const std::string v1 = "{\"replicas\": 1}\n", v2 = "{\"replicas\": 2}\n",
                    bad = "{\"replicas\": \n", v3 = "{\"replicas\": 3}\n";
  KubeletVolume vol({{"app.json", v1}});
  const std::string path = vol.key("app.json");
  CliProcess cli(kCli, {"watch", "--format", "json", "--log-format", "json", path},
                 vol.scratch("stderr"));

  auto loaded = cli.wait_event("loaded", path);
  BOOST_REQUIRE(loaded);
  BOOST_TEST((*loaded)["hash"] == sha(v1));
  BOOST_TEST((*loaded)["mode"] == "events");
  BOOST_TEST((*loaded)["level"] == "info");
  std::string ts = (*loaded)["ts"];
  BOOST_TEST(ts.size() == 24u);  // 2026-11-26T13:45:01.123Z
  BOOST_TEST(ts.back() == 'Z');
  BOOST_TEST(ts[10] == 'T');

  vol.publish({{"app.json", v2}});
  auto reloaded = cli.wait_event("reloaded", path);
  BOOST_REQUIRE(reloaded);
  BOOST_TEST((*reloaded)["hash"] == sha(v2));
  BOOST_TEST((*reloaded)["hash"].get<std::string>().size() == 64u);

  vol.publish({{"app.json", bad}});
  auto rejected = cli.wait_event("rejected", path);
  BOOST_REQUIRE(rejected);
  BOOST_TEST((*rejected)["hash"] == sha(bad));
  BOOST_TEST((*rejected)["level"] == "warn");
  std::string why = (*rejected)["error"];
  BOOST_TEST(contains(why, "invalid JSON"));
  BOOST_TEST(contains(why, "line 2"));

  vol.publish({{"app.json", v3}});
  reloaded = cli.wait_event("reloaded", path);
  BOOST_REQUIRE(reloaded);
  BOOST_TEST((*reloaded)["hash"] == sha(v3));
  BOOST_TEST((*reloaded)["reloads"] == 2);
  BOOST_TEST((*reloaded)["errors"] == 1);

  BOOST_TEST(cli.stop(SIGTERM) == 0);
  auto stopped = nlohmann::json::parse(cli.lines().back());
  BOOST_TEST(stopped["event"] == "stopped");
  BOOST_TEST(stopped["path"] == path);
  BOOST_TEST(stopped["hash"] == sha(v3));
  // The contract: every stdout line is a JSON object with ts, level, event and path.
  for (const std::string& line : cli.lines()) {
    auto j = nlohmann::json::parse(line);
    for (const char* field : {"ts", "level", "event", "path", "volume"})
      BOOST_TEST(j.contains(field), "missing " << field << " in " << line);
    BOOST_TEST(j["volume"] == vol.dir(), line);
  }
}

BOOST_AUTO_TEST_CASE(validate_command_reason_becomes_the_rejection_error) {
  KubeletVolume vol({{"app.yaml", "replicas: 1\n"}});
  const std::string path = vol.key("app.yaml");
  CliProcess cli(kCli,
                 {"watch", "--log-format", "json", "--validate-cmd",
                  "grep -q 'replicas: [1-9]' || { echo 'replicas must be positive' >&2; "
                  "echo 'a second line' >&2; exit 1; }",
                  path},
                 vol.scratch("stderr"));
  BOOST_REQUIRE(cli.wait_event("loaded", path));
  vol.publish({{"app.yaml", "replicas: 0\n"}});
  auto rejected = cli.wait_event("rejected", path);
  BOOST_REQUIRE(rejected);
  BOOST_TEST((*rejected)["error"] == "replicas must be positive");
  vol.publish({{"app.yaml", "replicas: 5\n"}});
  auto reloaded = cli.wait_event("reloaded", path);
  BOOST_REQUIRE(reloaded);
  BOOST_TEST((*reloaded)["hash"] == sha("replicas: 5\n"));
  BOOST_TEST(cli.stop(SIGINT) == 0);
}

BOOST_AUTO_TEST_CASE(a_validator_over_its_time_is_a_rejection_and_the_watch_lives_on) {
  KubeletVolume vol({{"app.yaml", "fast\n"}});
  const std::string path = vol.key("app.yaml");
  CliProcess cli(kCli,
                 {"watch", "--log-format", "json", "--validate-timeout", "300ms",
                  "--validate-cmd", "if grep -q slow; then sleep 30; fi", path},
                 vol.scratch("stderr"));
  BOOST_REQUIRE(cli.wait_event("loaded", path));
  vol.publish({{"app.yaml", "slow\n"}});
  auto rejected = cli.wait_event("rejected", path);
  BOOST_REQUIRE(rejected);
  BOOST_TEST(contains((*rejected)["error"], "timed out after 300ms"));
  vol.publish({{"app.yaml", "fast again\n"}});
  BOOST_REQUIRE(cli.wait_event("reloaded", path));
  BOOST_TEST(cli.stop() == 0);
}

BOOST_AUTO_TEST_CASE(text_format_prints_key_value_lines) {
  KubeletVolume vol({{"app.yaml", "a: 1\n"}});
  const std::string path = vol.key("app.yaml");
  CliProcess cli(kCli, {"watch", "--format", "yaml", path}, vol.scratch("stderr"));
  BOOST_REQUIRE(cli.wait_line([&](const std::string& l) {
    return contains(l, "event=loaded") && contains(l, "path=" + path);
  }));
  vol.publish({{"app.yaml", "a: [\n"}});
  auto line = cli.wait_line([](const std::string& l) { return contains(l, "event=rejected"); });
  BOOST_REQUIRE(line);
  BOOST_TEST(contains(*line, "invalid YAML"));
  BOOST_TEST(contains(*line, " warn "));
  BOOST_TEST(cli.stop() == 0);
  BOOST_TEST(contains(cli.lines().back(), "event=stopped"));
}

BOOST_AUTO_TEST_CASE(several_paths_are_watched_by_one_process) {
  KubeletVolume vol({{"a.yaml", "a: 1\n"}, {"b.yaml", "b: 1\n"}});
  CliProcess cli(kCli, {"watch", "--log-format", "json", vol.key("a.yaml"), vol.key("b.yaml")},
                 vol.scratch("stderr"));
  BOOST_REQUIRE(cli.wait_event("loaded", vol.key("a.yaml")));
  BOOST_REQUIRE(cli.wait_event("loaded", vol.key("b.yaml")));
  vol.publish({{"a.yaml", "a: 1\n"}, {"b.yaml", "b: 2\n"}});
  auto reloaded = cli.wait_event("reloaded");
  BOOST_REQUIRE(reloaded);
  BOOST_TEST((*reloaded)["path"] == vol.key("b.yaml"));  // a.yaml's content did not change
  BOOST_TEST(cli.stop() == 0);
  int stopped = 0;
  for (const auto& l : cli.lines()) stopped += contains(l, "\"event\":\"stopped\"");
  BOOST_TEST(stopped == 2);
}

BOOST_AUTO_TEST_CASE(a_removed_key_is_reported_missing_and_its_return_reloads) {
  KubeletVolume vol({{"app.yaml", "v: 1\n"}});
  const std::string path = vol.key("app.yaml");
  CliProcess cli(kCli, {"watch", "--log-format", "json", path}, vol.scratch("stderr"));
  BOOST_REQUIRE(cli.wait_event("loaded", path));
  vol.publish({{"other.yaml", "x: 1\n"}});
  auto missing = cli.wait_event("missing", path);
  BOOST_REQUIRE(missing);
  BOOST_TEST(contains((*missing)["error"], "No such file"));
  vol.publish({{"app.yaml", "v: 2\n"}});
  auto reloaded = cli.wait_event("reloaded", path);
  BOOST_REQUIRE(reloaded);
  BOOST_TEST((*reloaded)["hash"] == sha("v: 2\n"));
  BOOST_TEST(cli.stop() == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cli_actions)

BOOST_AUTO_TEST_CASE(exec_runs_once_per_accepted_change_with_the_hashes) {
  KubeletVolume vol({{"app.yaml", "v: 1\n"}});
  const std::string path = vol.key("app.yaml"), log = vol.scratch("exec.log");
  CliProcess cli(kCli,
                 {"watch", "--format", "yaml", "--log-format", "json", "--exec",
                  "echo \"$HOTRELOAD_PATH $HOTRELOAD_PREVIOUS_HASH $HOTRELOAD_HASH\" >> " + log,
                  path},
                 vol.scratch("stderr"));
  BOOST_REQUIRE(cli.wait_event("loaded", path));
  vol.publish({{"app.yaml", "v: 2\n"}});
  BOOST_REQUIRE(cli.wait_event("reloaded", path));
  vol.publish({{"app.yaml", "v: [\n"}});  // refused: no action
  BOOST_REQUIRE(cli.wait_event("rejected", path));
  vol.publish({{"app.yaml", "v: 3\n"}});
  BOOST_REQUIRE(cli.wait_event("reloaded", path));
  vol.publish({{"app.yaml", "v: 4\n"}});
  BOOST_REQUIRE(cli.wait_event("reloaded", path));
  BOOST_REQUIRE(eventually([&] {
    auto lines = file_lines(log);
    return !lines.empty() && lines.back().ends_with(" " + sha("v: 4\n"));
  }));
  BOOST_TEST(cli.stop() == 0);
  // One run per accepted change, unless a newer change took a waiting one's place (then
  // the newer run's previous hash is the one the last run was told of): the hashes chain.
  auto lines = file_lines(log);
  BOOST_REQUIRE(!lines.empty());
  BOOST_REQUIRE(lines.size() <= 3u);
  std::string previous = sha("v: 1\n");
  for (const std::string& line : lines) {
    BOOST_TEST(line.starts_with(path + " " + previous + " "), line);
    previous = line.substr(line.rfind(' ') + 1);
    BOOST_TEST((previous == sha("v: 2\n") || previous == sha("v: 3\n") ||
                previous == sha("v: 4\n")));
  }
  BOOST_TEST(previous == sha("v: 4\n"));
}

BOOST_AUTO_TEST_CASE(a_missing_exec_target_is_logged_counted_and_not_fatal) {
  KubeletVolume vol({{"app.yaml", "v: 1\n"}});
  const std::string path = vol.key("app.yaml");
  int port = free_port();
  CliProcess cli(kCli,
                 {"watch", "--log-format", "json", "--exec", "/nonexistent/reload-me",
                  "--metrics-listen", "127.0.0.1:" + std::to_string(port), path},
                 vol.scratch("stderr"));
  BOOST_REQUIRE(cli.wait_event("loaded", path));
  vol.publish({{"app.yaml", "v: 2\n"}});
  auto failed = cli.wait_event("action_failed", path);
  BOOST_REQUIRE(failed);
  BOOST_TEST((*failed)["action"] == "exec");
  BOOST_TEST((*failed)["level"] == "error");
  BOOST_TEST(contains((*failed)["error"], "not found"));
  vol.publish({{"app.yaml", "v: 3\n"}});  // still watching, still acting
  BOOST_REQUIRE(cli.wait_event("reloaded", path));
  BOOST_REQUIRE(cli.wait_event("action_failed", path));
  auto samples = scrape(port);
  BOOST_TEST(*prom_value(samples, "hotreload_action_failures_total", {{"path", path}, {"action", "exec"}}) == 2);
  BOOST_TEST(*prom_value(samples, "hotreload_action_runs_total", {{"path", path}, {"action", "exec"}}) == 2);
  BOOST_TEST(*prom_value(samples, "hotreload_content_hash_info", {{"path", path}, {"hash", sha("v: 3\n")}}) == 1);
  BOOST_TEST(cli.stop() == 0);
}

BOOST_AUTO_TEST_CASE(the_signal_reaches_the_process_named_in_the_pid_file) {
  KubeletVolume vol({{"app.yaml", "v: 1\n"}});
  const std::string path = vol.key("app.yaml");
  // The target blocks SIGUSR1 before it exists (inherited across fork), then waits for it.
  sigset_t usr1, before;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  ::pthread_sigmask(SIG_BLOCK, &usr1, &before);
  pid_t target = ::fork();
  if (target == 0) {
    timespec bound{20, 0};
    ::_exit(::sigtimedwait(&usr1, nullptr, &bound) == SIGUSR1 ? 0 : 1);
  }
  ::pthread_sigmask(SIG_SETMASK, &before, nullptr);
  write_file(vol.scratch("app.pid"), std::to_string(target) + "\n");
  CliProcess cli(kCli,
                 {"watch", "--log-format", "json", "--signal", "USR1", "--pid-file",
                  vol.scratch("app.pid"), path},
                 vol.scratch("stderr"));
  BOOST_REQUIRE(cli.wait_event("loaded", path));
  vol.publish({{"app.yaml", "v: 2\n"}});
  BOOST_REQUIRE(cli.wait_event("reloaded", path));
  int status = -1;
  bool reaped = eventually([&] { return ::waitpid(target, &status, WNOHANG) == target; });
  if (!reaped) {
    ::kill(target, SIGKILL);
    ::waitpid(target, &status, 0);
  }
  BOOST_TEST(reaped);
  BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0), "the target did not get SIGUSR1");
  // The target is gone now: the next signal fails, is logged, and the watch goes on.
  vol.publish({{"app.yaml", "v: 3\n"}});
  auto failed = cli.wait_event("action_failed", path);
  BOOST_REQUIRE(failed);
  BOOST_TEST(contains((*failed)["error"], "No such process"));
  BOOST_TEST(cli.stop() == 0);
}

BOOST_AUTO_TEST_CASE(the_webhook_is_retried_until_the_service_accepts) {
  ReloadEndpoint endpoint(/*failures_first=*/1);
  KubeletVolume vol({{"app.yaml", "v: 1\n"}});
  const std::string path = vol.key("app.yaml");
  CliProcess cli(kCli, {"watch", "--log-format", "json", "--webhook", endpoint.url(), path},
                 vol.scratch("stderr"));
  BOOST_REQUIRE(cli.wait_event("loaded", path));
  vol.publish({{"app.yaml", "v: 2\n"}});
  BOOST_REQUIRE(eventually([&] { return endpoint.bodies().size() >= 2; }));
  auto bodies = endpoint.bodies();
  BOOST_TEST(bodies.size() == 2u);  // a 503, then the retry's 200
  auto body = nlohmann::json::parse(bodies.back());
  BOOST_TEST(body["path"] == path);
  BOOST_TEST(body["hash"] == sha("v: 2\n"));
  BOOST_TEST(body["previous_hash"] == sha("v: 1\n"));
  BOOST_TEST(body["volume"] == vol.dir());  // a file's body: the directory it belongs to
  BOOST_TEST(!body.contains("added"));      // keys are a directory's
  // The 503 is logged once, with when the next attempt comes; the success after it too.
  auto failed = cli.wait_event("action_failed", path);
  BOOST_REQUIRE(failed);
  BOOST_TEST((*failed)["attempts"] == 1);
  BOOST_TEST((*failed)["retry_in"] == "500ms");
  auto delivered = cli.wait_event("action_delivered", path);
  BOOST_REQUIRE(delivered);
  BOOST_TEST((*delivered)["attempts"] == 2);
  BOOST_TEST(cli.stop() == 0);
}

// Reloads after the first reuse the connection (no handshake in the way), and one the
// service closed while idle is opened again without a failed attempt.
BOOST_AUTO_TEST_CASE(the_webhook_keeps_its_connection_and_reopens_a_closed_one) {
  ReloadEndpoint endpoint(/*failures_first=*/0);
  endpoint.close_idle_after(std::chrono::seconds(2));
  KubeletVolume vol({{"app.yaml", "v: 1\n"}});
  const std::string path = vol.key("app.yaml");
  CliProcess cli(kCli, {"watch", "--log-format", "json", "--webhook", endpoint.url(), path},
                 vol.scratch("stderr"));
  BOOST_REQUIRE(cli.wait_event("loaded", path));
  for (int v = 2; v <= 5; ++v) {
    vol.publish({{"app.yaml", "v: " + std::to_string(v) + "\n"}});
    BOOST_REQUIRE(eventually([&] { return endpoint.bodies().size() >= std::size_t(v - 1); }));
  }
  // Four POSTs in quick succession: one connection (two if the machine stalled 2 s between
  // two of them); a client without keep-alive opens four.
  std::size_t kept = endpoint.connections();
  BOOST_TEST(kept <= 2u);
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));  // the service closes it
  vol.publish({{"app.yaml", "v: 6\n"}});
  BOOST_REQUIRE(eventually([&] { return endpoint.bodies().size() >= 5u; }));
  BOOST_TEST(endpoint.bodies().size() == 5u);  // each once: no attempt failed
  BOOST_TEST(endpoint.connections() == kept + 1);
  BOOST_TEST(cli.stop() == 0);
  // The stop may cut the last attempt before it has read its answer ("gave up: stopping":
  // the fifth body arrived, the 200 was still on its way). What must not happen is an
  // attempt failing on the connection the service closed.
  for (const auto& l : cli.lines())
    BOOST_TEST(!(contains(l, "action_failed") && !contains(l, "(gave up: stopping)")));
}

BOOST_AUTO_TEST_CASE(an_unreachable_webhook_is_logged_counted_and_not_fatal) {
  KubeletVolume vol({{"app.yaml", "v: 1\n"}});
  const std::string path = vol.key("app.yaml");
  RefusingPort nobody;  // held for the whole test: no one can start listening on it
  int metrics = free_port();
  CliProcess cli(kCli,
                 {"watch", "--log-format", "json", "--webhook",
                  "http://127.0.0.1:" + std::to_string(nobody.port()) + "/-/reload", "--webhook-retries",
                  "1", "--webhook-timeout", "500ms", "--metrics-listen",
                  "127.0.0.1:" + std::to_string(metrics), path},
                 vol.scratch("stderr"));
  BOOST_REQUIRE(cli.wait_event("loaded", path));
  vol.publish({{"app.yaml", "v: 2\n"}});
  auto failed = cli.wait_event("action_failed", path);
  BOOST_REQUIRE(failed);
  BOOST_TEST((*failed)["action"] == "webhook");
  BOOST_TEST((*failed)["attempts"] == 1);
  BOOST_TEST(contains((*failed)["error"], "could not connect"), (*failed)["error"]);
  auto gave_up = cli.wait_event("action_failed", path);  // --webhook-retries 1
  BOOST_REQUIRE(gave_up);
  BOOST_TEST((*gave_up)["attempts"] == 2);
  BOOST_TEST(contains((*gave_up)["error"], "gave up after 2 attempts"));
  auto samples = scrape(metrics);
  BOOST_TEST(*prom_value(samples, "hotreload_action_failures_total", {{"action", "webhook"}}) == 2);
  vol.publish({{"app.yaml", "v: 3\n"}});
  BOOST_REQUIRE(cli.wait_event("reloaded", path));
  BOOST_TEST(cli.stop() == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cli_metrics)

BOOST_AUTO_TEST_CASE(metrics_are_served_in_prometheus_text_with_the_chosen_prefix) {
  KubeletVolume vol({{"app.json", "{\"v\": 1}"}});
  const std::string path = vol.key("app.json");
  int port = free_port();
  CliProcess cli(kCli,
                 {"watch", "--format", "json", "--log-format", "json", "--metrics-listen",
                  "127.0.0.1:" + std::to_string(port), "--metrics-prefix", "kubernaut_hotreload_",
                  path},
                 vol.scratch("stderr"));
  BOOST_REQUIRE(cli.wait_event("loaded", path));
  vol.publish({{"app.json", "{\"v\": 2}"}});
  BOOST_REQUIRE(cli.wait_event("reloaded", path));
  vol.publish({{"app.json", "{\"v\": "}});
  BOOST_REQUIRE(cli.wait_event("rejected", path));

  auto s = scrape(port);
  std::map<std::string, std::string> p{{"path", path}};
  BOOST_TEST(*prom_value(s, "kubernaut_hotreload_success_total", p) == 2);
  BOOST_TEST(*prom_value(s, "kubernaut_hotreload_error_total", p) == 1);
  BOOST_TEST(*prom_value(s, "kubernaut_hotreload_content_hash_info",
                         {{"path", path}, {"hash", sha("{\"v\": 2}")}}) == 1);
  BOOST_TEST(*prom_value(s, "kubernaut_hotreload_mode_info", {{"path", path}, {"mode", "events"}}) == 1);
  BOOST_TEST(*prom_value(s, "kubernaut_hotreload_success_total", {{"path", path}, {"volume", vol.dir()}}) == 2);
  BOOST_TEST(!prom_value(s, "kubernaut_hotreload_snapshot_keys", p));  // a file has no snapshot
  BOOST_TEST(*prom_value(s, "kubernaut_hotreload_reload_duration_seconds_count", p) == 1);
  BOOST_TEST(*prom_value(s, "kubernaut_hotreload_reload_duration_seconds_bucket",
                         {{"path", path}, {"le", "+Inf"}}) == 1);
  double last = *prom_value(s, "kubernaut_hotreload_last_success_timestamp_seconds", p);
  double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  BOOST_TEST(last <= now);
  BOOST_TEST(last > now - 60);
  for (const auto& sample : s) BOOST_TEST(sample.name.rfind("kubernaut_hotreload_", 0) == 0u);

  httplib::Client client("127.0.0.1", port);
  auto health = client.Get("/healthz");
  BOOST_REQUIRE(health);
  BOOST_TEST(health->status == 200);
  BOOST_TEST(health->body == "ok\n");
  BOOST_TEST(cli.stop() == 0);
}

BOOST_AUTO_TEST_CASE(a_port_in_use_exits_4_with_a_clear_message) {
  KubeletVolume vol({{"app.yaml", "v: 1\n"}});
  int port = free_port();
  CliProcess first(kCli,
                   {"watch", "--log-format", "json", "--metrics-listen",
                    "127.0.0.1:" + std::to_string(port), vol.key("app.yaml")},
                   vol.scratch("stderr1"));
  BOOST_REQUIRE(first.wait_event("loaded"));
  auto second = run_to_exit(kCli,
                            {"watch", "--metrics-listen", "127.0.0.1:" + std::to_string(port),
                             vol.key("app.yaml")},
                            vol.scratch("stderr2"));
  BOOST_TEST(second.exit_status == 4);
  BOOST_TEST(contains(second.err, "cannot listen on 127.0.0.1:" + std::to_string(port)));
  BOOST_TEST(contains(second.err, "already in use"));
  BOOST_TEST(first.stop() == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cli_bad_input)

BOOST_AUTO_TEST_CASE(bad_command_lines_exit_2_with_the_reason) {
  TempDir dir;
  write_file(dir / "app.yaml", "a: 1\n");
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  std::vector<Case> cases{
      {{"watch", "--frobnicate", dir / "app.yaml"}, "unknown option \"--frobnicate\""},
      {{"watch"}, "no PATH or --dir DIR to watch"},
      {{"watch", "--poll-interval", "5x", dir / "app.yaml"}, "invalid duration \"5x\""},
      {{"watch", "--signal", "HUP", dir / "app.yaml"}, "--signal needs a target"},
      {{"watch", "--webhook", "ftp://x/", dir / "app.yaml"}, "scheme must be http or https"},
      {{"watch", "--metrics-listen", "9533", dir / "app.yaml"}, "expected ADDR:PORT"},
      {{"probe"}, "expected exactly one PATH"},
      {{"probe", "--fast", "/tmp"}, "unknown option"},
      {{"frobnicate"}, "unknown command \"frobnicate\""},
      {{}, "Usage: hotreload COMMAND"},
  };
  for (const Case& c : cases) {
    auto r = run_to_exit(kCli, c.args, dir / "stderr");
    BOOST_TEST(r.exit_status == 2, "args " << c.args.size());
    BOOST_TEST(contains(r.err, c.says), "stderr: " << r.err << " lacks: " << c.says);
  }
}

BOOST_AUTO_TEST_CASE(a_file_that_cannot_be_loaded_at_start_exits_3) {
  TempDir dir;
  write_file(dir / "bad.json", "{\"a\": ");
  write_file(dir / "ok.yaml", "a: 1\n");
  auto missing = run_to_exit(kCli, {"watch", dir / "absent.yaml"}, dir / "stderr");
  BOOST_TEST(missing.exit_status == 3);
  BOOST_TEST(contains(missing.err, "No such file or directory"));
  BOOST_TEST(contains(missing.err, dir / "absent.yaml"));

  auto invalid = run_to_exit(kCli, {"watch", "--format", "json", dir / "bad.json"}, dir / "stderr");
  BOOST_TEST(invalid.exit_status == 3);
  BOOST_TEST(contains(invalid.err, "invalid JSON"));

  auto no_validator = run_to_exit(
      kCli, {"watch", "--validate-cmd", "/nonexistent/validator", dir / "ok.yaml"}, dir / "stderr");
  BOOST_TEST(no_validator.exit_status == 3);
  BOOST_TEST(contains(no_validator.err, "command not found"));

  auto slow = run_to_exit(kCli,
                          {"watch", "--validate-timeout", "200ms", "--validate-cmd", "sleep 30",
                           dir / "ok.yaml"},
                          dir / "stderr");
  BOOST_TEST(slow.exit_status == 3);
  BOOST_TEST(contains(slow.err, "timed out after 200ms"));
}

BOOST_AUTO_TEST_CASE(help_teaches_flags_and_exit_codes) {
  TempDir dir;
  auto r = run_to_exit(kCli, {"watch", "--help"}, dir / "stderr");
  BOOST_TEST(r.exit_status == 0);
  for (const char* flag : {"--mode", "--validate-cmd", "--exec", "--signal", "--webhook",
                           "--metrics-listen", "--log-format", "Exit codes"})
    BOOST_TEST(contains(r.out, flag), "--help lacks " << flag);
  r = run_to_exit(kCli, {"probe", "--help"}, dir / "stderr");
  BOOST_TEST(r.exit_status == 0);
  BOOST_TEST(contains(r.out, "subPath"));
}

BOOST_AUTO_TEST_SUITE_END()

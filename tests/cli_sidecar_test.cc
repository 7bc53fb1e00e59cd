// `hotreload watch` as the sidecar people switch to (issue 12): a webhook delivered until
// the service accepts it, with the method, headers, credentials and TLS a service asks
// for, several URLs, a readiness URL; /readyz, /healthz and last_reload_successful; every
// flag from the environment. Each against a real local HTTP(S) endpoint, certificates made
// by the openssl command in the test.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli_http.h"
#include "cli_test_support.h"
#include "hotreload/digest.h"
#include "process_lookup.h"
#include "render.h"

using namespace hotreload;
using namespace hotreload::test;
using namespace std::chrono_literals;

namespace {

std::string sha(const std::string& content) { return Digest::of(content).hex(); }

std::string metrics_address(int port) { return "127.0.0.1:" + std::to_string(port); }

double metric(int port, const std::string& name, const std::map<std::string, std::string>& labels) {
  auto v = prom_value(scrape(port), name, labels);
  BOOST_REQUIRE_MESSAGE(v, name << " is not in /metrics");
  return *v;
}

int http_status(int port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  auto res = client.Get(path.c_str());
  BOOST_REQUIRE_MESSAGE(res, "GET " << path << " failed");
  return res->status;
}

void run(const std::string& command) {
  BOOST_REQUIRE_MESSAGE(std::system(command.c_str()) == 0, "failed: " << command);
}

// A CA, a server certificate for 127.0.0.1 and a client certificate signed by it, and an
// unrelated CA; EC keys (fast to make).
TestPki make_pki(const std::string& dir) {
  const std::string quiet = " >/dev/null 2>&1";
  auto key = [&](const std::string& name) {
    run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out " + dir + "/" +
        name + ".key" + quiet);
  };
  auto self_signed = [&](const std::string& name) {
    key(name);
    run("openssl req -x509 -new -key " + dir + "/" + name + ".key -subj /CN=" + name +
        " -days 2 -out " + dir + "/" + name + ".pem" + quiet);
  };
  auto signed_by_ca = [&](const std::string& name, const std::string& extension) {
    key(name);
    run("openssl req -new -key " + dir + "/" + name + ".key -subj /CN=" + name + " -out " + dir +
        "/" + name + ".csr" + quiet);
    write_file(dir + "/" + name + ".ext", extension);
    run("openssl x509 -req -in " + dir + "/" + name + ".csr -CA " + dir + "/ca.pem -CAkey " + dir +
        "/ca.key -CAcreateserial -days 2 -extfile " + dir + "/" + name + ".ext -out " + dir + "/" +
        name + ".pem" + quiet);
  };
  self_signed("ca");
  self_signed("other");
  signed_by_ca("server", "subjectAltName=IP:127.0.0.1\n");
  signed_by_ca("client", "extendedKeyUsage=clientAuth\n");
  return {dir + "/ca.pem",     dir + "/server.pem", dir + "/server.key",
          dir + "/client.pem", dir + "/client.key", dir + "/other.pem"};
}

// Sets an environment variable for one scope (the CLI child inherits it).
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const std::string& value) : name_(std::move(name)) {
    ::setenv(name_.c_str(), value.c_str(), 1);
  }
  ~ScopedEnv() { ::unsetenv(name_.c_str()); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
};

// Until the webhook attempts counted for path reach n, all of them successful.
void wait_for_deliveries(int port, const std::string& path, double n) {
  const std::map<std::string, std::string> labels{{"path", path}, {"action", "webhook"}};
  BOOST_REQUIRE(eventually([&] {
    auto v = prom_value(scrape(port), "hotreload_action_runs_total", labels);
    return v && *v >= n;
  }));
  BOOST_TEST(metric(port, "hotreload_action_runs_total", labels) == n);
  BOOST_TEST(metric(port, "hotreload_action_failures_total", labels) == 0);
}

// A kubelet volume holding app.yaml, and `hotreload watch` on it with a JSON log,
// /metrics on a free port, and the flags of the test.
struct Sidecar {
  KubeletVolume vol{{{"app.yaml", "v: 1\n"}}};
  const std::string path = vol.key("app.yaml");
  const int port = free_port();
  std::unique_ptr<CliProcess> cli;

  // Started, and loaded.
  CliProcess& start(const std::vector<std::string>& flags) {
    std::vector<std::string> args{"watch", "--log-format", "json", "--metrics-listen",
                                  metrics_address(port)};
    args.insert(args.end(), flags.begin(), flags.end());
    args.push_back(path);
    cli = std::make_unique<CliProcess>(kCli, args, vol.scratch("stderr"));
    BOOST_REQUIRE(cli->wait_event("loaded", path));
    return *cli;
  }
};

std::size_t count_events(const CliProcess& cli, const std::string& event) {
  std::size_t n = 0;
  for (const auto& l : cli.lines())
    if (contains(l, "\"event\":\"" + event + "\"")) ++n;
  return n;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cli_webhook_delivery)

// The service refuses a while: the delivery goes on (one line for the cause, not one per
// attempt) until it accepts; meanwhile /metrics says how long it has been behind, and
// last_reload_successful is 0.
BOOST_AUTO_TEST_CASE(a_webhook_is_delivered_until_the_service_accepts_it) {
  ReloadEndpoint endpoint(/*failures_first=*/0);
  Sidecar s;
  KubeletVolume& vol = s.vol;
  const std::string& path = s.path;
  const int port = s.port;
  CliProcess& cli = s.start({"--webhook", endpoint.url()});
  const std::map<std::string, std::string> labels{{"path", path}, {"action", "webhook"}};
  endpoint.fail_next(1000);
  vol.publish({{"app.yaml", "v: 2\n"}});
  auto failed = cli.wait_event("action_failed", path);
  BOOST_REQUIRE(failed);
  BOOST_TEST((*failed)["retry_in"] == "500ms");
  BOOST_TEST(contains((*failed)["error"], "answered HTTP 503"), (*failed)["error"]);
  // 0.5 + 1 + 2 s of backoff: at least four attempts.
  BOOST_REQUIRE(eventually([&] { return endpoint.bodies().size() >= 4; }));
  BOOST_TEST(metric(port, "hotreload_action_pending_seconds", labels) >= 1.0);
  BOOST_TEST(metric(port, "hotreload_last_reload_successful", {{"path", path}}) == 0);
  // The receiver has the fourth request before the sidecar has read its answer and counted
  // the failure.
  BOOST_TEST(eventually(
      [&] { return metric(port, "hotreload_action_failures_total", labels) >= 4; }));
  endpoint.fail_next(0);
  auto delivered = cli.wait_event("action_delivered", path);
  BOOST_REQUIRE(delivered);
  const std::size_t attempts = endpoint.bodies().size();
  BOOST_TEST((*delivered)["attempts"] == attempts);
  BOOST_TEST((*delivered)["url"] == endpoint.url());
  BOOST_TEST(count_events(cli, "action_failed") == 1u);  // once per cause
  auto body = nlohmann::json::parse(endpoint.bodies().back());
  BOOST_TEST(body["hash"] == sha("v: 2\n"));
  BOOST_TEST(body["previous_hash"] == sha("v: 1\n"));
  BOOST_TEST(metric(port, "hotreload_action_pending_seconds", labels) == 0);
  BOOST_TEST(metric(port, "hotreload_last_reload_successful", {{"path", path}}) == 1);
  BOOST_TEST(metric(port, "hotreload_action_runs_total", labels) == attempts);
  std::this_thread::sleep_for(1500ms);
  BOOST_TEST(endpoint.bodies().size() == attempts);  // accepted: no attempt after
  BOOST_TEST(cli.stop() == 0);
}

// Newer content while the service refuses: the service gets the newest, told what it
// replaces (the content it last accepted), and the older is never sent again.
BOOST_AUTO_TEST_CASE(newer_content_supersedes_a_delivery_not_yet_accepted) {
  ReloadEndpoint endpoint(/*failures_first=*/0);
  Sidecar s;
  KubeletVolume& vol = s.vol;
  const std::string& path = s.path;
  const int port = s.port;
  CliProcess& cli = s.start({"--webhook", endpoint.url()});
  endpoint.fail_next(1000);
  vol.publish({{"app.yaml", "v: 2\n"}});
  BOOST_REQUIRE(cli.wait_event("action_failed", path));
  vol.publish({{"app.yaml", "v: 3\n"}});
  BOOST_REQUIRE(cli.wait_event("reloaded", path));
  BOOST_REQUIRE(eventually([&] {
    auto b = endpoint.bodies();
    return nlohmann::json::parse(b.back())["hash"] == sha("v: 3\n");
  }));
  endpoint.fail_next(0);
  BOOST_REQUIRE(cli.wait_event("action_delivered", path));
  auto bodies = endpoint.bodies();
  auto last = nlohmann::json::parse(bodies.back());
  BOOST_TEST(last["hash"] == sha("v: 3\n"));
  BOOST_TEST(last["previous_hash"] == sha("v: 1\n"));  // what the service last accepted
  bool newer_seen = false;
  for (const auto& b : bodies) {
    bool v3 = nlohmann::json::parse(b)["hash"] == sha("v: 3\n");
    BOOST_TEST((v3 || !newer_seen));  // no v2 after the first v3
    newer_seen |= v3;
  }
  BOOST_TEST(metric(port, "hotreload_action_superseded_total", {{"path", path}}) == 1);
  BOOST_TEST(cli.stop() == 0);
}

BOOST_AUTO_TEST_CASE(the_retries_cap_gives_up_and_says_so) {
  ReloadEndpoint endpoint(/*failures_first=*/1000);
  Sidecar s;
  KubeletVolume& vol = s.vol;
  const std::string& path = s.path;
  const int port = s.port;
  CliProcess& cli = s.start({"--webhook", endpoint.url(), "--webhook-retries", "2"});
  vol.publish({{"app.yaml", "v: 2\n"}});
  auto first = cli.wait_event("action_failed", path);
  BOOST_REQUIRE(first);
  BOOST_TEST((*first)["attempts"] == 1);
  auto gave_up = cli.wait_event("action_failed", path);
  BOOST_REQUIRE(gave_up);
  BOOST_TEST((*gave_up)["attempts"] == 3);
  BOOST_TEST(contains((*gave_up)["error"], "gave up after 3 attempts"), (*gave_up)["error"]);
  BOOST_TEST(!gave_up->contains("retry_in"));
  std::this_thread::sleep_for(3s);
  BOOST_TEST(endpoint.bodies().size() == 3u);
  BOOST_TEST(metric(port, "hotreload_last_reload_successful", {{"path", path}}) == 0);
  BOOST_TEST(metric(port, "hotreload_action_pending_seconds", {{"path", path}}) == 0);
  BOOST_TEST(cli.stop() == 0);
}

BOOST_AUTO_TEST_CASE(expect_status_accepts_that_status_only) {
  ReloadEndpoint endpoint(/*failures_first=*/0);
  Sidecar s;
  KubeletVolume& vol = s.vol;
  const std::string& path = s.path;
  CliProcess& cli = s.start({"--webhook", endpoint.url(), "--webhook-status-code", "204"});
  vol.publish({{"app.yaml", "v: 2\n"}});  // answered 200: not the 204 asked for
  auto failed = cli.wait_event("action_failed", path);
  BOOST_REQUIRE(failed);
  BOOST_TEST(contains((*failed)["error"], "answered HTTP 200, not the expected 204"),
             (*failed)["error"]);
  endpoint.answer_with(204);
  BOOST_REQUIRE(cli.wait_event("action_delivered", path));
  BOOST_TEST(cli.stop() == 0);
}

// Method, headers and a bearer token read at every attempt (a rotated Secret is used at
// the next one); the token is never written to the log.
BOOST_AUTO_TEST_CASE(method_headers_and_a_rotated_bearer_token_are_sent) {
  ReloadEndpoint endpoint(/*failures_first=*/0);
  Sidecar s;
  KubeletVolume& vol = s.vol;
  const std::string& path = s.path;
  const std::string token = vol.scratch("token");
  write_file(token, "first-s3cret\n");
  endpoint.fail_next(1);
  CliProcess& cli = s.start({"--webhook", endpoint.url(), "--webhook-method", "put",
                             "--webhook-header", "X-Tenant: blue", "--webhook-header",
                             "X-Trace:  on ", "--webhook-bearer-token-file", token});
  vol.publish({{"app.yaml", "v: 2\n"}});
  BOOST_REQUIRE(cli.wait_event("action_delivered", path));
  write_file(token, "second-s3cret");
  vol.publish({{"app.yaml", "v: 3\n"}});
  BOOST_REQUIRE(eventually([&] { return endpoint.received().size() >= 3; }));
  auto received = endpoint.received();
  BOOST_REQUIRE(received.size() == 3u);
  for (const auto& r : received) {
    BOOST_TEST(r.method == "PUT");
    BOOST_TEST(r.headers.find("X-Tenant")->second == "blue");
    BOOST_TEST(r.headers.find("X-Trace")->second == "on");
    BOOST_TEST(r.headers.find("Content-Type")->second == "application/json");
  }
  BOOST_TEST(received[0].headers.find("Authorization")->second == "Bearer first-s3cret");
  BOOST_TEST(received[2].headers.find("Authorization")->second == "Bearer second-s3cret");
  BOOST_TEST(nlohmann::json::parse(received[2].body)["hash"] == sha("v: 3\n"));
  BOOST_TEST(cli.stop() == 0);
  for (const auto& l : cli.lines()) BOOST_TEST(!contains(l, "s3cret"), l);
  for (const auto& l : file_lines(vol.scratch("stderr"))) BOOST_TEST(!contains(l, "s3cret"), l);
}

BOOST_AUTO_TEST_CASE(basic_auth_and_a_get_without_body) {
  ReloadEndpoint endpoint(/*failures_first=*/0);
  Sidecar s;
  KubeletVolume& vol = s.vol;
  const std::string secret = vol.scratch("basic");
  write_file(secret, "reloader:pa:ss\n");
  CliProcess& cli = s.start(
      {"--webhook", endpoint.url(), "--webhook-method", "GET", "--webhook-basic-auth-file", secret});
  vol.publish({{"app.yaml", "v: 2\n"}});
  BOOST_REQUIRE(eventually([&] { return !endpoint.received().empty(); }));
  auto r = endpoint.received().front();
  BOOST_TEST(r.method == "GET");
  BOOST_TEST(r.body.empty());
  // base64("reloader:pa:ss"): the password keeps its ':'.
  BOOST_TEST(r.headers.find("Authorization")->second == "Basic cmVsb2FkZXI6cGE6c3M=");
  BOOST_TEST(cli.stop() == 0);
}

// Each URL gets every change, and is retried on its own: the one that accepted at once
// is not asked again.
BOOST_AUTO_TEST_CASE(several_webhooks_are_delivered_independently) {
  ReloadEndpoint healthy(/*failures_first=*/0), flaky(/*failures_first=*/2);
  Sidecar s;
  KubeletVolume& vol = s.vol;
  const std::string& path = s.path;
  CliProcess& cli = s.start({"--webhook", healthy.url(), "--webhook", flaky.url()});
  vol.publish({{"app.yaml", "v: 2\n"}});
  auto delivered = cli.wait_event("action_delivered", path);
  BOOST_REQUIRE(delivered);
  BOOST_TEST((*delivered)["url"] == flaky.url());
  BOOST_TEST(flaky.bodies().size() == 3u);
  BOOST_TEST(healthy.bodies().size() == 1u);
  BOOST_TEST(nlohmann::json::parse(healthy.bodies()[0])["hash"] == sha("v: 2\n"));
  BOOST_TEST(cli.stop() == 0);
}

// --ready-url: the first content is delivered once the service answers there, and
// /readyz waits for that delivery.
BOOST_AUTO_TEST_CASE(ready_url_holds_the_first_delivery_and_readyz_until_the_service_is_up) {
  ReloadEndpoint endpoint(/*failures_first=*/0);
  endpoint.not_ready_for(3);
  Sidecar s;
  const std::string& path = s.path;
  const int port = s.port;
  CliProcess& cli = s.start({"--webhook", endpoint.url(), "--ready-url", endpoint.ready_url()});
  auto waiting = cli.wait_event("action_failed", path);
  BOOST_REQUIRE(waiting);
  BOOST_TEST(contains((*waiting)["error"], "not ready"), (*waiting)["error"]);
  BOOST_TEST((*waiting)["attempts"] == 0);  // the service was not asked to reload
  BOOST_TEST(http_status(port, "/readyz") == 503);
  BOOST_TEST(endpoint.bodies().empty());
  BOOST_REQUIRE(cli.wait_event("action_delivered", path));
  BOOST_TEST(endpoint.ready_gets() == 4);
  BOOST_REQUIRE(endpoint.bodies().size() == 1u);
  auto body = nlohmann::json::parse(endpoint.bodies()[0]);
  BOOST_TEST(body["hash"] == sha("v: 1\n"));
  BOOST_TEST(body["previous_hash"] == "");
  BOOST_TEST(http_status(port, "/readyz") == 200);
  BOOST_TEST(http_status(port, "/healthz") == 200);
  BOOST_TEST(cli.stop() == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cli_webhook_tls)

// HTTPS to a server whose certificate a private CA signed: refused without
// --webhook-ca-file (and with the wrong CA), accepted with it; mutual TLS with a client
// certificate the server requires.
BOOST_AUTO_TEST_CASE(https_with_a_private_ca_and_a_client_certificate) {
  KubeletVolume vol({{"app.yaml", "v: 1\n"}});
  const std::string path = vol.key("app.yaml");
  std::filesystem::create_directory(vol.scratch("pki"));
  TestPki pki = make_pki(vol.scratch("pki"));
  {
    ReloadEndpoint endpoint(/*failures_first=*/0, &pki);
    CliProcess cli(kCli,
                   {"watch", "--log-format", "json", "--webhook", endpoint.url(),
                    "--webhook-retries", "0", "--webhook-ca-file", pki.other_ca, path},
                   vol.scratch("stderr"));
    BOOST_REQUIRE(cli.wait_event("loaded", path));
    vol.publish({{"app.yaml", "v: 2\n"}});
    auto failed = cli.wait_event("action_failed", path);
    BOOST_REQUIRE(failed);
    BOOST_TEST(contains((*failed)["error"], "not trusted"), (*failed)["error"]);
    BOOST_TEST(endpoint.bodies().empty());
    BOOST_TEST(cli.stop() == 0);

    const int port = free_port();
    CliProcess trusted(kCli,
                       {"watch", "--log-format", "json", "--webhook", endpoint.url(),
                        "--webhook-ca-file", pki.ca, "--metrics-listen", metrics_address(port),
                        path},
                       vol.scratch("stderr2"));
    BOOST_REQUIRE(trusted.wait_event("loaded", path));
    vol.publish({{"app.yaml", "v: 3\n"}});
    wait_for_deliveries(port, path, 1);
    BOOST_REQUIRE(endpoint.bodies().size() == 1u);
    BOOST_TEST(nlohmann::json::parse(endpoint.bodies()[0])["hash"] == sha("v: 3\n"));
    BOOST_TEST(trusted.stop() == 0);
    for (const auto& l : trusted.lines()) BOOST_TEST(!contains(l, "action_failed"), l);
  }
  ReloadEndpoint mutual(/*failures_first=*/0, &pki, /*require_client_cert=*/true);
  CliProcess anonymous(kCli,
                       {"watch", "--log-format", "json", "--webhook", mutual.url(),
                        "--webhook-retries", "0", "--webhook-ca-file", pki.ca, path},
                       vol.scratch("stderr3"));
  BOOST_REQUIRE(anonymous.wait_event("loaded", path));
  vol.publish({{"app.yaml", "v: 4\n"}});
  BOOST_REQUIRE(anonymous.wait_event("action_failed", path));
  BOOST_TEST(mutual.bodies().empty());
  BOOST_TEST(anonymous.stop() == 0);

  const int port = free_port();
  CliProcess client(kCli,
                    {"watch", "--log-format", "json", "--webhook", mutual.url(),
                     "--webhook-ca-file", pki.ca, "--webhook-cert-file", pki.client_cert,
                     "--webhook-key-file", pki.client_key, "--metrics-listen",
                     metrics_address(port), path},
                    vol.scratch("stderr4"));
  BOOST_REQUIRE(client.wait_event("loaded", path));
  vol.publish({{"app.yaml", "v: 5\n"}});
  wait_for_deliveries(port, path, 1);
  BOOST_REQUIRE(mutual.bodies().size() == 1u);
  BOOST_TEST(nlohmann::json::parse(mutual.bodies()[0])["hash"] == sha("v: 5\n"));
  BOOST_TEST(client.stop() == 0);
  for (const auto& l : client.lines()) BOOST_TEST(!contains(l, "action_failed"), l);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cli_sidecar_health)

// A rejected content on disk makes last_reload_successful 0 (the service runs an older
// one) until an accepted one replaces it; an action running past the threshold fails
// /healthz, naming it.
BOOST_AUTO_TEST_CASE(last_reload_successful_and_a_stuck_action_in_healthz) {
  KubeletVolume vol({{"app.json", "{\"v\": 1}"}});
  const std::string path = vol.key("app.json");
  const int port = free_port();
  CliProcess cli(kCli,
                 {"watch", "--log-format", "json", "--exec", "sleep 4", "--exec-timeout", "20s",
                  "--metrics-listen", metrics_address(port), "--unhealthy-after-stall", "1s", path},
                 vol.scratch("stderr"));
  BOOST_REQUIRE(cli.wait_event("loaded", path));
  BOOST_TEST(metric(port, "hotreload_last_reload_successful", {{"path", path}}) == 1);
  vol.publish({{"app.json", "{\"v\": "}});
  BOOST_REQUIRE(cli.wait_event("rejected", path));
  BOOST_TEST(metric(port, "hotreload_last_reload_successful", {{"path", path}}) == 0);
  BOOST_TEST(http_status(port, "/healthz") == 200);
  vol.publish({{"app.json", "{\"v\": 2}"}});
  BOOST_REQUIRE(cli.wait_event("reloaded", path));
  BOOST_TEST(metric(port, "hotreload_last_reload_successful", {{"path", path}}) == 1);
  BOOST_REQUIRE(eventually([&] { return http_status(port, "/healthz") == 503; }, 3s));
  httplib::Client client("127.0.0.1", port);
  auto res = client.Get("/healthz");
  BOOST_REQUIRE(res);
  BOOST_TEST(contains(res->body, "stuck: exec for " + path), res->body);
  BOOST_TEST(http_status(port, "/readyz") == 200);  // loaded: ready, if not healthy
  BOOST_REQUIRE(eventually([&] { return http_status(port, "/healthz") == 200; }));
  BOOST_TEST(cli.stop() == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cli_environment)

// Every flag from a HOTRELOAD_* variable, as a Deployment's env sets them; a flag on the
// command line wins; a repeatable flag takes a value per line.
BOOST_AUTO_TEST_CASE(flags_come_from_the_environment_and_argv_wins) {
  ReloadEndpoint one(/*failures_first=*/0), two(/*failures_first=*/0);
  KubeletVolume vol({{"app.yaml", "v: 1\n"}});
  const std::string path = vol.key("app.yaml");
  const int port = free_port();
  ScopedEnv webhooks("HOTRELOAD_WEBHOOK", one.url() + "\n" + two.url());
  ScopedEnv header("HOTRELOAD_WEBHOOK_HEADER", "X-From: env");
  ScopedEnv listen("HOTRELOAD_METRICS_LISTEN", metrics_address(port));
  ScopedEnv format("HOTRELOAD_LOG_FORMAT", "text");  // argv says json: json it is
  ScopedEnv prefix("HOTRELOAD_METRICS_PREFIX", "sidecar_");
  CliProcess cli(kCli, {"watch", "--log-format", "json", path}, vol.scratch("stderr"));
  BOOST_REQUIRE(cli.wait_event("loaded", path));
  vol.publish({{"app.yaml", "v: 2\n"}});
  BOOST_REQUIRE(eventually([&] { return one.bodies().size() == 1 && two.bodies().size() == 1; }));
  BOOST_TEST(one.received()[0].headers.find("X-From")->second == "env");
  BOOST_TEST(metric(port, "sidecar_success_total", {{"path", path}}) == 2);
  BOOST_TEST(cli.stop() == 0);
}

BOOST_AUTO_TEST_CASE(a_bad_value_in_the_environment_is_refused_as_the_flag_would_be) {
  KubeletVolume vol({{"app.yaml", "v: 1\n"}});
  ScopedEnv interval("HOTRELOAD_POLL_INTERVAL", "soon");
  auto r = run_to_exit(kCli, {"watch", vol.key("app.yaml")}, vol.scratch("stderr"));
  BOOST_TEST(r.exit_status == 2);
  BOOST_TEST(contains(r.err, "--poll-interval"), r.err);
  BOOST_TEST(contains(r.err, "soon"), r.err);
  // Another command does not read watch's variables.
  auto probe = run_to_exit(kCli, {"probe", vol.key("app.yaml")}, vol.scratch("stderr2"));
  BOOST_TEST(probe.exit_status == 0, probe.err);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cli_process_name)

namespace {

// A /proc with the processes a test needs: pid -> comm, argv, state, parent.
struct FakeProcess {
  pid_t pid;
  std::string comm;
  std::vector<std::string> argv;
  char state = 'S';
  pid_t parent = 1;
};

std::string fake_proc(const test::TempDir& dir, const std::vector<FakeProcess>& processes) {
  for (const auto& p : processes) {
    const std::string d = dir / std::to_string(p.pid);
    std::filesystem::create_directory(d);
    test::write_file(d + "/comm", p.comm + "\n");
    std::string cmdline;
    for (const auto& a : p.argv) cmdline += a + std::string(1, '\0');
    test::write_file(d + "/cmdline", cmdline);
    test::write_file(d + "/stat", std::to_string(p.pid) + " (" + p.comm + ") " + p.state + " " +
                                      std::to_string(p.parent) + " 1 1 0 -1\n");
  }
  std::filesystem::create_directory(dir / "self");  // not a process id: ignored
  return dir.path();
}

std::string why(const cli::Parsed<pid_t>& p) {
  auto* s = std::get_if<std::string>(&p);
  return s ? *s : "found pid " + std::to_string(std::get<pid_t>(p));
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_process_called_name_is_found_in_proc) {
  test::TempDir dir;
  const std::string proc = fake_proc(
      dir, {{1, "pause", {"/pause"}},
            {20, "nginx", {"nginx: master process /usr/sbin/nginx"}},
            {21, "nginx", {"nginx: worker process"}, 'S', 20},
            {22, "nginx", {"nginx: worker process"}, 'S', 20},
            {30, "python3", {"/usr/bin/python3", "/app/server.py"}},
            {31, "prometheus", {"/bin/prometheus", "--config.file=x"}},
            {40, "a-very-long-na", {"/opt/a-very-long-name-indeed"}},
            {50, "dead", {"dead"}, 'Z'},
            {60, "kworker/0:1", {}},
            {::getpid(), "hotreload", {"/hotreload", "watch"}}});
  using cli::find_process_by_name;
  BOOST_TEST(why(find_process_by_name("nginx", proc)) == "found pid 20");  // not its workers
  BOOST_TEST(why(find_process_by_name("prometheus", proc)) == "found pid 31");
  BOOST_TEST(why(find_process_by_name("python3", proc)) == "found pid 30");
  // comm is cut at 15 bytes; argv[0] is whole.
  BOOST_TEST(why(find_process_by_name("a-very-long-name-indeed", proc)) == "found pid 40");
  BOOST_TEST(contains(why(find_process_by_name("pause", proc)), "no process is called \"pause\""));
  BOOST_TEST(contains(why(find_process_by_name("dead", proc)), "no process is called"));
  BOOST_TEST(contains(why(find_process_by_name("kworker/0:1", proc)), "no process is called"));
  BOOST_TEST(contains(why(find_process_by_name("hotreload", proc)), "shareProcessNamespace"));
  BOOST_TEST(contains(why(find_process_by_name("server.py", proc)), "no process is called"));

  test::TempDir two;
  const std::string proc2 = fake_proc(two, {{7, "app", {"/app", "--a"}}, {9, "app", {"/app", "--b"}}});
  std::string several = why(find_process_by_name("app", proc2));
  BOOST_TEST(contains(several, "2 processes are called \"app\": 7 (/app --a), 9 (/app --b)"), several);
}

// The real thing: a process called by a name of its own gets the signal, found in /proc
// at the time of each change (it was started after the sidecar).
BOOST_AUTO_TEST_CASE(signal_goes_to_the_process_found_by_name) {
  Sidecar s;
  KubeletVolume& vol = s.vol;
  const std::string& path = s.path;
  const std::string name = "hr-app-" + std::to_string(::getpid());
  const std::string program = vol.scratch(name);
  std::filesystem::copy_file("/bin/sleep", program);
  CliProcess& cli = s.start({"--signal", "TERM", "--process-name", name});
  vol.publish({{"app.yaml", "v: 2\n"}});
  auto failed = cli.wait_event("action_failed", path);
  BOOST_REQUIRE(failed);
  BOOST_TEST(contains((*failed)["error"], "no process is called \"" + name + "\""), (*failed)["error"]);

  pid_t app = ::fork();
  BOOST_REQUIRE(app >= 0);
  if (app == 0) {
    ::execl(program.c_str(), name.c_str(), "60", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  std::this_thread::sleep_for(200ms);  // exec'd: its comm is the name
  vol.publish({{"app.yaml", "v: 3\n"}});
  BOOST_REQUIRE(cli.wait_event("reloaded", path));
  int status = 0;
  BOOST_REQUIRE(eventually([&] { return ::waitpid(app, &status, WNOHANG) == app; }));
  BOOST_TEST(WIFSIGNALED(status));
  BOOST_TEST(WTERMSIG(status) == SIGTERM);
  BOOST_TEST(cli.stop() == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cli_render)

namespace {

cli::Lookup lookup_in(std::map<std::string, std::string> variables) {
  return [variables = std::move(variables)](std::string_view name) -> std::optional<std::string> {
    auto it = variables.find(std::string(name));
    if (it == variables.end()) return std::nullopt;
    return it->second;
  };
}

std::string rendered(std::string_view text, const cli::Lookup& lookup) {
  auto r = cli::envsubst(text, lookup);
  if (auto* why = std::get_if<1>(&r)) return "error: " + *why;
  return std::get<0>(r);
}

std::string link_of(const std::string& path) {
  return std::filesystem::read_symlink(path).string();
}

}  // namespace

BOOST_AUTO_TEST_CASE(envsubst_replaces_variables_and_leaves_the_rest) {
  auto env = lookup_in({{"HOST", "db.svc"}, {"PORT", "5432"}, {"EMPTY", ""}, {"_x1", "u"}});
  BOOST_TEST(rendered("url: $HOST:${PORT}/x", env) == "url: db.svc:5432/x");
  BOOST_TEST(rendered("${MISSING:-fallback} ${EMPTY:-e} ${HOST:-no}", env) == "fallback e db.svc");
  BOOST_TEST(rendered("${MISSING:-}|$EMPTY|", env) == "||");
  BOOST_TEST(rendered("cost: $$5, $_x1$HOST", env) == "cost: $5, udb.svc");
  // Prometheus relabelling's $1 and a lone $ are not variables.
  BOOST_TEST(rendered("replacement: $1 ${1}x", env).starts_with("error: line 1: \"${1}\" is not a variable"));
  BOOST_TEST(rendered("replacement: $1, price $ 3, end $", env) == "replacement: $1, price $ 3, end $");
  BOOST_TEST(rendered("a\nb: $NOPE\n", env) ==
             "error: line 2: NOPE is not set (give it a default: ${NOPE:-value})");
  BOOST_TEST(rendered("x\n\ny: ${HOST", env) == "error: line 3: \"${\" without its \"}\"");
  BOOST_TEST(rendered("${MISSING:-$HOST}", env) == "$HOST");  // a default is not expanded
}

BOOST_AUTO_TEST_CASE(a_directory_is_published_as_the_kubelet_does) {
  test::TempDir dir;
  const std::string out = dir / "out";
  Snapshot first;
  first.keys["app.yaml"] = {"v: 1\n", Digest::of("v: 1\n")};
  first.keys["rules/a.yaml"] = {"r: 1\n", Digest::of("r: 1\n")};
  first.keys["old.json"] = {"{}", Digest::of("{}")};
  BOOST_REQUIRE(!cli::publish_directory(out, first));
  BOOST_TEST(read_text_file(out + "/app.yaml") == "v: 1\n");
  BOOST_TEST(read_text_file(out + "/rules/a.yaml") == "r: 1\n");
  BOOST_TEST(link_of(out + "/app.yaml") == "..data/app.yaml");
  BOOST_TEST(link_of(out + "/rules") == "..data/rules");
  const std::string data1 = link_of(out + "/..data");
  BOOST_TEST(data1.starts_with("..render_"));

  Snapshot second;
  second.keys["app.yaml"] = {"v: 2\n", Digest::of("v: 2\n")};
  second.keys["rules/a.yaml"] = {"r: 2\n", Digest::of("r: 2\n")};
  second.keys["new.yaml"] = {"n: 1\n", Digest::of("n: 1\n")};
  BOOST_REQUIRE(!cli::publish_directory(out, second));
  BOOST_TEST(read_text_file(out + "/app.yaml") == "v: 2\n");
  BOOST_TEST(read_text_file(out + "/new.yaml") == "n: 1\n");
  BOOST_TEST(!std::filesystem::exists(std::filesystem::symlink_status(out + "/old.json")));
  BOOST_TEST(link_of(out + "/..data") != data1);
  BOOST_TEST(!std::filesystem::exists(out + "/" + data1));  // the previous publish is gone
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(out)) ++entries;
  BOOST_TEST(entries == 5u);  // ..data, ..render_X, app.yaml, rules, new.yaml

  test::write_file(dir / "file", "old");
  BOOST_REQUIRE(!cli::write_file_atomically(dir / "file", "new"));
  BOOST_TEST(read_text_file(dir / "file") == "new");
  BOOST_TEST(contains(*cli::write_file_atomically(dir / "missing/file", "x"), "cannot create a file beside"));
}

// The sidecar end to end: the file the service reads holds only accepted, rendered
// content; a variable that is not set refuses the change and the rendered file stays.
BOOST_AUTO_TEST_CASE(render_to_writes_the_accepted_rendered_content_before_the_actions) {
  KubeletVolume vol({{"app.yaml", "db: ${DB_HOST}:${DB_PORT:-5432}\n"}});
  const std::string path = vol.key("app.yaml"), out = vol.scratch("rendered.yaml");
  const std::string seen = vol.scratch("seen");
  ScopedEnv host("DB_HOST", "db.svc");
  CliProcess cli(kCli,
                 {"watch", "--log-format", "json", "--envsubst", "--render-to", out, "--exec",
                  "cat " + out + " > " + seen, path},
                 vol.scratch("stderr"));
  BOOST_REQUIRE(cli.wait_event("loaded", path));
  BOOST_TEST(read_text_file(out) == "db: db.svc:5432\n");
  vol.publish({{"app.yaml", "db: $DB_HOST:1\nuser: $DB_USER\n"}});
  auto rejected = cli.wait_event("rejected", path);
  BOOST_REQUIRE(rejected);
  BOOST_TEST(contains((*rejected)["error"], "--envsubst: line 2: DB_USER is not set"), (*rejected)["error"]);
  BOOST_TEST(read_text_file(out) == "db: db.svc:5432\n");
  vol.publish({{"app.yaml", "db: $DB_HOST:1\nlist: [\n"}});  // rendered, then invalid YAML
  BOOST_REQUIRE(cli.wait_event("rejected", path));
  vol.publish({{"app.yaml", "db: $DB_HOST:2\n"}});
  BOOST_REQUIRE(cli.wait_event("reloaded", path));
  BOOST_TEST(read_text_file(out) == "db: db.svc:2\n");
  BOOST_REQUIRE(eventually([&] { return read_text_file(seen) == "db: db.svc:2\n"; }));  // before --exec
  BOOST_TEST(cli.stop() == 0);
}

BOOST_AUTO_TEST_CASE(render_to_publishes_a_directory_and_refuses_bad_combinations) {
  KubeletVolume vol({{"a.yaml", "a: $A\n"}, {"b.json", "{\"b\": \"${B:-x}\"}"}});
  const std::string out = vol.scratch("rendered");
  ScopedEnv a("A", "1");
  CliProcess cli(kCli,
                 {"watch", "--log-format", "json", "--envsubst", "--render-to", out, "--dir",
                  vol.dir()},
                 vol.scratch("stderr"));
  BOOST_REQUIRE(cli.wait_event("loaded", vol.dir()));
  BOOST_TEST(read_text_file(out + "/a.yaml") == "a: 1\n");
  BOOST_TEST(read_text_file(out + "/b.json") == "{\"b\": \"x\"}");
  vol.publish({{"a.yaml", "a: $A$A\n"}, {"c.yaml", "c: 3\n"}});
  BOOST_REQUIRE(cli.wait_event("reloaded", vol.dir()));
  BOOST_TEST(read_text_file(out + "/a.yaml") == "a: 11\n");
  BOOST_TEST(read_text_file(out + "/c.yaml") == "c: 3\n");
  BOOST_TEST(!std::filesystem::exists(std::filesystem::symlink_status(out + "/b.json")));
  BOOST_TEST(cli.stop() == 0);

  auto refused = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "watch");
    return run_to_exit(kCli, args, vol.scratch("stderr2"));
  };
  auto r = refused({"--envsubst", vol.key("a.yaml")});
  BOOST_TEST(r.exit_status == 2);
  BOOST_TEST(contains(r.err, "--envsubst needs --render-to"), r.err);
  r = refused({"--render-to", out, vol.key("a.yaml"), "--dir", vol.dir()});
  BOOST_TEST(contains(r.err, "give one PATH or one --dir"), r.err);
  r = refused({"--render-to", vol.dir() + "/out", "--dir", vol.dir()});
  BOOST_TEST(contains(r.err, "overlaps the watched"), r.err);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cli_webhook_kept_connection)

// A service that answers the first request of its first connection (keeping it open),
// then closes that connection on the second request without answering — a kept
// connection closed by the service just as a request went out — and answers every
// request of later connections. Counts the requests it read.
class ClosingService {
 public:
  ClosingService() {
    listen_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_REQUIRE(::bind(listen_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    BOOST_REQUIRE(::listen(listen_, 8) == 0);
    socklen_t len = sizeof a;
    ::getsockname(listen_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~ClosingService() {
    ::shutdown(listen_, SHUT_RDWR);
    ::close(listen_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/-/reload"; }
  int requests() const { return requests_.load(); }

 private:
  // One request (headers and a Content-Length body); false at the end of the connection.
  static bool read_request(int fd) {
    std::string in;
    char buf[4096];
    for (;;) {
      auto end = in.find("\r\n\r\n");
      if (end != std::string::npos) {
        auto cl = in.find("Content-Length: ");
        std::size_t body = cl == std::string::npos ? 0 : std::stoul(in.substr(cl + 16));
        if (in.size() >= end + 4 + body) return true;
      }
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) return false;
      in.append(buf, static_cast<std::size_t>(n));
    }
  }
  void serve() {
    const std::string ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n";
    for (int connection = 0;; ++connection) {
      int fd = ::accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      for (int request = 0; read_request(fd); ++request) {
        ++requests_;
        if (connection == 0 && request == 1) break;  // closed as the request went out
        if (::write(fd, ok.data(), ok.size()) < 0) break;
      }
      ::close(fd);
    }
  }
  int listen_ = -1;
  int port_ = 0;
  std::atomic<int> requests_{0};
  std::thread thread_;
};

BOOST_AUTO_TEST_CASE(a_kept_connection_closed_by_the_service_is_not_a_failed_attempt) {
  ClosingService service;
  Sidecar s;
  CliProcess& cli = s.start({"--webhook", service.url()});
  s.vol.publish({{"app.yaml", "v: 2\n"}});
  BOOST_REQUIRE(eventually([&] { return service.requests() == 1; }));
  s.vol.publish({{"app.yaml", "v: 3\n"}});  // on the kept connection: closed unanswered
  BOOST_REQUIRE(eventually([&] { return service.requests() == 3; }));
  wait_for_deliveries(s.port, s.path, 2);  // two attempts, both successful
  BOOST_TEST(cli.stop() == 0);
  for (const auto& l : cli.lines()) BOOST_TEST(!contains(l, "action_failed"), l);
}

BOOST_AUTO_TEST_SUITE_END()

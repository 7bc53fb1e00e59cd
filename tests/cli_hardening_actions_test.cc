// Issue 14, "slow endpoints and odd paths must never stall the sidecar": the action worker
// (webhook, pid file, a flood of changes, --exec's stderr), the /metrics endpoint under
// idle connections, the signals an operator may send, and child processes started without
// a shell. Each test fails on the code before the fix (a stall, a death, a cut, a command
// run from a path) and passes after; waits are bounded generously, never timed.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <thread>

#include <boost/test/unit_test.hpp>

#include "actions.h"
#include "cli_http.h"
#include "cli_test_support.h"
#include "hotreload/digest.h"
#include "key_changes.h"

using namespace hotreload;
using namespace hotreload::cli;
using namespace hotreload::test;
using namespace std::chrono_literals;

namespace {

std::string sha(const std::string& content) { return Digest::of(content).hex(); }

// An endpoint that accepts every connection and answers one byte every 0.5 s, forever:
// by default a status line and a header that never end; for TLS, the header of a 16 KiB
// handshake record whose body never ends. Each read of the client succeeds, so only a
// bound on the whole attempt ends it.
class TricklingEndpoint {
 public:
  static inline const std::string kHttpAnswer = "HTTP/1.1 200 OK\r\nX-Trickle: ";
  static inline const std::string kTlsRecord = std::string("\x16\x03\x03\x40\x00", 5);

  explicit TricklingEndpoint(std::string answer = kHttpAnswer) : answer_(std::move(answer)) {
    listen_ = listening_socket(port_);
    thread_ = std::thread([this] { loop(); });
  }
  ~TricklingEndpoint() {
    stopping_ = true;
    thread_.join();
    for (int fd : clients_) ::close(fd);
    ::close(listen_);
  }
  std::string url(const std::string& scheme = "http") const {
    return scheme + "://127.0.0.1:" + std::to_string(port_) + "/-/reload";
  }
  int connections() const { return accepted_.load(); }

 private:
  void loop() {
    const std::string& answer = answer_;
    auto next_byte = std::chrono::steady_clock::now();
    while (!stopping_) {
      pollfd p{listen_, POLLIN, 0};
      if (::poll(&p, 1, 50) > 0) {
        int fd = ::accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd >= 0) {
          clients_.push_back(fd);
          sent_.push_back(0);
          ++accepted_;
        }
      }
      if (std::chrono::steady_clock::now() < next_byte) continue;
      next_byte += 500ms;
      for (std::size_t i = 0; i < clients_.size(); ++i) {
        if (clients_[i] < 0) continue;
        char sink[4096];
        while (::recv(clients_[i], sink, sizeof sink, 0) > 0) {
        }
        char byte = sent_[i] < answer.size() ? answer[sent_[i]] : 'a';
        if (::send(clients_[i], &byte, 1, MSG_NOSIGNAL) != 1) {
          ::close(clients_[i]);
          clients_[i] = -1;
          continue;
        }
        ++sent_[i];
      }
    }
  }

  const std::string answer_;
  int listen_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::vector<int> clients_;
  std::vector<std::size_t> sent_;
  std::thread thread_;
};

int connect_to(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string read_all(std::FILE* f) {
  std::rewind(f);
  std::string text;
  for (int c; (c = std::fgetc(f)) != EOF;) text.push_back(static_cast<char>(c));
  std::fclose(f);
  return text;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cli_hardening_webhook)

BOOST_AUTO_TEST_CASE(a_trickling_endpoint_is_cut_at_the_timeout_and_later_actions_run) {
  TricklingEndpoint endpoint;
  KubeletVolume vol({{"app.yaml", "v: 1\n"}});
  const std::string path = vol.key("app.yaml");
  CliProcess cli(kCli,
                 {"watch", "--log-format", "json", "--webhook", endpoint.url(),
                  "--webhook-timeout", "1s", "--webhook-retries", "0", path},
                 vol.scratch("stderr"));
  BOOST_REQUIRE(cli.wait_event("loaded", path));
  vol.publish({{"app.yaml", "v: 2\n"}});
  // Before the fix, every trickled byte restarted the read timeout: no line, ever.
  auto failed = cli.wait_event("action_failed", path);
  BOOST_REQUIRE(failed);
  BOOST_TEST((*failed)["action"] == "webhook");
  BOOST_TEST(contains((*failed)["error"], "no complete answer"), (*failed)["error"]);
  BOOST_TEST(contains((*failed)["error"], "within 1s"), (*failed)["error"]);
  // The worker is free again: the next change's action runs (and is cut) too.
  vol.publish({{"app.yaml", "v: 3\n"}});
  BOOST_REQUIRE(cli.wait_event("action_failed", path));
  BOOST_TEST(endpoint.connections() == 2);
  BOOST_TEST(cli.stop() == 0);
}

BOOST_AUTO_TEST_CASE(sigterm_ends_a_webhook_attempt_in_flight) {
  TricklingEndpoint endpoint;
  KubeletVolume vol({{"app.yaml", "v: 1\n"}});
  const std::string path = vol.key("app.yaml");
  CliProcess cli(kCli,
                 {"watch", "--log-format", "json", "--webhook", endpoint.url(),
                  "--webhook-timeout", "10m", path},
                 vol.scratch("stderr"));
  BOOST_REQUIRE(cli.wait_event("loaded", path));
  vol.publish({{"app.yaml", "v: 2\n"}});
  BOOST_REQUIRE(eventually([&] { return endpoint.connections() == 1; }));
  BOOST_TEST(cli.stop(SIGTERM) == 0);  // before the fix: held for the 10 minutes
  auto last = nlohmann::json::parse(cli.lines().back());
  BOOST_TEST(last["event"] == "stopped");
  auto failed = std::find_if(cli.lines().begin(), cli.lines().end(), [](const std::string& l) {
    return contains(l, "\"event\":\"action_failed\"");
  });
  BOOST_REQUIRE(failed != cli.lines().end());
  BOOST_TEST(contains(*failed, "gave up: stopping"), *failed);
}

// The same over HTTPS, stuck in the TLS handshake: the server's first record never ends.
BOOST_AUTO_TEST_CASE(an_https_endpoint_stuck_in_the_handshake_is_cut_and_sigterm_ends_it) {
  TricklingEndpoint endpoint(TricklingEndpoint::kTlsRecord);
  KubeletVolume vol({{"app.yaml", "v: 1\n"}});
  const std::string path = vol.key("app.yaml");
  CliProcess cut(kCli,
                 {"watch", "--log-format", "json", "--webhook", endpoint.url("https"),
                  "--webhook-timeout", "1s", "--webhook-retries", "0", path},
                 vol.scratch("stderr"));
  BOOST_REQUIRE(cut.wait_event("loaded", path));
  vol.publish({{"app.yaml", "v: 2\n"}});
  auto failed = cut.wait_event("action_failed", path);
  BOOST_REQUIRE(failed);
  BOOST_TEST(contains((*failed)["error"], "within 1s"), (*failed)["error"]);
  BOOST_TEST(cut.stop() == 0);

  CliProcess held(kCli,
                  {"watch", "--log-format", "json", "--webhook", endpoint.url("https"),
                   "--webhook-timeout", "10m", path},
                  vol.scratch("stderr2"));
  BOOST_REQUIRE(held.wait_event("loaded", path));
  int before = endpoint.connections();
  vol.publish({{"app.yaml", "v: 3\n"}});
  BOOST_REQUIRE(eventually([&] { return endpoint.connections() == before + 1; }));
  std::this_thread::sleep_for(1500ms);  // three trickled bytes into the handshake
  auto t0 = std::chrono::steady_clock::now();
  BOOST_TEST(held.stop(SIGTERM) == 0);
  BOOST_TEST((std::chrono::steady_clock::now() - t0 < 5s));  // the issue asks 2 s; a noisy machine
  BOOST_TEST(nlohmann::json::parse(held.lines().back())["event"] == "stopped");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cli_hardening_pid_file)

BOOST_AUTO_TEST_CASE(a_fifo_pid_file_is_refused_and_the_worker_lives_on) {
  KubeletVolume vol({{"app.yaml", "v: 1\n"}});
  const std::string path = vol.key("app.yaml"), fifo = vol.scratch("app.pid");
  BOOST_REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CliProcess cli(kCli,
                 {"watch", "--log-format", "json", "--signal", "USR1", "--pid-file", fifo, path},
                 vol.scratch("stderr"));
  BOOST_REQUIRE(cli.wait_event("loaded", path));
  vol.publish({{"app.yaml", "v: 2\n"}});
  // Before the fix the worker blocked in open() for a writer that never comes.
  auto failed = cli.wait_event("action_failed", path);
  BOOST_REQUIRE(failed);
  BOOST_TEST((*failed)["action"] == "signal");
  BOOST_TEST(contains((*failed)["error"], "is a FIFO (named pipe), not a regular file"),
             (*failed)["error"]);
  vol.publish({{"app.yaml", "v: 3\n"}});
  BOOST_REQUIRE(cli.wait_event("action_failed", path));
  BOOST_TEST(cli.stop() == 0);
}

BOOST_AUTO_TEST_CASE(only_a_regular_file_is_read_as_a_pid_file) {
  TempDir dir;
  std::filesystem::create_directory(dir / "pid.d");
  BOOST_REQUIRE(::mkfifo((dir / "fifo").c_str(), 0600) == 0);
  auto error = [](const Parsed<pid_t>& p) {
    return std::holds_alternative<std::string>(p) ? std::get<std::string>(p) : std::string();
  };
  // A directory was reported as "pid file ... is empty".
  BOOST_TEST(contains(error(read_pid_file(dir / "pid.d")), "is a directory, not a regular file"));
  BOOST_TEST(contains(error(read_pid_file(dir / "fifo")), "is a FIFO"));
  BOOST_TEST(contains(error(read_pid_file("/dev/null")), "is a character device"));
  write_file(dir / "big.pid", std::string(10000, '1'));
  BOOST_TEST(contains(error(read_pid_file(dir / "big.pid")), "not a pid file"));
  write_file(dir / "ok.pid", "4321\n");
  BOOST_TEST(std::get<pid_t>(read_pid_file(dir / "ok.pid")) == 4321);
}

BOOST_AUTO_TEST_CASE(pid_1_and_our_own_pid_are_refused) {
  KubeletVolume vol({{"app.yaml", "v: 1\n"}});
  const std::string path = vol.key("app.yaml"), pid_file = vol.scratch("app.pid");
  auto r = run_to_exit(kCli, {"watch", "--signal", "HUP", "--pid", "1", path}, vol.scratch("e1"));
  BOOST_TEST(r.exit_status == 2);
  BOOST_TEST(contains(r.err, "refusing to signal PID 1"), r.err);

  write_file(pid_file, "1\n");
  CliProcess cli(kCli,
                 {"watch", "--log-format", "json", "--signal", "USR1", "--pid-file", pid_file,
                  path},
                 vol.scratch("stderr"));
  BOOST_REQUIRE(cli.wait_event("loaded", path));
  vol.publish({{"app.yaml", "v: 2\n"}});
  auto failed = cli.wait_event("action_failed", path);
  BOOST_REQUIRE(failed);
  BOOST_TEST(contains((*failed)["error"], "refusing to signal PID 1"), (*failed)["error"]);
  BOOST_TEST(contains((*failed)["error"], "pause container"), (*failed)["error"]);
  // Its own pid: before the fix, SIGUSR1 killed the sidecar itself.
  write_file(pid_file, std::to_string(cli.pid()) + "\n");
  vol.publish({{"app.yaml", "v: 3\n"}});
  failed = cli.wait_event("action_failed", path);
  BOOST_REQUIRE(failed);
  BOOST_TEST(contains((*failed)["error"], "it is hotreload itself"), (*failed)["error"]);
  BOOST_TEST(cli.stop() == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cli_hardening_flood)

BOOST_AUTO_TEST_CASE(a_waiting_action_is_superseded_by_newer_content_of_its_path) {
  TempDir dir;
  std::FILE* out = std::tmpfile();
  EventLog log(LogFormat::json, out, stderr);
  const std::string started = dir / "started", go = dir / "go", ran = dir / "ran";
  ActionConfig config;
  config.exec_command = "touch " + started + "; while [ ! -f " + go +
                        " ]; do sleep 0.01; done; echo \"$HOTRELOAD_PATH $HOTRELOAD_PREVIOUS_HASH "
                        "$HOTRELOAD_HASH [$HOTRELOAD_ADDED] [$HOTRELOAD_CHANGED] "
                        "[$HOTRELOAD_REMOVED]\" >> " + ran;
  ActionRunner runner(config, log);
  runner.enqueue({"/d", "h1", "h0", "/d", KeyChanges{{"a"}, {}, {}}});
  BOOST_REQUIRE(eventually([&] { return ::access(started.c_str(), F_OK) == 0; }));
  // h1 runs; h2, h3 and h4 of the same path wait in turn: only h4 is left to run, told
  // what changed since h1, the content the last action ran for.
  runner.enqueue({"/d", "h2", "h1", "/d", KeyChanges{{"b"}, {"a"}, {}}});
  runner.enqueue({"/other", "o2", "o1", "/other", KeyChanges{}});
  runner.enqueue({"/d", "h3", "h2", "/d", KeyChanges{{"c"}, {}, {"b"}}});
  runner.enqueue({"/d", "h4", "h3", "/d", KeyChanges{{}, {"c"}, {"z"}}});
  write_file(go, "");
  BOOST_REQUIRE(eventually([&] { return file_lines(ran).size() >= 3; }));
  runner.stop();
  BOOST_TEST(file_lines(ran) == (std::vector<std::string>{
                                    "/d h0 h1 [a] [] []",
                                    "/d h1 h4 [c] [a] [z]",  // in h2's place, before /other
                                    "/other o1 o2 [] [] []",
                                }));
  auto families = runner.metric_families();
  BOOST_REQUIRE(families.size() == 4u);
  BOOST_TEST(families[2].name == "action_superseded_total");
  BOOST_REQUIRE(families[2].samples.size() == 1u);
  BOOST_TEST(families[2].samples[0].value == 2);
  BOOST_TEST(!contains(read_all(out), "action_failed"));  // superseded is not a failure
}

BOOST_AUTO_TEST_CASE(key_changes_fold_into_the_net_change) {
  KeyChanges first{{"added", "added_then_removed"}, {"changed"}, {"removed", "removed_then_added"}};
  KeyChanges later{{"removed_then_added"}, {"added", "changed"}, {"added_then_removed", "x"}};
  KeyChanges net = first.then(later);
  BOOST_TEST(net.added == (std::vector<std::string>{"added"}));
  BOOST_TEST(net.changed == (std::vector<std::string>{"changed", "removed_then_added"}));
  BOOST_TEST(net.removed == (std::vector<std::string>{"removed", "x"}));
}

BOOST_AUTO_TEST_CASE(a_flood_of_changes_acts_on_the_newest_content_not_on_stale_ones) {
  TempDir dir;
  const std::string path = dir / "app.yaml", ran = dir / "ran";
  write_file(path, "v: 0\n");
  int port = free_port();
  CliProcess cli(kCli,
                 {"watch", "--log-format", "json", "--metrics-listen",
                  "127.0.0.1:" + std::to_string(port), "--exec",
                  "sleep 1; echo \"$HOTRELOAD_HASH\" >> " + ran, path},
                 dir / "stderr");
  BOOST_REQUIRE(cli.wait_event("loaded", path));
  // Each change is waited for until its own reload is logged, so every change is a reload
  // however slow the machine (a burst of writes may be read once). The first action sleeps
  // a second; the others arrive while it runs.
  const int changes = 20;
  std::string last;
  for (int i = 1; i <= changes; ++i) {
    const std::string content = "v: " + std::to_string(i) + "\n";
    replace_file(path, content);
    last = sha(content);
    auto reloaded = cli.wait_event("reloaded", path);
    BOOST_REQUIRE(reloaded);
    BOOST_REQUIRE((*reloaded)["hash"] == last);
  }
  const int reloads = changes;
  // Before the fix every reload queued a 1 s action: the final one ran 20 s late, behind
  // stale ones, past the patience below. Now it is at most second in line.
  BOOST_REQUIRE(eventually([&] {
    auto lines = file_lines(ran);
    return !lines.empty() && lines.back() == last;
  }));
  auto runs = file_lines(ran).size();
  auto samples = scrape(port);
  auto superseded = prom_value(samples, "hotreload_action_superseded_total", {{"path", path}});
  BOOST_REQUIRE(superseded);
  BOOST_TEST(*superseded >= 1);
  // Every accepted change either ran its action or was superseded by a newer one.
  BOOST_TEST(runs + static_cast<std::size_t>(*superseded) == static_cast<std::size_t>(reloads));
  BOOST_TEST(cli.stop() == 0);
  for (const auto& l : cli.lines()) BOOST_TEST(!contains(l, "action_failed"), l);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cli_hardening_exec_stderr)

BOOST_AUTO_TEST_CASE(an_exec_stderr_is_passed_on_whole) {
  KubeletVolume vol({{"app.yaml", "v: 1\n"}});
  const std::string path = vol.key("app.yaml");
  // 400 lines of 60 bytes (24,000 bytes, far past the 4,096 that were kept), then a last.
  CliProcess cli(kCli,
                 {"watch", "--log-format", "json", "--exec",
                  "echo 'first complaint' >&2; i=0; while [ $i -lt 400 ]; do "
                  "printf 'complaint-%03d %s\\n' $i "
                  "'..............................................' >&2; i=$((i+1)); done; "
                  "echo 'the last complaint' >&2; exit 3",
                  path},
                 vol.scratch("stderr"));
  BOOST_REQUIRE(cli.wait_event("loaded", path));
  vol.publish({{"app.yaml", "v: 2\n"}});
  auto failed = cli.wait_event("action_failed", path);
  BOOST_REQUIRE(failed);
  BOOST_TEST(contains((*failed)["error"], "exited with status 3: first complaint"),
             (*failed)["error"]);
  BOOST_TEST(cli.stop() == 0);
  std::string err = cli.stderr_text();
  int complaints = 0;
  std::istringstream lines(err);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("complaint-")) continue;
    ++complaints;
    BOOST_TEST(line.size() == 60u, line);  // none cut mid-line
  }
  BOOST_TEST(complaints == 400);
  BOOST_TEST(contains(err, "the last complaint\n"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cli_hardening_metrics)

BOOST_AUTO_TEST_CASE(a_hundred_idle_connections_do_not_starve_metrics_or_healthz) {
  KubeletVolume vol({{"app.yaml", "v: 1\n"}});
  const std::string path = vol.key("app.yaml");
  int port = free_port();
  CliProcess cli(kCli,
                 {"watch", "--log-format", "json", "--metrics-listen",
                  "127.0.0.1:" + std::to_string(port), path},
                 vol.scratch("stderr"));
  BOOST_REQUIRE(cli.wait_event("loaded", path));
  // Half send nothing; half start a request and never finish it.
  std::vector<int> idle;
  for (int i = 0; i < 100; ++i) {
    int fd = connect_to(port);
    BOOST_REQUIRE(fd >= 0);
    if (i % 2) {
      const char partial[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
      BOOST_REQUIRE(::send(fd, partial, sizeof partial - 1, MSG_NOSIGNAL) > 0);
    }
    idle.push_back(fd);
  }
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(10s);
  client.set_read_timeout(10s);
  auto health = client.Get("/healthz");
  BOOST_REQUIRE_MESSAGE(health, "GET /healthz failed: " << httplib::to_string(health.error()));
  BOOST_TEST(health->status == 200);
  BOOST_TEST(health->body == "ok\n");
  auto metrics = client.Get("/metrics");
  BOOST_REQUIRE_MESSAGE(metrics, "GET /metrics failed: " << httplib::to_string(metrics.error()));
  BOOST_TEST(metrics->status == 200);
  auto samples = parse_prometheus_text(metrics->body);
  BOOST_TEST(*prom_value(samples, "hotreload_success_total", {{"path", path}}) == 1);
  BOOST_TEST(client.Get("/nothing-here")->status == 404);
  BOOST_TEST(client.Post("/metrics", "", "text/plain")->status == 405);
  // The idle ones are closed by the server once their time is up (5 s), not held.
  for (int fd : idle) {
    pollfd p{fd, POLLIN, 0};
    BOOST_TEST(::poll(&p, 1, 15'000) == 1);
    char c;
    BOOST_TEST(::recv(fd, &c, 1, MSG_DONTWAIT) <= 0);
    ::close(fd);
  }
  BOOST_TEST(cli.stop() == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cli_hardening_signals)

BOOST_AUTO_TEST_CASE(sighup_checks_every_watch_now) {
  TempDir dir;
  const std::string path = dir / "app.yaml";
  write_file(path, "v: 1\n");
  // Polling once an hour: only SIGHUP can make it look before the test ends.
  CliProcess cli(kCli,
                 {"watch", "--log-format", "json", "--mode", "poll", "--poll-interval", "1h", path},
                 dir / "stderr");
  BOOST_REQUIRE(cli.wait_event("loaded", path));
  ::kill(cli.pid(), SIGHUP);  // nothing changed: a recheck line, no reload
  auto recheck = cli.wait_event("recheck", path);
  BOOST_REQUIRE(recheck);
  BOOST_TEST((*recheck)["reason"] == "SIGHUP");
  BOOST_TEST((*recheck)["hash"] == sha("v: 1\n"));
  replace_file(path, "v: 2\n");
  ::kill(cli.pid(), SIGHUP);
  // The reload is the second SIGHUP's, after its recheck line, or, on a loaded machine,
  // the first's, whose read may come after the replace: either way a SIGHUP's check.
  auto reloaded = cli.wait_event("reloaded", path);
  BOOST_REQUIRE(reloaded);
  BOOST_TEST((*reloaded)["hash"] == sha("v: 2\n"));
  BOOST_TEST(cli.stop() == 0);
  auto rechecks = std::count_if(cli.lines().begin(), cli.lines().end(), [](const std::string& l) {
    return contains(l, "\"event\":\"recheck\"");
  });
  BOOST_TEST(rechecks == 2);
  auto last = nlohmann::json::parse(cli.lines().back());
  BOOST_TEST(last["event"] == "stopped");
  BOOST_TEST(last["reloads"] == 1);
}

BOOST_AUTO_TEST_CASE(quit_usr1_usr2_and_alrm_stop_cleanly_like_sigterm) {
  TempDir dir;
  const std::string path = dir / "app.yaml";
  write_file(path, "v: 1\n");
  for (int signo : {SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM}) {
    CliProcess cli(kCli, {"watch", "--log-format", "json", path}, dir / "stderr");
    BOOST_REQUIRE(cli.wait_event("loaded", path));
    BOOST_TEST(cli.stop(signo) == 0, "signal " << signo);
    BOOST_REQUIRE(!cli.lines().empty());
    BOOST_TEST(contains(cli.lines().back(), "\"event\":\"stopped\""), "signal " << signo);
    BOOST_TEST(contains(cli.stderr_text(), "handled as SIGTERM"), "signal " << signo);
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cli_hardening_spawn)

// The mount helpers and setpriv get the directory as one argument: before, a quote in it
// ended the shell's quoting and the rest ran as a command.
BOOST_AUTO_TEST_CASE(a_harness_directory_with_a_quote_is_a_path_not_a_command) {
  TempDir base;
  ::chmod(base.path().c_str(), 0755);  // nobody must reach it (the unreadable scenario)
  const std::string marker = base / "pwned";
  const std::string crafted = base / ("x'; touch " + marker + "; echo '");
  std::filesystem::create_directories(crafted);
  for (std::filesystem::path p = crafted; p != base.path(); p = p.parent_path())
    ::chmod(p.c_str(), 0755);
  auto r = run_to_exit(kCli, {"harness", "--seed", "7", "--ops", "0", "--real", crafted,
                              "--real-actions", "5"},
                       base / "stderr", 240s);
  BOOST_TEST(!std::filesystem::exists(marker), "a command ran from the directory's name");
  BOOST_TEST(r.exit_status == 0, r.out << r.err);
  BOOST_TEST(contains(r.out, "every row held"), r.out);
}

BOOST_AUTO_TEST_SUITE_END()

// `hotreload watch` in front of a volume whose server stops answering: a bindfs (FUSE)
// mount whose daemon is stopped with SIGSTOP, the stand-in for a hard NFS mount during an
// outage (this kernel has no NFS client). Every call into the mount then blocks in the
// kernel until the daemon runs again. The tool must go on serving its other watches, say
// `stalled`, fail /healthz after --unhealthy-after-stall, resume when the server is back,
// and stop on SIGTERM with the call still stuck.
#include <sys/mount.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>

#include "cli_http.h"
#include "cli_test_support.h"

using namespace hotreload;
using namespace hotreload::test;
using namespace std::chrono_literals;

namespace {

constexpr long kFuseMagic = 0x65735546;

// Why this machine cannot run the case; empty when it can.
std::string cannot_mount_bindfs() {
  if (::geteuid() != 0) return "not root";
  if (::access("/dev/fuse", R_OK | W_OK) != 0) return "/dev/fuse is missing";
  if (::access("/usr/bin/bindfs", X_OK) != 0) return "bindfs is not installed (ci/bootstrap installs it)";
  return "";
}

// bindfs in the foreground (so its pid is the daemon's), mounted at `at`. Whatever a test
// does, the daemon is let run again before the mount is detached: a stopped daemon would
// hang anything that touched the mount afterwards, the temporary directories' removal too.
class BindfsMount {
 public:
  BindfsMount(const std::string& source, const std::string& at, const std::string& log)
      : at_(at), daemon_("/usr/bin/bindfs", {"-f", source, at}, log) {}
  ~BindfsMount() {
    ::kill(daemon_.pid(), SIGCONT);
    ::umount2(at_.c_str(), MNT_DETACH);
    daemon_.stop(SIGTERM);
  }
  BindfsMount(const BindfsMount&) = delete;
  BindfsMount& operator=(const BindfsMount&) = delete;

  bool mounted() const {
    struct statfs s {};
    return ::statfs(at_.c_str(), &s) == 0 && s.f_type == kFuseMagic;
  }
  void hang() { ::kill(daemon_.pid(), SIGSTOP); }
  void answer() { ::kill(daemon_.pid(), SIGCONT); }

 private:
  std::string at_;
  CliProcess daemon_;
};

// /healthz: its status and body.
std::pair<int, std::string> health(int port) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(5, 0);
  auto res = client.Get("/healthz");
  if (!res) return {0, httplib::to_string(res.error())};
  return {res->status, res->body};
}

std::size_t count_events(CliProcess& cli, const std::string& event, const std::string& path) {
  cli.wait_line([](const std::string&) { return false; }, 100ms);  // read what has come
  std::size_t n = 0;
  for (const std::string& line : cli.lines()) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    n += !j.is_discarded() && j.value("event", "") == event && j.value("path", "") == path;
  }
  return n;
}

std::string log_text(const CliProcess& cli) {
  std::string text;
  for (const std::string& line : cli.lines()) text += line + "\n";
  return text;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cli_hung_volume)

BOOST_AUTO_TEST_CASE(a_hung_fuse_volume_stalls_alone_fails_health_resumes_and_lets_the_tool_stop) {
  if (std::string why = cannot_mount_bindfs(); !why.empty()) {
    BOOST_WARN_MESSAGE(false, "cli_hung_volume: NOT RUN: " << why);
    return;
  }
  TempDir source, mount_point, local, logs;
  write_file(source / "app.yaml", "a: 1\n");
  write_file(local / "local.yaml", "b: 1\n");
  BindfsMount mount(source.path(), mount_point.path(), logs / "bindfs");
  BOOST_REQUIRE_MESSAGE(eventually([&] { return mount.mounted(); }),
                        "bindfs did not mount: " << read_text_file(logs / "bindfs"));

  const std::string remote = mount_point / "app.yaml", nearby = local / "local.yaml";
  const int port = free_port();
  CliProcess cli(kCli,
                 {"watch", "--log-format", "json", "--poll-interval", "100ms", "--stall-timeout",
                  "300ms", "--unhealthy-after-stall", "1s", "--metrics-listen",
                  "127.0.0.1:" + std::to_string(port), remote, nearby},
                 logs / "stderr");
  BOOST_REQUIRE(cli.wait_event("loaded", remote));
  BOOST_REQUIRE(cli.wait_event("loaded", nearby));
  BOOST_TEST(health(port).first == 200);

  // The server stops answering; meanwhile the content changes behind it.
  mount.hang();
  write_file(source / "app.yaml", "a: 2\n");
  auto stalled = cli.wait_event("stalled", remote);
  BOOST_REQUIRE_MESSAGE(stalled, "no stalled line; stderr: " << cli.stderr_text());
  BOOST_TEST((*stalled)["level"] == "warn");

  // The other watch goes on: its change is seen while the first is stuck.
  replace_file(nearby, "b: 2\n");
  auto reloaded = cli.wait_event("reloaded", nearby);
  BOOST_REQUIRE_MESSAGE(reloaded, "a local change was not seen while the other volume hung");
  BOOST_TEST((*reloaded)["hash"] == Digest::of("b: 2\n").hex());

  // Past --unhealthy-after-stall, /healthz fails and names the stuck path (only that one).
  std::pair<int, std::string> h;
  BOOST_REQUIRE(eventually([&] { return (h = health(port)).first == 503; }));
  BOOST_TEST(contains(h.second, "stalled: " + remote));
  BOOST_TEST(!contains(h.second, nearby));
  auto samples = scrape(port);
  BOOST_TEST(*prom_value(samples, "hotreload_stalled_seconds", {{"path", remote}}) > 0);
  BOOST_TEST(*prom_value(samples, "hotreload_stalled_seconds", {{"path", nearby}}) == 0);

  // The server answers again: the watch resumes and converges on what changed meanwhile.
  // (The look that was stuck may find the change itself: `reloaded` can come first.)
  mount.answer();
  auto caught_up = cli.wait_event("reloaded", remote);
  BOOST_REQUIRE_MESSAGE(caught_up, "never caught up; the log:\n" << log_text(cli));
  BOOST_TEST((*caught_up)["hash"] == Digest::of("a: 2\n").hex());
  BOOST_REQUIRE(eventually([&] { return count_events(cli, "resumed", remote) == 1; }));
  BOOST_TEST(health(port).first == 200);

  // Hung again, SIGTERM still ends the tool, with its stopped lines, though a thread is
  // inside the mount and cannot be joined.
  mount.hang();
  BOOST_REQUIRE(eventually([&] { return count_events(cli, "stalled", remote) == 2; }));
  // The tool has ended when its main thread has: reaped, or a zombie. The kernel keeps a
  // zombie whose stuck thread's FUSE request the stopped daemon had already taken (such a
  // wait cannot be killed) until the daemon answers; which of the two happens depends on
  // when the daemon was stopped, so the daemon is let answer before the exit is read.
  const std::string stat_file = "/proc/" + std::to_string(cli.pid()) + "/stat";
  auto ended = [&] {
    std::string stat = read_text_file(stat_file);
    auto close = stat.rfind(')');
    return stat.empty() || (close != std::string::npos && close + 2 < stat.size() &&
                            stat[close + 2] == 'Z');
  };
  auto asked = std::chrono::steady_clock::now();
  ::kill(cli.pid(), SIGTERM);
  bool main_thread_ended = eventually(ended, 10s);
  auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - asked).count();
  BOOST_TEST_MESSAGE("cli_hung_volume: SIGTERM to exit with a call stuck on the mount: " << took << " s");
  mount.answer();
  int status = cli.wait_exit();
  BOOST_REQUIRE_MESSAGE(main_thread_ended, "the tool did not end within 10 s of SIGTERM");
  BOOST_REQUIRE_MESSAGE(status == 0, "exit status " << status << " (-1: still running)");
  std::set<std::string> stopped;
  for (const std::string& line : cli.lines()) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.value("event", "") == "stopped") stopped.insert(j.value("path", ""));
  }
  BOOST_TEST((stopped == std::set<std::string>{remote, nearby}));
}

BOOST_AUTO_TEST_SUITE_END()

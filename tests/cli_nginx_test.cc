// `hotreload watch --dir` in front of a real nginx: a two-key ConfigMap volume (nginx.conf
// and the greeting.conf it includes) whose keys must change together, validated with
// `nginx -t -c "$HOTRELOAD_DIR/nginx.conf"` in the private copy of each new snapshot, and
// reloaded with SIGHUP through nginx's pid file.
//
// Each version N of nginx.conf answers with $greeting_vN, a variable only version N of
// greeting.conf defines: nginx.conf of one publish with greeting.conf of another fails
// `nginx -t`. nginx runs as the test's child (master and one worker, in its own process
// group, on a free port of 127.0.0.1); as root its worker runs as nobody, which needs no
// file (the answer is a `return`).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <httplib.h>

#include <filesystem>
#include <set>
#include <sstream>

#include <boost/test/unit_test.hpp>

#include "cli_test_support.h"

using namespace hotreload;
using namespace hotreload::test;
using namespace std::chrono_literals;

namespace {

const std::string kNginx = HOTRELOAD_NGINX_PATH;

std::string nginx_conf(int version, int port) {
  const std::string v = std::to_string(version);
  return "events {}\n"
         "http {\n"
         "  access_log off;\n"
         // Relative paths are under nginx's -p prefix, not the packaged /var/lib/nginx.
         "  client_body_temp_path body; proxy_temp_path proxy; fastcgi_temp_path fastcgi;\n"
         "  uwsgi_temp_path uwsgi; scgi_temp_path scgi;\n"
         "  include greeting.conf;\n"  // relative to this file's directory
         "  server {\n"
         "    listen 127.0.0.1:" + std::to_string(port) + ";\n"
         "    location / { return 200 \"$greeting_v" + v + "\\n\"; }\n"
         "  }\n"
         "}\n";
}

std::string greeting_conf(int version, const std::string& text) {
  return "map $host $greeting_v" + std::to_string(version) + " { default \"" + text + "\"; }\n";
}

// nginx in the foreground, in a process group of its own: stopping it (or the test
// failing) takes the master and its workers with it.
class Nginx {
 public:
  Nginx(const std::string& prefix, const std::string& conf, const std::string& stderr_file)
      : pid_file_(prefix + "/nginx.pid") {
    std::vector<std::string> args{kNginx, "-p", prefix, "-e", "stderr", "-c", conf, "-g",
                                  "daemon off; master_process on; worker_processes 1; pid " +
                                      pid_file_ + ";"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int err = ::open(stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (err < 0) throw std::runtime_error("cannot open " + stderr_file);
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::setpgid(0, 0);
      ::dup2(err, 2);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(err);
    ::setpgid(pid_, pid_);  // also here: whichever runs first, the group exists before a kill
  }
  ~Nginx() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGQUIT);  // graceful: the master stops its workers
    bool exited = eventually([&] { return ::waitpid(pid_, nullptr, WNOHANG) == pid_; });
    ::kill(-pid_, SIGKILL);  // whatever is left of the group
    if (!exited) ::waitpid(pid_, nullptr, 0);
  }
  Nginx(const Nginx&) = delete;
  Nginx& operator=(const Nginx&) = delete;

  const std::string& pid_file() const { return pid_file_; }
  bool running() const { return ::waitpid(pid_, nullptr, WNOHANG) == 0; }

  // The master's live workers. After a SIGHUP the old ones finish their requests and exit
  // while the new ones start: until then, either may answer.
  std::set<pid_t> workers() const {
    std::set<pid_t> found;
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
      const std::string name = entry.path().filename();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      // /proc/PID/stat: "PID (comm) STATE PPID …"; comm may hold spaces, not ')'.
      std::string stat = read_text_file(entry.path() / "stat");
      auto close = stat.rfind(')');
      if (close == std::string::npos) continue;
      std::istringstream rest(stat.substr(close + 1));
      char state = 0;
      pid_t ppid = 0;
      rest >> state >> ppid;
      if (ppid == pid_ && state != 'Z') found.insert(static_cast<pid_t>(std::stol(name)));
    }
    return found;
  }

  // Waits until every worker is one started after `before` were.
  bool wait_replaced(const std::set<pid_t>& before) const {
    return eventually([&] {
      auto now = workers();
      if (now.empty()) return false;
      for (pid_t w : now)
        if (before.count(w)) return false;
      return true;
    });
  }

 private:
  std::string pid_file_;
  pid_t pid_ = -1;
};

// What nginx answers on / (empty if it does not).
std::string get(int port) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(1s);
  client.set_read_timeout(2s);
  auto res = client.Get("/");
  return res && res->status == 200 ? res->body : std::string();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cli_nginx)

BOOST_AUTO_TEST_CASE(nginx_reloads_accepted_pairs_and_keeps_serving_when_a_pair_is_refused) {
  BOOST_REQUIRE_MESSAGE(!kNginx.empty() && ::access(kNginx.c_str(), X_OK) == 0,
                        "nginx was not found when this build was configured (\""
                            << kNginx << "\"): install it (ci/bootstrap does) and run cmake again");
  const int port = free_port();
  KubeletVolume vol({{"nginx.conf", nginx_conf(1, port)}, {"greeting.conf", greeting_conf(1, "hello v1")}});
  TempDir prefix;
  Nginx nginx(prefix.path(), vol.key("nginx.conf"), vol.scratch("nginx.stderr"));
  BOOST_REQUIRE_MESSAGE(eventually([&] { return get(port) == "hello v1\n"; }),
                        "nginx did not start: " << read_text_file(vol.scratch("nginx.stderr")));

  CliProcess cli(kCli,
                 {"watch", "--dir", vol.dir(), "--log-format", "json", "--validate-cmd",
                  kNginx + " -t -q -p " + prefix.path() + " -e stderr -c \"$HOTRELOAD_DIR/nginx.conf\"",
                  "--signal", "HUP", "--pid-file", nginx.pid_file()},
                 vol.scratch("stderr"));
  BOOST_REQUIRE(cli.wait_event("loaded", vol.dir()));

  // An accepted publish reaches nginx: both keys changed together, validated, then SIGHUP.
  auto v1_workers = nginx.workers();
  BOOST_REQUIRE(!v1_workers.empty());
  vol.publish({{"nginx.conf", nginx_conf(2, port)}, {"greeting.conf", greeting_conf(2, "hello v2")}});
  auto reloaded = cli.wait_event("reloaded", vol.dir());
  BOOST_REQUIRE(reloaded);
  BOOST_TEST((*reloaded)["changed"] == nlohmann::json::array({"greeting.conf", "nginx.conf"}));
  BOOST_REQUIRE_MESSAGE(nginx.wait_replaced(v1_workers), "nginx did not reload its workers");
  BOOST_TEST(get(port) == "hello v2\n");

  // A torn pair (nginx.conf v3 with greeting.conf v2) fails `nginx -t`: refused, no signal,
  // and nginx keeps serving v2.
  vol.publish({{"nginx.conf", nginx_conf(3, port)}, {"greeting.conf", greeting_conf(2, "hello v2")}});
  auto rejected = cli.wait_event("rejected", vol.dir());
  BOOST_REQUIRE(rejected);
  std::string why = (*rejected)["error"];
  BOOST_TEST(contains(why, "unknown \"greeting_v3\" variable"), why);
  BOOST_TEST(get(port) == "hello v2\n");

  // The next good pair is accepted and served. Actions run in order, so had the refused
  // publish signalled nginx, that signal would have come first, and nginx would have
  // logged the broken configuration it tried to load.
  auto v2_workers = nginx.workers();
  vol.publish({{"nginx.conf", nginx_conf(4, port)}, {"greeting.conf", greeting_conf(4, "hello v4")}});
  BOOST_REQUIRE(cli.wait_event("reloaded", vol.dir()));
  BOOST_REQUIRE_MESSAGE(nginx.wait_replaced(v2_workers), "nginx did not reload its workers");
  BOOST_TEST(get(port) == "hello v4\n");
  BOOST_TEST(nginx.running());
  const std::string nginx_said = read_text_file(vol.scratch("nginx.stderr"));
  BOOST_TEST(!contains(nginx_said, "greeting_v3"), nginx_said);
  BOOST_TEST(!contains(nginx_said, "[emerg]"), nginx_said);

  BOOST_TEST(cli.stop() == 0);
  for (const std::string& line : cli.lines()) BOOST_TEST(!contains(line, "action_failed"), line);
}

BOOST_AUTO_TEST_SUITE_END()

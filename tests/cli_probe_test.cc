// `hotreload probe` on real volumes — tmpfs, a bindfs (FUSE) mount, a single-file bind
// mount like a Kubernetes subPath — and the example programs as validators.
#include <sys/mount.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>

#include "cli_test_support.h"

using namespace hotreload;
using namespace hotreload::test;
using namespace std::chrono_literals;

namespace {

constexpr long kTmpfsMagic = 0x01021994;

std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

nlohmann::json probe_json(const std::string& path, const std::string& stderr_file) {
  auto r = run_to_exit(kCli, {"probe", "--json", path}, stderr_file);
  BOOST_REQUIRE_MESSAGE(r.exit_status == 0, "probe failed: " << r.err);
  return nlohmann::json::parse(r.out);
}

bool have_program(const std::string& name) {
  for (const char* dir : {"/usr/bin", "/bin", "/usr/local/bin", "/usr/sbin"})
    if (::access((std::string(dir) + "/" + name).c_str(), X_OK) == 0) return true;
  return false;
}

// A tmpfs directory: /dev/shm where it is one, else a fresh tmpfs mount (root only).
class TmpfsDir {
 public:
  TmpfsDir() {
    struct ::statfs fs;
    if (::statfs("/dev/shm", &fs) == 0 && fs.f_type == kTmpfsMagic) {
      char pattern[] = "/dev/shm/hotreload-probe-test-XXXXXX";
      if (::mkdtemp(pattern)) path_ = pattern;
      return;
    }
    if (::mount("tmpfs", base_.path().c_str(), "tmpfs", 0, "size=4m") == 0) {
      mounted_ = true;
      path_ = base_.path();
    } else {
      why_not_ = std::string("/dev/shm is not tmpfs and mounting one failed: ") + std::strerror(errno);
    }
  }
  ~TmpfsDir() {
    if (mounted_) ::umount2(base_.path().c_str(), MNT_DETACH);
    else if (!path_.empty()) std::filesystem::remove_all(path_);
  }
  const std::string& path() const { return path_; }
  const std::string& why_not() const { return why_not_; }

 private:
  TempDir base_;
  std::string path_, why_not_;
  bool mounted_ = false;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(cli_probe)

BOOST_AUTO_TEST_CASE(probe_on_tmpfs_sees_every_event_and_recommends_events) {
  TmpfsDir tmpfs;
  if (tmpfs.path().empty()) {
    BOOST_TEST_MESSAGE("cli_probe: no tmpfs to probe (" << tmpfs.why_not() << "); tmpfs case NOT RUN");
    return;
  }
  write_file(tmpfs.path() + "/app.yaml", "a: 1\n");
  auto before = entries(tmpfs.path());
  TempDir logs;
  auto j = probe_json(tmpfs.path(), logs / "stderr");
  BOOST_TEST(j["filesystem"] == "tmpfs");
  BOOST_TEST(j["statfs_magic"] == "0x1021994");
  BOOST_TEST(j["misses_remote_changes"] == false);
  BOOST_TEST(j["inotify"]["tested"] == true);
  BOOST_TEST(j["inotify"]["create"] == true);
  BOOST_TEST(j["inotify"]["close_write"] == true);
  BOOST_TEST(j["inotify"]["rename"] == true);
  BOOST_TEST(j["inotify"]["remove"] == true);
  BOOST_TEST(j["recommended_mode"] == "events");
  BOOST_TEST(j["stat_samples"] == 1001);
  BOOST_TEST(j["stat_median_ns"].get<int64_t>() > 0);
  BOOST_TEST(j["single_file_mounts"].empty());
  BOOST_TEST(entries(tmpfs.path()) == before, "probe left files behind");
  BOOST_TEST_MESSAGE("cli_probe tmpfs: stat median " << j["stat_median_ns"] << " ns, mtime step "
                                                     << j["mtime_step_ns"] << " ns");

  // The table names the same things for people.
  auto table = run_to_exit(kCli, {"probe", tmpfs.path() + "/app.yaml"}, logs / "stderr");
  BOOST_TEST(table.exit_status == 0);
  BOOST_TEST(contains(table.out, "tmpfs (statfs f_type 0x1021994)"));
  BOOST_TEST(contains(table.out, "--mode events"));
  BOOST_TEST(entries(tmpfs.path()) == before);
}

BOOST_AUTO_TEST_CASE(probe_on_a_bindfs_mount_recommends_polling) {
  std::string why_not;
  if (::geteuid() != 0) why_not = "not root";
  else if (::access("/dev/fuse", R_OK | W_OK) != 0) why_not = "/dev/fuse is missing";
  else if (!have_program("bindfs")) why_not = "bindfs is not installed (ci/bootstrap installs it)";
  if (!why_not.empty()) {
    BOOST_TEST_MESSAGE("cli_probe: bindfs case NOT RUN: " << why_not);
    return;
  }
  TempDir source, mount_point, logs;
  write_file(source / "app.yaml", "a: 1\n");
  auto mounted = run_to_exit("/usr/bin/bindfs", {source.path(), mount_point.path()}, logs / "bindfs");
  if (mounted.exit_status != 0) {
    BOOST_TEST_MESSAGE("cli_probe: bindfs case NOT RUN: bindfs failed: " << mounted.err);
    return;
  }
  struct Unmount {
    std::string at;
    ~Unmount() { ::umount2(at.c_str(), MNT_DETACH); }
  } unmount{mount_point.path()};
  auto j = probe_json(mount_point.path(), logs / "stderr");
  BOOST_TEST(j["filesystem"] == "fuse");
  BOOST_TEST(j["misses_remote_changes"] == true);
  BOOST_TEST(j["recommended_mode"] == "poll");
  BOOST_TEST(j["recommended_interval_ms"].get<int>() >= 1000);
  BOOST_TEST(contains(j["recommendation_reason"], "fuse volumes do not report changes made elsewhere"));
  BOOST_TEST(entries(mount_point.path()) == (std::vector<std::string>{"app.yaml"}));
  BOOST_TEST_MESSAGE("cli_probe bindfs: stat median " << j["stat_median_ns"] << " ns, inotify all="
                                                      << j["inotify"]["all"]);

  // watch --mode auto picks polling there too, and its first line, `loaded`, says so and
  // why (issue 14 §5: a `mode` line came before `loaded`).
  CliProcess cli(kCli, {"watch", "--log-format", "json", "--poll-interval", "100ms", mount_point / "app.yaml"},
                 logs / "watch-stderr");
  BOOST_REQUIRE(cli.wait_line([](const std::string&) { return true; }));
  auto first = nlohmann::json::parse(cli.lines().front());
  BOOST_TEST(first["event"] == "loaded");
  BOOST_TEST(first["mode"] == "poll");
  BOOST_TEST(contains(first["reason"], "fuse"));
  // A change made beside the mount (the "remote" side) is found by polling.
  write_file(source / "app.yaml", "a: 2\n");
  BOOST_REQUIRE(cli.wait_event("reloaded"));
  BOOST_TEST(cli.stop() == 0);
}

// The NFS stand-in (harness/nfs_like_fs.cc): no events for changes made on the "server"
// side, attributes cached for a second as an NFS client's actimeo caches them, and ESTALE
// on demand. probe recommends polling; watch finds a same-size rewrite made underneath
// within the poll interval plus the attribute cache, reports ESTALE as a read error that
// keeps the last good content, and reloads once the server answers again.
BOOST_AUTO_TEST_CASE(the_nfs_like_mount_is_polled_and_survives_estale) {
  const std::string daemon = HOTRELOAD_NFS_LIKE_PATH;
  BOOST_REQUIRE_MESSAGE(!daemon.empty(), "nfs_like was not built: install libfuse3-dev (ci/bootstrap)");
  if (::geteuid() != 0 || ::access("/dev/fuse", R_OK | W_OK) != 0) {
    BOOST_TEST_MESSAGE("cli_probe: nfs_like case NOT RUN: needs root and /dev/fuse");
    return;
  }
  TempDir source, mount_point, logs;
  const std::string control = logs / "control";
  write_file(source / "app.yaml", "a: 1\n");
  auto mounted = run_to_exit(daemon, {"--attr-timeout", "1", "--control", control,
                                      source.path(), mount_point.path()}, logs / "daemon");
  BOOST_REQUIRE_MESSAGE(mounted.exit_status == 0, "nfs_like failed: " << mounted.err);
  struct Unmount {
    std::string at;
    ~Unmount() { ::umount2(at.c_str(), MNT_DETACH); }
  } unmount{mount_point.path()};
  auto set_mode = [&](const std::string& mode) {
    write_file(control + ".new", mode + "\n");
    BOOST_REQUIRE(std::rename((control + ".new").c_str(), control.c_str()) == 0);
    BOOST_REQUIRE(eventually([&] {
      auto lines = file_lines(control + ".state");
      return !lines.empty() && lines.front().rfind(mode, 0) == 0;
    }));
  };

  auto j = probe_json(mount_point.path(), logs / "stderr");
  BOOST_TEST(j["filesystem"] == "fuse");
  BOOST_TEST(j["misses_remote_changes"] == true);
  BOOST_TEST(j["recommended_mode"] == "poll");

  CliProcess cli(kCli, {"watch", "--log-format", "json", "--poll-interval", "100ms",
                        mount_point / "app.yaml"}, logs / "watch-stderr");
  BOOST_REQUIRE(cli.wait_event("loaded"));
  auto began = std::chrono::steady_clock::now();
  write_file(source / "app.yaml", "a: 2\n");  // the same size: only the mtime tells
  BOOST_REQUIRE(cli.wait_event("reloaded"));
  auto took = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - began);
  BOOST_TEST_MESSAGE("cli_probe nfs_like: a same-size rewrite underneath reloaded after "
                     << took.count() << " ms (poll 100 ms, attribute cache 1 s)");

  set_mode("stale");
  auto failed = cli.wait_event("read_error");
  BOOST_REQUIRE(failed);
  BOOST_TEST(contains((*failed)["error"], "Stale file handle"), failed->dump());
  write_file(source / "app.yaml", "a: 3\n");
  set_mode("ok");
  auto back = cli.wait_event("reloaded");
  BOOST_REQUIRE(back);
  BOOST_TEST((*back)["hash"] == Digest::of("a: 3\n").hex());
  BOOST_TEST(cli.stop() == 0);
}

BOOST_AUTO_TEST_CASE(a_single_file_bind_mount_is_found_and_warned_about) {
  TempDir dir, logs;
  write_file(dir / "source.yaml", "a: 1\n");
  write_file(dir / "app.yaml", "");  // the mount point, as the kubelet creates it
  if (::mount((dir / "source.yaml").c_str(), (dir / "app.yaml").c_str(), nullptr, MS_BIND,
              nullptr) != 0) {
    BOOST_TEST_MESSAGE("cli_probe: subPath case NOT RUN: bind mount failed ("
                       << std::strerror(errno) << "; needs root and CAP_SYS_ADMIN)");
    return;
  }
  struct Unmount {
    std::string at;
    ~Unmount() { ::umount2(at.c_str(), MNT_DETACH); }
  } unmount{dir / "app.yaml"};
  auto j = probe_json(dir / "app.yaml", logs / "stderr");
  BOOST_REQUIRE(j["single_file_mounts"].size() == 1u);
  BOOST_TEST(j["single_file_mounts"][0]["path"] == dir / "app.yaml");
  BOOST_TEST(contains(j["recommendation_reason"], "will never update"));
  // A directory probe lists the mounted file among its entries.
  j = probe_json(dir.path(), logs / "stderr");
  BOOST_REQUIRE(j["single_file_mounts"].size() == 1u);

  CliProcess cli(kCli, {"watch", "--log-format", "json", dir / "app.yaml"}, logs / "watch-stderr");
  BOOST_REQUIRE(cli.wait_event("loaded"));
  BOOST_TEST(cli.stop() == 0);
  std::string err = cli.stderr_text();
  BOOST_TEST(contains(err, "WARNING"));
  BOOST_TEST(contains(err, "single-file bind mount"));
  BOOST_TEST(contains(err, "subPath"));
}

BOOST_AUTO_TEST_CASE(a_path_that_does_not_exist_exits_3) {
  TempDir logs;
  auto r = run_to_exit(kCli, {"probe", logs / "absent"}, logs / "stderr");
  BOOST_TEST(r.exit_status == 3);
  BOOST_TEST(contains(r.err, "No such file or directory"));
}

BOOST_AUTO_TEST_SUITE_END()

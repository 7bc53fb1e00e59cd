// `hotreload watch --dir` end to end: the real binary on kubelet-style volumes (published
// by the kubelet's AtomicWriter model) and on plain directories, checked through its JSON
// and text logs, its validator's private copy, its actions and /metrics.
#include <unistd.h>

#include <filesystem>

#include <boost/test/unit_test.hpp>

#include "cli_http.h"
#include "cli_test_support.h"
#include "hotreload/digest.h"
#include "hotreload/snapshot.h"

using namespace hotreload;
using namespace hotreload::test;
using namespace std::chrono_literals;

namespace {

// The hash a snapshot of these keys has (the volume's whole content).
std::string snapshot_sha(const std::map<std::string, std::string>& keys) {
  std::map<std::string, SnapshotKey, std::less<>> entries;
  for (const auto& [key, content] : keys) entries.emplace(key, SnapshotKey{content, Digest::of(content)});
  return snapshot_hash(entries).hex();
}

nlohmann::json keys(std::initializer_list<const char*> names) {
  nlohmann::json a = nlohmann::json::array();
  for (const char* n : names) a.push_back(n);
  return a;
}

// The number of inotify descriptors a process holds.
int inotify_fds(pid_t pid) {
  int n = 0;
  for (const auto& fd : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    std::error_code ec;
    n += std::filesystem::read_symlink(fd.path(), ec).string() == "anon_inode:inotify";
  }
  return n;
}

// `env TMPDIR=dir hotreload watch ARGS...`: the validator's copies are made in dir.
std::vector<std::string> with_tmpdir(const std::string& dir, std::vector<std::string> args) {
  args.insert(args.begin(), {"TMPDIR=" + dir, kCli});
  return args;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cli_volume)

BOOST_AUTO_TEST_CASE(a_dir_is_one_snapshot_and_its_lines_name_the_keys) {
  KubeletVolume vol({{"app.yaml", "a: 1\n"}, {"limits.json", "{\"max\": 1}"}});
  CliProcess cli(kCli, {"watch", "--dir", vol.dir(), "--log-format", "json"}, vol.scratch("stderr"));

  auto loaded = cli.wait_event("loaded", vol.dir());
  BOOST_REQUIRE(loaded);
  BOOST_TEST((*loaded)["volume"] == vol.dir());
  BOOST_TEST((*loaded)["hash"] == snapshot_sha({{"app.yaml", "a: 1\n"}, {"limits.json", "{\"max\": 1}"}}));
  BOOST_TEST((*loaded)["keys"] == 2);
  BOOST_TEST((*loaded)["added"] == keys({"app.yaml", "limits.json"}));
  BOOST_TEST((*loaded)["changed"] == keys({}));
  BOOST_TEST((*loaded)["mode"] == "events");

  // Two keys of one publish: one reload, never two.
  vol.publish({{"app.yaml", "a: 2\n"}, {"limits.json", "{\"max\": 2}"}, {"extra.yaml", "x: 1\n"}});
  auto reloaded = cli.wait_event("reloaded", vol.dir());
  BOOST_REQUIRE(reloaded);
  BOOST_TEST((*reloaded)["keys"] == 3);
  BOOST_TEST((*reloaded)["added"] == keys({"extra.yaml"}));
  BOOST_TEST((*reloaded)["changed"] == keys({"app.yaml", "limits.json"}));
  BOOST_TEST((*reloaded)["removed"] == keys({}));
  BOOST_TEST((*reloaded)["reloads"] == 1);

  // One invalid key refuses the whole publish, and the refusal names it.
  vol.publish({{"app.yaml", "a: 3\n"}, {"limits.json", "{\"max\": "}});
  auto rejected = cli.wait_event("rejected", vol.dir());
  BOOST_REQUIRE(rejected);
  BOOST_TEST((*rejected)["level"] == "warn");
  std::string why = (*rejected)["error"];
  BOOST_TEST(why.starts_with("limits.json: invalid JSON"), why);
  BOOST_TEST((*rejected)["changed"] == keys({"app.yaml", "limits.json"}));
  BOOST_TEST((*rejected)["removed"] == keys({"extra.yaml"}));

  vol.publish({{"app.yaml", "a: 3\n"}, {"limits.json", "{\"max\": 3}"}});
  reloaded = cli.wait_event("reloaded", vol.dir());
  BOOST_REQUIRE(reloaded);
  // Against the active snapshot (the refused one never was): extra.yaml goes now.
  BOOST_TEST((*reloaded)["removed"] == keys({"extra.yaml"}));
  BOOST_TEST((*reloaded)["reloads"] == 2);
  BOOST_TEST((*reloaded)["errors"] == 1);

  BOOST_TEST(cli.stop() == 0);
  auto stopped = nlohmann::json::parse(cli.lines().back());
  BOOST_TEST(stopped["event"] == "stopped");
  BOOST_TEST(stopped["path"] == vol.dir());
  BOOST_TEST(stopped["volume"] == vol.dir());
  BOOST_TEST(stopped["hash"] == snapshot_sha({{"app.yaml", "a: 3\n"}, {"limits.json", "{\"max\": 3}"}}));
  for (const std::string& line : cli.lines()) {
    auto j = nlohmann::json::parse(line);
    for (const char* field : {"ts", "level", "event", "path", "volume"})
      BOOST_TEST(j.contains(field), "missing " << field << " in " << line);
  }
}

BOOST_AUTO_TEST_CASE(dirs_and_files_share_one_hub_and_the_text_log_says_volume_and_keys) {
  KubeletVolume vol({{"app.yaml", "a: 1\n"}, {"b.conf", "b1"}});
  KubeletVolume other({{"c.conf", "c1"}});
  CliProcess cli(kCli,
                 {"watch", "--volume-dir", vol.dir(), vol.key("app.yaml"), "--dir", other.dir()},
                 vol.scratch("stderr"));
  auto has = [](std::initializer_list<std::string> parts) {
    return [parts](const std::string& line) {
      for (const auto& p : parts)
        if (!contains(line, p)) return false;
      return true;
    };
  };
  BOOST_REQUIRE(cli.wait_line(has({"event=loaded", "path=" + vol.key("app.yaml"), "volume=" + vol.dir()})));
  BOOST_REQUIRE(cli.wait_line(has({"event=loaded", "path=" + vol.dir() + " ", "keys=2 added=app.yaml,b.conf"})));
  BOOST_REQUIRE(cli.wait_line(has({"event=loaded", "path=" + other.dir() + " ", "keys=1 added=c.conf"})));
  BOOST_TEST(inotify_fds(cli.pid()) == 1);

  vol.publish({{"app.yaml", "a: 1\n"}, {"b.conf", "b2"}});
  auto line = cli.wait_line(has({"event=reloaded", "path=" + vol.dir() + " "}));
  BOOST_REQUIRE(line);
  BOOST_TEST(contains(*line, " keys=2 changed=b.conf"), *line);
  BOOST_TEST(!contains(*line, "volume="), *line);  // the volume is the path itself
  BOOST_TEST(cli.stop() == 0);
  // The file's content did not change: no reload for it.
  for (const auto& l : cli.lines())
    BOOST_TEST(!(contains(l, "event=reloaded") && contains(l, "path=" + vol.key("app.yaml"))), l);
  int stopped = 0;
  for (const auto& l : cli.lines()) stopped += contains(l, "event=stopped");
  BOOST_TEST(stopped == 3);
}

BOOST_AUTO_TEST_CASE(the_validator_checks_the_new_keys_together_in_a_copy_removed_afterwards) {
  // a and b are a pair: they must change together, as nginx.conf and the file it includes.
  KubeletVolume vol({{"a.conf", "v1"}, {"b.conf", "v1"}});
  TempDir tmp;
  const std::string copies = vol.scratch("copies");
  CliProcess cli(
      "/usr/bin/env",
      with_tmpdir(tmp.path(),
                  {"watch", "--dir", vol.dir(), "--log-format", "json", "--validate-cmd",
                   "echo \"$HOTRELOAD_DIR\" >> " + copies + "; "
                   "[ -z \"$(cat)\" ] || { echo 'stdin is not empty' >&2; exit 1; }; "
                   "[ \"$HOTRELOAD_PATH\" = " + vol.dir() + " ] || { echo 'wrong HOTRELOAD_PATH' >&2; exit 1; }; "
                   "a=$(cat \"$HOTRELOAD_DIR/a.conf\") b=$(cat \"$HOTRELOAD_DIR/b.conf\"); "
                   "[ \"$a\" = \"$b\" ] || { echo \"a.conf is $a but b.conf is $b\" >&2; exit 1; }"}),
      vol.scratch("stderr"));
  BOOST_REQUIRE(cli.wait_event("loaded", vol.dir()));
  vol.publish({{"a.conf", "v2"}, {"b.conf", "v2"}});
  BOOST_REQUIRE(cli.wait_event("reloaded", vol.dir()));
  vol.publish({{"a.conf", "v3"}, {"b.conf", "v2"}});
  auto rejected = cli.wait_event("rejected", vol.dir());
  BOOST_REQUIRE(rejected);
  BOOST_TEST((*rejected)["error"] == "a.conf is v3 but b.conf is v2");
  // The decision is logged after the validator returned: its copy is gone by then.
  BOOST_TEST(std::filesystem::is_empty(tmp.path()));
  auto seen = file_lines(copies);
  BOOST_REQUIRE(seen.size() == 3u);
  for (const std::string& copy : seen) {
    BOOST_TEST(copy.starts_with(tmp.path() + "/hotreload-snapshot-"), copy);
    BOOST_TEST(!std::filesystem::exists(copy), copy);
  }
  BOOST_TEST(cli.stop() == 0);
}

BOOST_AUTO_TEST_CASE(a_validator_over_its_time_leaves_no_copy_behind) {
  KubeletVolume vol({{"a.conf", "fast"}});
  TempDir tmp;
  CliProcess cli("/usr/bin/env",
                 with_tmpdir(tmp.path(), {"watch", "--dir", vol.dir(), "--log-format", "json",
                                          "--validate-timeout", "300ms", "--validate-cmd",
                                          "if grep -q slow \"$HOTRELOAD_DIR/a.conf\"; then sleep 30; fi"}),
                 vol.scratch("stderr"));
  BOOST_REQUIRE(cli.wait_event("loaded", vol.dir()));
  vol.publish({{"a.conf", "slow"}});
  auto rejected = cli.wait_event("rejected", vol.dir());
  BOOST_REQUIRE(rejected);
  BOOST_TEST(contains((*rejected)["error"], "timed out after 300ms"));
  BOOST_TEST(std::filesystem::is_empty(tmp.path()));
  vol.publish({{"a.conf", "fast again"}});
  BOOST_REQUIRE(cli.wait_event("reloaded", vol.dir()));
  BOOST_TEST(cli.stop() == 0);
}

BOOST_AUTO_TEST_CASE(actions_metrics_and_webhook_of_a_dir_carry_the_snapshot_and_its_keys) {
  ReloadEndpoint endpoint(/*failures_first=*/0);
  KubeletVolume vol({{"app.yaml", "a: 1\n"}, {"b.yaml", "b: 1\n"}});
  const std::string env = vol.scratch("env");
  int port = free_port();
  CliProcess cli(kCli,
                 {"watch", "--dir", vol.dir(), "--log-format", "json", "--exec",
                  "printf '%s|%s|%s|%s|%s|%s|%s\\n' \"$HOTRELOAD_PATH\" \"$HOTRELOAD_DIR\" "
                  "\"$HOTRELOAD_PREVIOUS_HASH\" \"$HOTRELOAD_HASH\" \"$HOTRELOAD_ADDED\" "
                  "\"$HOTRELOAD_CHANGED\" \"$HOTRELOAD_REMOVED\" >> " + env,
                  "--webhook", endpoint.url(), "--metrics-listen",
                  "127.0.0.1:" + std::to_string(port)},
                 vol.scratch("stderr"));
  BOOST_REQUIRE(cli.wait_event("loaded", vol.dir()));
  const std::string h1 = snapshot_sha({{"app.yaml", "a: 1\n"}, {"b.yaml", "b: 1\n"}});
  const std::string h2 = snapshot_sha({{"app.yaml", "a: 2\n"}, {"c.yaml", "c: 1\n"}, {"d.yaml", "d: 1\n"}});
  vol.publish({{"app.yaml", "a: 2\n"}, {"c.yaml", "c: 1\n"}, {"d.yaml", "d: 1\n"}});
  BOOST_REQUIRE(cli.wait_event("reloaded", vol.dir()));
  BOOST_REQUIRE(eventually([&] { return !endpoint.bodies().empty(); }));
  BOOST_REQUIRE(eventually([&] { return file_lines(env).size() >= 2; }));  // HOTRELOAD_ADDED holds two lines

  BOOST_TEST(read_text_file(env) == vol.dir() + "|" + vol.dir() + "|" + h1 + "|" + h2 +
                                        "|c.yaml\nd.yaml|app.yaml|b.yaml\n");
  auto body = nlohmann::json::parse(endpoint.bodies().front());
  BOOST_TEST(body["path"] == vol.dir());
  BOOST_TEST(body["volume"] == vol.dir());
  BOOST_TEST(body["hash"] == h2);
  BOOST_TEST(body["previous_hash"] == h1);
  BOOST_TEST(body["added"] == keys({"c.yaml", "d.yaml"}));
  BOOST_TEST(body["changed"] == keys({"app.yaml"}));
  BOOST_TEST(body["removed"] == keys({"b.yaml"}));

  // The endpoint holds the body, and the script has written, before the tool has seen
  // either action end and counted it.
  std::map<std::string, std::string> labels{{"path", vol.dir()}, {"volume", vol.dir()}};
  std::vector<PromSample> s;
  BOOST_REQUIRE(eventually([&] {
    s = scrape(port);
    for (const char* action : {"webhook", "exec"}) {
      auto runs = prom_value(s, "hotreload_action_runs_total",
                             {{"path", vol.dir()}, {"volume", vol.dir()}, {"action", action}});
      if (!runs || *runs < 1) return false;
    }
    return true;
  }));
  BOOST_TEST(*prom_value(s, "hotreload_snapshot_keys", labels) == 3);
  BOOST_TEST(*prom_value(s, "hotreload_success_total", labels) == 2);
  BOOST_TEST(*prom_value(s, "hotreload_content_hash_info",
                         {{"path", vol.dir()}, {"volume", vol.dir()}, {"hash", h2}}) == 1);
  BOOST_TEST(*prom_value(s, "hotreload_action_runs_total",
                         {{"path", vol.dir()}, {"volume", vol.dir()}, {"action", "webhook"}}) == 1);
  BOOST_TEST(*prom_value(s, "hotreload_action_runs_total",
                         {{"path", vol.dir()}, {"volume", vol.dir()}, {"action", "exec"}}) == 1);
  BOOST_TEST(cli.stop() == 0);
}

BOOST_AUTO_TEST_CASE(a_plain_directory_is_chosen_from_by_globs_depth_and_hidden_names) {
  TempDir dir;
  std::filesystem::create_directory(dir / "sub");
  write_file(dir / "app.yaml", "a: 1\n");
  write_file(dir / "skip.yaml", "s: 1\n");
  write_file(dir / "notes.txt", "not a key\n");
  write_file(dir / ".hidden.yaml", "h: 1\n");
  write_file(dir / "sub/deep.yaml", "d: 1\n");
  TempDir scratch;
  CliProcess cli(kCli,
                 {"watch", "--dir", dir.path(), "--log-format", "json", "--include", "*.yaml",
                  "--exclude", "skip*", "--recursive"},
                 scratch / "stderr");
  auto loaded = cli.wait_event("loaded", dir.path());
  BOOST_REQUIRE(loaded);
  BOOST_TEST((*loaded)["added"] == keys({"app.yaml", "sub/deep.yaml"}));
  // An editor's save: a hidden temporary file (not a key) renamed over the key.
  write_file(dir / "sub/.deep.yaml.swp", "d: 2\n");
  std::filesystem::rename(dir / "sub/.deep.yaml.swp", dir / "sub/deep.yaml");
  auto reloaded = cli.wait_event("reloaded", dir.path());
  BOOST_REQUIRE(reloaded);
  BOOST_TEST((*reloaded)["changed"] == keys({"sub/deep.yaml"}));
  BOOST_TEST((*reloaded)["keys"] == 2);
  BOOST_TEST(cli.stop() == 0);

  CliProcess hidden(kCli, {"watch", "--dir", dir.path(), "--log-format", "json", "--hidden",
                           "--include", "*.yaml"},
                    scratch / "stderr2");
  loaded = hidden.wait_event("loaded", dir.path());
  BOOST_REQUIRE(loaded);
  BOOST_TEST((*loaded)["added"] == keys({".hidden.yaml", "app.yaml", "skip.yaml"}));  // not sub/
  BOOST_TEST(hidden.stop() == 0);
}

BOOST_AUTO_TEST_CASE(a_dir_that_cannot_be_loaded_at_start_exits_3_and_bad_flags_exit_2) {
  TempDir dir;
  write_file(dir / "file", "x");
  auto missing = run_to_exit(kCli, {"watch", "--dir", dir / "absent"}, dir / "stderr");
  BOOST_TEST(missing.exit_status == 3);
  BOOST_TEST(contains(missing.err, dir / "absent"));
  BOOST_TEST(contains(missing.err, "No such file or directory"));

  auto not_dir = run_to_exit(kCli, {"watch", "--dir", dir / "file"}, dir / "stderr");
  BOOST_TEST(not_dir.exit_status == 3);
  BOOST_TEST(contains(not_dir.err, "Not a directory"), not_dir.err);

  KubeletVolume vol({{"a.yaml", "a: 1\n"}, {"b.yaml", "b: 1\n"}});
  auto too_many = run_to_exit(kCli, {"watch", "--dir", vol.dir(), "--max-keys", "1"}, dir / "stderr");
  BOOST_TEST(too_many.exit_status == 3);
  BOOST_TEST(contains(too_many.err, "more files than the key limit"), too_many.err);
  auto too_large = run_to_exit(kCli, {"watch", "--dir", vol.dir(), "--max-total-size", "8"}, dir / "stderr");
  BOOST_TEST(too_large.exit_status == 3);
  BOOST_TEST(contains(too_large.err, "larger in total than the snapshot limit"), too_large.err);

  write_file(dir / "bad.json", "{");
  auto invalid = run_to_exit(kCli, {"watch", "--dir", dir.path(), "--include", "*.json"}, dir / "stderr");
  BOOST_TEST(invalid.exit_status == 3);
  BOOST_TEST(contains(invalid.err, "bad.json: invalid JSON"), invalid.err);

  auto no_dir = run_to_exit(kCli, {"watch", "--include", "*.yaml", dir / "file"}, dir / "stderr");
  BOOST_TEST(no_dir.exit_status == 2);
  BOOST_TEST(contains(no_dir.err, "which is missing"), no_dir.err);
}

BOOST_AUTO_TEST_SUITE_END()

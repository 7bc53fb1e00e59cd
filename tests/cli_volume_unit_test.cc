// The directory mode's pieces, called directly: --format by extension, the snapshot
// validator and its private copy, the --dir flags, the key lists given to commands, the
// log lines of a snapshot, and the actions of a directory.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include <boost/test/unit_test.hpp>
#include <yaml-cpp/yaml.h>

#include "actions.h"
#include "cli_test_support.h"
#include "event_log.h"
#include "key_changes.h"
#include "snapshot_copy.h"
#include "validator.h"
#include "watch_options.h"

using namespace hotreload;
using namespace hotreload::cli;
using namespace hotreload::test;
using namespace std::chrono_literals;

namespace {

// A snapshot of dir as a first load sees it: every key added.
Snapshot snapshot_of(const std::string& dir, const std::map<std::string, std::string>& keys) {
  Snapshot s;
  s.dir = dir;
  for (const auto& [key, content] : keys) {
    s.keys.emplace(key, SnapshotKey{content, Digest::of(content)});
    s.added.push_back(key);
  }
  s.hash = snapshot_hash(s.keys);
  return s;
}

bool is_empty_dir(const std::string& dir) { return std::filesystem::is_empty(dir); }

std::string read_all(std::FILE* f) {
  std::rewind(f);
  std::string text;
  for (int c; (c = std::fgetc(f)) != EOF;) text.push_back(static_cast<char>(c));
  std::fclose(f);
  return text;
}

template <class T>
std::string error_of(const Parsed<T>& p) {
  BOOST_REQUIRE_MESSAGE(std::holds_alternative<std::string>(p), "expected an error");
  return std::get<std::string>(p);
}

template <class T>
const T& value_of(const Parsed<T>& p) {
  if (auto* why = std::get_if<std::string>(&p)) BOOST_FAIL("unexpected error: " << *why);
  return std::get<T>(p);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cli_volume_units)

BOOST_AUTO_TEST_CASE(auto_format_goes_by_extension_and_a_chosen_one_applies_to_every_key) {
  using F = ContentFormat;
  const F a = F::by_extension;
  BOOST_TEST((format_for(a, "app.json") == F::json));
  BOOST_TEST((format_for(a, "/etc/app/app.yaml") == F::yaml));
  BOOST_TEST((format_for(a, "rules/alerts.YML") == F::yaml));
  BOOST_TEST((format_for(a, "nginx.conf") == F::any));
  BOOST_TEST((format_for(a, "Makefile") == F::any));
  BOOST_TEST((format_for(a, ".yaml") == F::any));       // a hidden name, not an extension
  BOOST_TEST((format_for(a, "conf.d/vars") == F::any));  // the dot is the directory's
  BOOST_TEST((format_for(F::json, "nginx.conf") == F::json));
  BOOST_TEST((format_for(F::any, "app.json") == F::any));
}

BOOST_AUTO_TEST_CASE(a_snapshot_is_checked_key_by_key_and_the_refusal_names_the_key) {
  Snapshot s = snapshot_of("/v", {{"app.json", "{\"a\": 1}"}, {"b.yaml", "b: [\n"},
                                  {"nginx.conf", "events {"}});
  Verdict v = Validator({}).validate(s);
  BOOST_TEST(!v.accepted);
  BOOST_TEST(v.reason.starts_with("b.yaml: invalid YAML: "), v.reason);
  BOOST_TEST(contains(v.reason, "line 2"));

  s = snapshot_of("/v", {{"app.json", "{\"a\": 1}"}, {"b.yaml", "b: 1\n"}, {"nginx.conf", "{"}});
  BOOST_TEST(Validator({}).validate(s).accepted);  // nginx.conf has no format of its own
  v = Validator({.format = ContentFormat::json}).validate(s);
  BOOST_TEST(v.reason.starts_with("b.yaml: invalid JSON: "), v.reason);
  BOOST_TEST(Validator({.format = ContentFormat::any}).validate(
                 snapshot_of("/v", {{"x.json", "{"}})).accepted);
  // A file keeps its reason as it was: there is only one file to name.
  v = Validator({}).validate("/etc/app/app.json", "{");
  BOOST_TEST(v.reason.starts_with("invalid JSON: "), v.reason);
}

BOOST_AUTO_TEST_CASE(the_validate_command_reads_a_private_read_only_copy_of_the_candidate) {
  TempDir copies, out;
  const std::string report = out / "report";
  Snapshot s = snapshot_of("/etc/app", {{"app.conf", "include rules/a.conf;\n"},
                                        {"rules/a.conf", "rule 1;\n"}});
  // The command reports what it sees; it must not see the live directory (/etc/app).
  Validator v({.format = ContentFormat::any,
               .validate_command =
                   "exec > " + report + " 2>&1; "
                   "printf 'stdin=[%s]\\n' \"$(cat)\"; "
                   "printf 'path=%s\\n' \"$HOTRELOAD_PATH\"; "
                   "printf 'added=%s\\n' \"$HOTRELOAD_ADDED\"; "
                   "printf 'changed=[%s] removed=[%s]\\n' \"$HOTRELOAD_CHANGED\" \"$HOTRELOAD_REMOVED\"; "
                   "case \"$HOTRELOAD_DIR\" in " + copies.path() + "/hotreload-snapshot-*) echo under-tmpdir;; esac; "
                   "cd \"$HOTRELOAD_DIR\" && stat -c '%a %n' . rules app.conf rules/a.conf && "
                   "cat app.conf rules/a.conf; "
                   "if touch new 2>/dev/null; then echo writable; fi",
               .validate_timeout = 10s,
               .copy_parent = copies.path()});
  BOOST_TEST(v.validate(s).accepted);
  std::string expected = "stdin=[]\npath=/etc/app\nadded=app.conf\nrules/a.conf\n"
                         "changed=[] removed=[]\nunder-tmpdir\n"
                         "500 .\n555 rules\n444 app.conf\n444 rules/a.conf\n"
                         "include rules/a.conf;\nrule 1;\n";
  if (::geteuid() == 0) expected += "writable\n";  // root writes regardless of the modes
  BOOST_TEST(read_text_file(report) == expected);
  BOOST_TEST(is_empty_dir(copies.path()), "the copy is left behind");
}

BOOST_AUTO_TEST_CASE(the_copy_is_removed_after_a_refusal_a_timeout_and_changed_modes) {
  TempDir copies, out;
  Snapshot s = snapshot_of("/v", {{"a", "1"}, {"sub/b", "2"}});
  auto validator = [&](std::string command, std::chrono::milliseconds timeout = 10s) {
    return Validator({.format = ContentFormat::any,
                      .validate_command = std::move(command),
                      .validate_timeout = timeout,
                      .copy_parent = copies.path()});
  };
  const std::string seen = out / "seen";
  Verdict refused = validator("echo \"$HOTRELOAD_DIR\" > " + seen +
                              "; echo 'sub/b must be 3' >&2; exit 1")
                        .validate(s);
  BOOST_TEST(refused.reason == "sub/b must be 3");
  BOOST_TEST(file_lines(seen).size() == 1u);
  BOOST_TEST(is_empty_dir(copies.path()));

  Verdict slow = validator("sleep 30", 200ms).validate(s);
  BOOST_TEST(contains(slow.reason, "timed out after 200ms"));
  BOOST_TEST(is_empty_dir(copies.path()));

  // The validator owns the copy's files too: it may take every permission away.
  Verdict locked = validator("chmod 0 \"$HOTRELOAD_DIR/sub\" \"$HOTRELOAD_DIR\"").validate(s);
  BOOST_TEST(locked.accepted);
  BOOST_TEST(is_empty_dir(copies.path()));
}

BOOST_AUTO_TEST_CASE(a_copy_that_cannot_be_made_is_a_refusal_that_says_why) {
  Snapshot s = snapshot_of("/v", {{"a", "1"}});
  Verdict v = Validator({.validate_command = "true", .copy_parent = "/nonexistent/tmp"}).validate(s);
  BOOST_TEST(!v.accepted);
  BOOST_TEST(v.reason ==
             "cannot copy the snapshot for --validate-cmd: cannot make a directory for the copy "
             "(mkdtemp /nonexistent/tmp/hotreload-snapshot-XXXXXX): No such file or directory "
             "(TMPDIR chooses where)");
  // A key that would land outside the copy is refused, and nothing is left behind.
  TempDir copies;
  for (const char* key : {"../escape", "/abs", "a//b", "a/./b"}) {
    auto made = SnapshotCopy::make(snapshot_of("/v", {{key, "x"}}), copies.path());
    BOOST_TEST(contains(error_of(made), "is not a relative path inside the directory"), key);
    BOOST_TEST(is_empty_dir(copies.path()), key);
  }
  auto made = SnapshotCopy::make(snapshot_of("/v", {{"a/b/c", "deep"}}), copies.path());
  auto& copy = *value_of(made);
  BOOST_TEST(read_text_file(copy.dir() + "/a/b/c") == "deep");
  BOOST_TEST(!copy.remove().has_value());
  BOOST_TEST(!copy.remove().has_value());  // idempotent
  BOOST_TEST(is_empty_dir(copies.path()));
}

BOOST_AUTO_TEST_CASE(dir_flags_are_parsed_and_checked) {
  auto c = value_of(parse_watch_arguments(
      {"--dir", "/a", "f.yaml", "--volume-dir=/b", "--include", "*.yaml", "--include",
       "rules/*", "--exclude", "x*", "--recursive", "--hidden", "--max-keys", "5",
       "--max-total-size", "1MiB", "--format", "none"}));
  BOOST_TEST(c.dirs == (std::vector<std::string>{"/a", "/b"}));
  BOOST_TEST(c.paths == (std::vector<std::string>{"f.yaml"}));  // one value per --dir
  BOOST_TEST(c.keys.include == (std::vector<std::string>{"*.yaml", "rules/*"}));
  BOOST_TEST(c.keys.exclude == (std::vector<std::string>{"x*"}));
  BOOST_TEST(c.keys.recursive);
  BOOST_TEST(c.keys.hidden);
  BOOST_TEST(c.keys.keys_max == 5u);
  BOOST_TEST(c.keys.total_size_max == 1u << 20);
  BOOST_TEST((c.validator.format == ContentFormat::any));

  auto defaults = value_of(parse_watch_arguments({"--dir", "/a"}));  // a --dir alone will do
  BOOST_TEST(defaults.paths.empty());
  BOOST_TEST((defaults.validator.format == ContentFormat::by_extension));
  BOOST_TEST(defaults.keys.keys_max == KeySelection{}.keys_max);
  BOOST_TEST(!defaults.keys.recursive);

  auto says = [](std::vector<std::string> args, const std::string& part) {
    std::string why = error_of(parse_watch_arguments(args));
    BOOST_TEST(contains(why, part), why << " lacks: " << part);
  };
  says({"--include", "*.yaml", "a.yaml"}, "choose the keys of a --dir DIR, which is missing");
  says({"--recursive", "a.yaml"}, "which is missing");
  says({"--dir", "/a", "--dir", "/a"}, "--dir /a is given twice");
  says({"--dir", ""}, "needs a directory");
  says({"--dir"}, "needs a value");
  says({"--dir", "/a", "--include", ""}, "needs a pattern");
  says({"--dir", "/a", "--include", "/etc/*.yaml"}, "never matches: keys are paths relative");
  says({"--dir", "/a", "--exclude", "rules/"}, "never matches: patterns match files");
  says({"--dir", "/a", "--max-keys", "0"}, "invalid --max-keys \"0\"");
  says({"--dir", "/a", "--max-total-size", "1MB"}, "unknown unit \"MB\"");
  says({"--dir", "/a", "--format", "xml"}, "expected one of auto, json, yaml, none");
  says({}, "no PATH or --dir DIR to watch");
}

BOOST_AUTO_TEST_CASE(changed_keys_reach_commands_one_per_line) {
  KeyChanges k{{"a.yaml", "rules/b.yaml"}, {"c"}, {}};
  auto env = k.environment();
  BOOST_REQUIRE(env.size() == 3u);
  BOOST_TEST(env[0].first == "HOTRELOAD_ADDED");
  BOOST_TEST(env[0].second == "a.yaml\nrules/b.yaml");
  BOOST_TEST(env[1].second == "c");
  BOOST_TEST(env[2].first == "HOTRELOAD_REMOVED");
  BOOST_TEST(env[2].second == "");
}

BOOST_AUTO_TEST_CASE(a_snapshot_decision_logs_its_volume_and_keys) {
  Snapshot s = snapshot_of("/etc/app", {{"a.yaml", "a"}, {"b.yaml", "b"}, {"c.yaml", "c"}});
  s.added = {"c.yaml"};
  s.changed = {"a.yaml"};
  s.removed = {"old.yaml"};
  Decision reloaded{.kind = DecisionKind::reloaded, .path = "/etc/app", .volume = "/etc/app",
                    .hash = s.hash, .reloads = 1, .snapshot = &s};
  Decision file{.kind = DecisionKind::loaded, .path = "/etc/app/a.yaml", .volume = "/etc/app",
                .hash = Digest::of("a")};

  std::FILE* out = std::tmpfile();
  EventLog json(LogFormat::json, out, stderr);
  json.decision(reloaded);
  json.decision(file);
  json.action_failed("/etc/app", "/etc/app", "exec", "exec exited with status 1", 1);
  json.stopped(Status{.path = "/etc/app", .volume = "/etc/app", .hash = s.hash});
  std::istringstream lines(read_all(out));
  std::vector<nlohmann::json> events;
  for (std::string line; std::getline(lines, line);) events.push_back(nlohmann::json::parse(line));
  BOOST_REQUIRE(events.size() == 4u);
  for (const auto& e : events) BOOST_TEST(e["volume"] == "/etc/app");
  BOOST_TEST(events[0]["keys"] == 3);
  BOOST_TEST(events[0]["added"] == nlohmann::json::array({"c.yaml"}));
  BOOST_TEST(events[0]["changed"] == nlohmann::json::array({"a.yaml"}));
  BOOST_TEST(events[0]["removed"] == nlohmann::json::array({"old.yaml"}));
  BOOST_TEST(events[0]["hash"] == s.hash.hex());
  BOOST_TEST(events[1]["path"] == "/etc/app/a.yaml");
  BOOST_TEST(!events[1].contains("keys"));  // a file has no snapshot

  out = std::tmpfile();
  EventLog text(LogFormat::text, out, stderr);
  text.decision(reloaded);
  text.decision(file);
  std::string written = read_all(out);
  auto nl = written.find('\n');
  std::string dir_line = written.substr(0, nl), file_line = written.substr(nl + 1);
  BOOST_TEST(contains(dir_line, " keys=3 added=c.yaml changed=a.yaml removed=old.yaml"), dir_line);
  BOOST_TEST(!contains(dir_line, "volume="), dir_line);  // it is the path itself
  BOOST_TEST(contains(file_line, " volume=/etc/app"), file_line);
  BOOST_TEST(!contains(file_line, "keys="), file_line);
}

BOOST_AUTO_TEST_CASE(a_directory_action_gets_the_dir_the_hashes_and_the_changed_keys) {
  TempDir out;
  std::FILE* log_out = std::tmpfile();
  EventLog log(LogFormat::json, log_out, stderr);
  ActionConfig config;
  const std::string env = out / "env";
  config.exec_command = "{ printf 'dir=%s path=%s\\n' \"$HOTRELOAD_DIR\" \"$HOTRELOAD_PATH\"; "
                        "printf 'hash=%s previous=%s\\n' \"$HOTRELOAD_HASH\" \"$HOTRELOAD_PREVIOUS_HASH\"; "
                        "printf 'added=[%s] changed=[%s] removed=[%s]\\n' \"$HOTRELOAD_ADDED\" "
                        "\"$HOTRELOAD_CHANGED\" \"$HOTRELOAD_REMOVED\"; "
                        "printf 'file=[%s]\\n' \"${HOTRELOAD_DIR-unset}\"; } >> " + env;
  {
    ActionRunner runner(config, log);
    runner.enqueue({"/etc/app", "h2", "h1", "/etc/app", KeyChanges{{"n1", "n2"}, {"c"}, {"r"}}});
    runner.enqueue({"/etc/app/a.yaml", "h4", "h3", "/etc/app", std::nullopt});
    // Counted once each command has exited: both are done then.
    BOOST_REQUIRE(eventually([&] { return runner.metric_families()[0].samples.size() == 2; }));
    auto families = runner.metric_families();
    auto labels = families[0].samples[0].labels;
    BOOST_TEST((labels == std::vector<std::pair<std::string, std::string>>{
                              {"path", "/etc/app"}, {"volume", "/etc/app"}, {"action", "exec"}}));
  }
  BOOST_TEST(read_text_file(env) ==
             "dir=/etc/app path=/etc/app\nhash=h2 previous=h1\n"
             "added=[n1\nn2] changed=[c] removed=[r]\nfile=[/etc/app]\n"
             // A file's action keeps the variables it always had: no HOTRELOAD_DIR.
             "dir= path=/etc/app/a.yaml\nhash=h4 previous=h3\n"
             "added=[] changed=[] removed=[]\nfile=[unset]\n");
  std::fclose(log_out);
}

// Every sidecar under deploy/ — the kustomize base, its overlays' patches, the nginx
// example — has a command line hotreload accepts, watching one --dir.
BOOST_AUTO_TEST_CASE(every_deployed_sidecar_watches_its_volume_as_a_directory) {
  int sidecars = 0;
  for (const auto& file :
       std::filesystem::recursive_directory_iterator(HOTRELOAD_SOURCE_DIR "/deploy")) {
    if (file.path().extension() != ".yaml" || file.path().filename() == "kustomization.yaml")
      continue;
    for (const YAML::Node& doc : YAML::LoadAllFromFile(file.path())) {
      if (!doc["kind"] || doc["kind"].as<std::string>() != "Deployment") continue;
      for (const auto& container : doc["spec"]["template"]["spec"]["containers"]) {
        auto args = container["args"];
        if (!args || args[0].as<std::string>() != "watch") continue;
        ++sidecars;
        std::vector<std::string> flags;
        for (std::size_t i = 1; i < args.size(); ++i) flags.push_back(args[i].as<std::string>());
        auto parsed = parse_watch_arguments(flags);
        const std::string name = file.path().string();
        auto* why = std::get_if<std::string>(&parsed);
        BOOST_REQUIRE_MESSAGE(!why, name << ": " << (why ? *why : ""));
        BOOST_TEST(std::get<WatchConfig>(parsed).dirs.size() == 1u, name);
        BOOST_TEST(std::get<WatchConfig>(parsed).paths.empty(), name);
      }
    }
  }
  BOOST_TEST(sidecars == 4);  // base, overlays/signal, overlays/webhook, nginx
}

BOOST_AUTO_TEST_SUITE_END()

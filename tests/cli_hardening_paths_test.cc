// Issue 14, sections 4 and 5: paths that name another file than the kernel would open, and
// content and log states that mislead. The real `hotreload` binary end to end, and the
// units (path normalisation, the syntax check, name escaping) where a unit says more.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <thread>

#include <boost/test/unit_test.hpp>

#include "cli_http.h"
#include "cli_test_support.h"
#include "hotreload/decision.h"
#include "hotreload/digest.h"
#include "hotreload/file_watcher.h"
#include "name_text.h"
#include "path_walk.h"
#include "posix/posix_seams.h"
#include "validator.h"

using namespace hotreload;
using namespace hotreload::test;
using namespace std::chrono_literals;

namespace {

std::string sha(const std::string& content) { return Digest::of(content).hex(); }

void write(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}

// Written as editors and the kubelet do: a new file renamed over the old name.
void replace(const std::string& path, const std::string& content) {
  write(path + ".tmp", content);
  BOOST_REQUIRE(::rename((path + ".tmp").c_str(), path.c_str()) == 0);
}

// The exit status of a command line that must end by itself, and its stderr.
std::pair<int, std::string> run_to_exit(const std::vector<std::string>& args,
                                        const std::string& stderr_file) {
  CliProcess cli(kCli, args, stderr_file);
  int status = cli.wait_exit();
  return {status, cli.stderr_text()};
}

// True if text is valid UTF-8 (nlohmann's strict serializer refuses anything else).
bool is_utf8(const std::string& text) {
  try {
    [[maybe_unused]] auto dumped = nlohmann::json(text).dump();
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

// The test's own reading of the documented escaping: "\\" is a backslash, "\xHH" a byte.
std::string unescape_name(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out.push_back(text[i]);
    } else if (text.at(i + 1) == '\\') {
      out.push_back('\\');
      ++i;
    } else {
      BOOST_REQUIRE(text.at(i + 1) == 'x');
      out.push_back(static_cast<char>(std::stoi(text.substr(i + 2, 2), nullptr, 16)));
      i += 3;
    }
  }
  return out;
}

// Every line is one JSON object with ts and level.
void all_json(const std::vector<std::string>& lines, const std::string& where) {
  for (const std::string& line : lines) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    BOOST_TEST(!j.is_discarded(), where << " line is not JSON: " << line);
    if (j.is_discarded()) continue;
    BOOST_TEST(j.contains("ts"), line);
    BOOST_TEST(j.contains("level"), line);
  }
}

// Root reads and lists whatever the modes say: permission cases run the tool as nobody.
std::unique_ptr<CliProcess> start_as_nobody(std::vector<std::string> args,
                                            const std::string& stderr_file) {
  if (::geteuid() != 0) return std::make_unique<CliProcess>(kCli, args, stderr_file);
  args.insert(args.begin(), {"--reuid=nobody", "--regid=nogroup", "--clear-groups", kCli});
  return std::make_unique<CliProcess>("/usr/bin/setpriv", args, stderr_file);
}

std::vector<std::string> command_line(std::initializer_list<std::string> args) { return args; }

}  // namespace

// 4a, 4b: the library's normal form of a path keeps what the kernel needs.
BOOST_AUTO_TEST_SUITE(path_normal_form)

BOOST_AUTO_TEST_CASE(dot_dot_is_left_for_the_walk_to_resolve_after_symlinks) {
  BOOST_TEST(absolute_normal("/a/./b/../c/") == "/a/b/../c");
  BOOST_TEST(absolute_normal("/a//b/.") == "/a/b");
  BOOST_TEST(absolute_normal("/") == "/");
  BOOST_TEST(absolute_normal("/../a/..") == "/a/..");  // the root's parent is the root
  const std::string cwd = std::filesystem::current_path().string();
  BOOST_TEST(absolute_normal("x/y") == cwd + "/x/y");
  // The working directory's path is physical (getcwd): climbing it is safe.
  BOOST_TEST(absolute_normal("../x/../y") == std::filesystem::path(cwd).parent_path().string() + "/x/../y");
}

BOOST_AUTO_TEST_CASE(the_walk_resolves_dot_dot_in_an_absolute_symlink_target_physically) {
  TempDir dir;
  posix::PosixFilesystem fs;
  for (const char* d : {"a", "t", "t/sub", "u"}) ::mkdir((dir / d).c_str(), 0755);
  write(dir / "t/f", "kernel");
  write(dir / "f", "lexical");
  ::symlink((dir / "t/sub").c_str(), (dir / "a/lnk").c_str());
  // /…/a/abs -> /…/a/lnk/../f: the kernel opens <target of lnk>/../f = t/f.
  ::symlink((dir / "a/lnk/../f").c_str(), (dir / "a/abs").c_str());
  PathWalk walk = walk_path(fs, dir / "a/abs");
  BOOST_TEST(walk.error.message() == std::error_code().message());
  BOOST_TEST(walk.file == dir / "t/f");
}

BOOST_AUTO_TEST_CASE(a_file_watcher_refuses_an_empty_path_or_one_ending_in_a_slash) {
  auto callback = [](std::string_view) { return Verdict::accept(); };
  BOOST_CHECK_THROW(FileWatcher("", callback), std::invalid_argument);
  BOOST_CHECK_THROW(FileWatcher("/etc/app/app.yaml/", callback), std::invalid_argument);
  BOOST_CHECK_THROW(FileWatcher("/etc/app/app.yaml/.", callback), std::invalid_argument);
  BOOST_TEST(names_only_a_directory("a/.."));
  BOOST_TEST(!names_only_a_directory("a/..b"));
  BOOST_TEST(!names_only_a_directory("a/.b"));
}

BOOST_AUTO_TEST_SUITE_END()

// 5d: the one escaping of names, byte by byte.
BOOST_AUTO_TEST_SUITE(name_text)

BOOST_AUTO_TEST_CASE(only_backslashes_controls_and_bytes_outside_utf8_change) {
  BOOST_TEST(escape_name("/etc/app/caf\xc3\xa9 \xf0\x9f\x98\x80.yaml") ==
             "/etc/app/caf\xc3\xa9 \xf0\x9f\x98\x80.yaml");  // UTF-8, space: unchanged
  BOOST_TEST(escape_name("a\\b") == "a\\\\b");
  BOOST_TEST(escape_name("caf\xe9") == "caf\\xe9");
  BOOST_TEST(escape_name("tab\tnl\ndel\x7f") == "tab\\x09nl\\x0adel\\x7f");
  BOOST_TEST(escape_name(std::string("nul\0", 4)) == "nul\\x00");
  BOOST_TEST(escape_name("\xc0\xaf") == "\\xc0\\xaf");          // overlong '/'
  BOOST_TEST(escape_name("\xed\xa0\x80") == "\\xed\\xa0\\x80");  // a surrogate
  BOOST_TEST(escape_name("\xf4\x90\x80\x80") == "\\xf4\\x90\\x80\\x80");  // past U+10FFFF
  BOOST_TEST(escape_name("\xe2\x82") == "\\xe2\\x82");          // cut short
  BOOST_TEST(escape_name("\xe2\x82\xac") == "\xe2\x82\xac");     // the euro sign, whole
}

BOOST_AUTO_TEST_CASE(every_name_comes_back_and_is_utf8) {
  std::string every_byte;
  for (int b = 1; b < 256; ++b) every_byte.push_back(static_cast<char>(b));
  for (const std::string& name : {every_byte, std::string("\\xe9"), std::string("\xe9"),
                                  std::string("\\\xe9x\\")}) {
    std::string text = escape_name(name);
    BOOST_TEST(is_utf8(text));
    BOOST_TEST(text.find('\n') == std::string::npos);
    BOOST_TEST(unescape_name(text) == name);
  }
  BOOST_TEST(escape_name("\\xe9") != escape_name("\xe9"));
}

BOOST_AUTO_TEST_CASE(the_library_line_escapes_its_names) {
  Decision d;
  d.kind = DecisionKind::missing;
  d.path = "/cfg/caf\xe9.yaml";
  d.error = std::make_error_code(std::errc::no_such_file_or_directory);
  d.detail = "/cfg/a\\b";
  std::string line = format_decision(d);
  BOOST_TEST(contains(line, "path=/cfg/caf\\xe9.yaml"), line);
  BOOST_TEST(contains(line, "detail=/cfg/a\\\\b"), line);
  BOOST_TEST(is_utf8(line));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cli_hardening_paths)

// 4a: a/lnk/../f.yaml is <target of lnk>/../f.yaml, as cat would read it; the link on the
// way is watched: re-pointed, the path names another file, and that is a reload.
BOOST_AUTO_TEST_CASE(dot_dot_after_a_symlink_is_the_file_the_kernel_opens) {
  TempDir dir;
  for (const char* d : {"a", "t", "t/sub", "u", "u/sub"}) ::mkdir((dir / d).c_str(), 0755);
  write(dir / "a/f.yaml", "which: lexical\n");
  write(dir / "t/f.yaml", "which: kernel\n");
  write(dir / "u/f.yaml", "which: relinked\n");
  BOOST_REQUIRE(::symlink("../t/sub", (dir / "a/lnk").c_str()) == 0);
  const std::string given = dir / "a/lnk/../f.yaml";
  CliProcess cli(kCli, {"watch", "--log-format", "json", given}, dir / "stderr");
  auto loaded = cli.wait_event("loaded");
  BOOST_REQUIRE_MESSAGE(loaded, cli.stderr_text());
  BOOST_TEST((*loaded)["hash"] == sha("which: kernel\n"));
  BOOST_TEST((*loaded)["path"] == given);

  BOOST_REQUIRE(::symlink("../u/sub", (dir / "a/lnk.new").c_str()) == 0);
  BOOST_REQUIRE(::rename((dir / "a/lnk.new").c_str(), (dir / "a/lnk").c_str()) == 0);
  auto reloaded = cli.wait_event("reloaded");
  BOOST_REQUIRE(reloaded);
  BOOST_TEST((*reloaded)["hash"] == sha("which: relinked\n"));
  BOOST_TEST(cli.stop() == 0);
}

// 4b: `cat f1/` fails with ENOTDIR; a PATH ending in '/' never names a file.
BOOST_AUTO_TEST_CASE(a_path_with_a_trailing_slash_is_refused) {
  TempDir dir;
  write(dir / "f1", "a: 1\n");
  for (const std::string& given : {dir / "f1/", dir / "f1/.", dir / "f1//", dir / "f1/.."}) {
    auto [status, err] = run_to_exit({"watch", given}, dir / "stderr");
    BOOST_TEST(status == 2, given);
    BOOST_TEST(contains(err, "names a directory, never a file"), err);
  }
  auto [probed, why] = run_to_exit({"probe", dir / "f1/"}, dir / "stderr");
  BOOST_TEST(probed == 3);  // as stat(2) says: not the file's directory
  BOOST_TEST(contains(why, "Not a directory"), why);
  // A directory may be written with its slash.
  ::mkdir((dir / "d").c_str(), 0755);
  write(dir / "d/k.yaml", "k: 1\n");
  CliProcess cli(kCli, {"watch", "--log-format", "json", "--dir", dir / "d/"}, dir / "stderr2");
  auto loaded = cli.wait_event("loaded");
  BOOST_REQUIRE_MESSAGE(loaded, cli.stderr_text());
  BOOST_TEST((*loaded)["path"] == dir / "d");
  BOOST_TEST(cli.stop() == 0);
}

// 4c: two spellings of one path would be two watches logged, exported and acted on as one.
BOOST_AUTO_TEST_CASE(one_path_under_two_spellings_is_refused) {
  TempDir dir;
  write(dir / "f.yaml", "a: 1\n");
  ::mkdir((dir / "d").c_str(), 0755);
  write(dir / "d/k.yaml", "k: 1\n");
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::string cwd_relative =
      std::filesystem::relative(dir / "f.yaml", std::filesystem::current_path()).string();
  for (const Case& c : std::vector<Case>{
           {{"watch", dir / "f.yaml", dir / "./f.yaml"}, "same file"},
           {{"watch", dir / "f.yaml", dir.path() + "//f.yaml"}, "same file"},
           {{"watch", dir / "f.yaml", cwd_relative}, "same file"},
           {{"watch", "--dir", dir / "d", "--dir", dir / "d/"}, "same directory"},
           {{"watch", "--dir", dir / "d", "--dir", dir / "d/."}, "same directory"},
       }) {
    auto [status, err] = run_to_exit(c.args, dir / "stderr");
    BOOST_TEST(status == 2, c.args.back());
    BOOST_TEST(contains(err, c.says), err);
  }
}

// 4d: an empty argument is a bad command line, not an internal error.
BOOST_AUTO_TEST_CASE(an_empty_path_is_a_bad_command_line) {
  TempDir dir;
  for (const auto& args : {command_line({"watch", ""}), command_line({"watch", "--dir", ""}),
                           command_line({"probe", ""})}) {
    auto [status, err] = run_to_exit(args, dir / "stderr");
    BOOST_TEST(status == 2, args.front() << " " << args.back());
    BOOST_TEST(!contains(err, "internal error"), err);
  }
}

// 5b: `at` says where the walk stopped, also when that is the watched path itself.
BOOST_AUTO_TEST_CASE(read_error_and_missing_lines_always_say_at) {
  TempDir dir;
  const std::string path = dir / "app.json";
  write(path, "{\"v\": 1}\n");
  CliProcess cli(kCli, {"watch", "--log-format", "json", "--max-size", "64", path},
                 dir / "stderr");
  BOOST_REQUIRE(cli.wait_event("loaded", path));
  auto expect = [&](const std::string& event, const std::string& errno_name) {
    auto line = cli.wait_event(event, path);
    BOOST_REQUIRE_MESSAGE(line, "no " << event << " line for " << errno_name);
    BOOST_TEST((*line)["errno"] == errno_name);
    BOOST_TEST(line->contains("at"), line->dump());
    BOOST_TEST(line->value("at", "") == path);
  };
  BOOST_REQUIRE(::unlink(path.c_str()) == 0);
  expect("missing", "ENOENT");
  BOOST_REQUIRE(::mkdir(path.c_str(), 0755) == 0);
  expect("read_error", "EISDIR");
  BOOST_REQUIRE(::rmdir(path.c_str()) == 0);
  BOOST_REQUIRE(::symlink("app.json", path.c_str()) == 0);  // a loop
  expect("read_error", "ELOOP");
  BOOST_REQUIRE(::unlink(path.c_str()) == 0);
  replace(path, std::string(100, ' ') + "{}");
  expect("read_error", "EFBIG");
  BOOST_TEST(cli.stop() == 0);
}

// 5b, EACCES: root reads any file, so the tool runs as nobody.
BOOST_AUTO_TEST_CASE(an_unreadable_file_says_at) {
  TempDir dir;
  ::chmod(dir.path().c_str(), 0755);
  const std::string path = dir / "app.json";
  write(path, "{\"v\": 1}\n");
  ::chmod(path.c_str(), 0644);
  auto started = start_as_nobody({"watch", "--log-format", "json", path}, dir / "stderr");
  CliProcess& cli = *started;
  BOOST_REQUIRE_MESSAGE(cli.wait_event("loaded", path), cli.stderr_text());
  BOOST_REQUIRE(::chmod(path.c_str(), 0) == 0);
  auto line = cli.wait_event("read_error", path);
  BOOST_REQUIRE(line);
  BOOST_TEST((*line)["errno"] == "EACCES");
  BOOST_TEST(line->value("at", "") == path);
  BOOST_TEST(cli.stop() == 0);
}

// 5c: with --log-format json, stderr is JSON too: the hub's own lines (inotify refused on
// a directory the user may not list) and slow_callback.
BOOST_AUTO_TEST_CASE(json_mode_writes_only_json_lines_on_both_streams) {
  TempDir dir;
  const std::string sub = dir / "locked";
  ::mkdir(sub.c_str(), 0755);
  const std::string path = sub + "/app.json";
  write(path, "{\"v\": 1}\n");
  ::chmod(dir.path().c_str(), 0755);
  ::chmod(path.c_str(), 0644);
  // Searchable but not readable: the file is read, inotify_add_watch is refused (EACCES).
  ::chmod(sub.c_str(), 0311);
  auto started = start_as_nobody({"watch", "--log-format", "json", "--mode", "events",
                                  "--validate-cmd", "sleep 1.2", path},
                                 dir / "stderr");
  CliProcess& cli = *started;
  BOOST_REQUIRE_MESSAGE(cli.wait_event("loaded", path), cli.stderr_text());
  BOOST_TEST(cli.stop() == 0);
  const std::string err = cli.stderr_text();
  BOOST_TEST(contains(err, "inotify_unavailable"), err);
  BOOST_TEST(contains(err, "slow_callback"), err);
  all_json(cli.lines(), "stdout");
  all_json(file_lines(dir / "stderr"), "stderr");
  for (const std::string& line : file_lines(dir / "stderr")) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !contains(line, "inotify_unavailable")) continue;
    BOOST_TEST(j.value("event", "") == "inotify_unavailable", line);
    BOOST_TEST(j.value("level", "") == "warn", line);
    BOOST_TEST(j.value("errno", "") == "EACCES", line);
  }
}

// 5c: the reason the tool stops is a JSON line too.
BOOST_AUTO_TEST_CASE(json_mode_says_why_it_cannot_start_in_json) {
  TempDir dir;
  const std::string missing = dir / "absent.yaml";
  auto [status, err] = run_to_exit({"watch", "--log-format", "json", missing}, dir / "stderr");
  BOOST_TEST(status == 3);
  BOOST_TEST(!err.empty());
  all_json(file_lines(dir / "stderr"), "stderr");
  auto j = nlohmann::json::parse(file_lines(dir / "stderr").at(0), nullptr, false);
  BOOST_TEST(j.value("level", "") == "error");
  BOOST_TEST(contains(j.value("message", ""), "cannot load " + missing), err);
}

// 5d: names that are not UTF-8 are written losslessly, the same way in the JSON log, the
// webhook and /metrics, and two names never collide.
BOOST_AUTO_TEST_CASE(names_that_are_not_utf8_are_escaped_the_same_way_everywhere) {
  TempDir dir;
  const std::string latin1 = dir / "caf\xe9.json";              // é in Latin-1: not UTF-8
  const std::string replacement = dir / "caf\xef\xbf\xbd.json";  // U+FFFD itself
  const std::string backslash = dir / "caf\\xe9.json";           // the escape's own text
  for (const auto& p : {latin1, replacement, backslash}) write(p, "{\"v\": 1}\n");
  ReloadEndpoint endpoint(0);
  int port = free_port();
  CliProcess cli(kCli,
                 {"watch", "--log-format", "json", "--webhook", endpoint.url(), "--metrics-listen",
                  "127.0.0.1:" + std::to_string(port), latin1, replacement, backslash},
                 dir / "stderr");
  const std::string latin1_text = dir / "caf\\xe9.json";
  const std::string backslash_text = dir / "caf\\\\xe9.json";
  std::set<std::string> logged;
  for (int i = 0; i < 3; ++i) {
    auto loaded = cli.wait_event("loaded");
    BOOST_REQUIRE_MESSAGE(loaded, cli.stderr_text());
    logged.insert((*loaded)["path"].get<std::string>());
  }
  BOOST_TEST(logged == (std::set<std::string>{latin1_text, replacement, backslash_text}));
  for (const std::string& name : logged) BOOST_TEST(unescape_name(name).size() > 0);
  BOOST_TEST(unescape_name(latin1_text) == latin1);
  BOOST_TEST(unescape_name(backslash_text) == backslash);

  replace(latin1, "{\"v\": 2}\n");
  BOOST_REQUIRE(eventually([&] { return !endpoint.bodies().empty(); }));
  auto body = endpoint.bodies().front();
  BOOST_TEST(is_utf8(body), body);
  auto posted = nlohmann::json::parse(body);
  BOOST_TEST(posted["path"] == latin1_text);
  BOOST_TEST(posted["volume"] == dir.path());

  httplib::Client client("127.0.0.1", port);
  auto res = client.Get("/metrics");
  BOOST_REQUIRE(res);
  BOOST_TEST(is_utf8(res->body));
  auto samples = parse_prometheus_text(res->body);
  for (const auto& name : {latin1_text, replacement, backslash_text})
    BOOST_TEST(prom_value(samples, "hotreload_success_total", {{"path", name}}).has_value(), name);
  BOOST_TEST(cli.stop() == 0);
  all_json(cli.lines(), "stdout");

  // The text log writes the same text.
  CliProcess text(kCli, {"watch", latin1}, dir / "stderr-text");
  auto line = text.wait_line([](const std::string& l) { return contains(l, "event=loaded"); });
  BOOST_REQUIRE(line);
  BOOST_TEST(contains(*line, "path=" + latin1_text), *line);
  BOOST_TEST(is_utf8(*line), *line);
  BOOST_TEST(text.stop() == 0);
}

// 5e: a /proc file reports size 0 and holds text: say so, not "kept changing".
BOOST_AUTO_TEST_CASE(a_proc_file_is_refused_for_what_it_is) {
  TempDir dir;
  auto [status, err] = run_to_exit({"watch", "--format", "none", "/proc/version"}, dir / "stderr");
  BOOST_TEST(status == 3);
  BOOST_TEST(!contains(err, "kept changing"), err);
  BOOST_TEST(contains(err, "not a regular file"), err);
  BOOST_TEST(contains(err, "size"), err);
}

BOOST_AUTO_TEST_SUITE_END()

// 5a: the syntax check parses the whole content; a NUL byte is an error at its offset.
BOOST_AUTO_TEST_SUITE(cli_syntax_whole_content)

// 5, at startup: a writer truncates the file and rewrites it in place while the initial
// validation runs, and keeps it open between its two halves for 3 s. The first check after
// `loaded` must not offer the half (valid YAML: only the writer knows it is not done); the
// close is the moment to read. Before the fix the kernel watch was armed after the
// validation, so the writes were never seen and the first check read the half.
BOOST_AUTO_TEST_CASE(half_a_file_rewritten_in_place_at_startup_is_never_offered) {
  TempDir dir;
  const std::string path = dir / "app.yaml";
  std::string whole;
  for (int i = 0; i < 20000; ++i) whole += "key" + std::to_string(i) + ": " + std::to_string(i) + "\n";
  const std::string half = whole.substr(0, whole.size() / 2 + 1);  // ends mid-line: still YAML
  write(path, "v: 1\n");
  TempDir elsewhere;
  const std::string validating = elsewhere / "validating";
  CliProcess cli(kCli, {"watch", "--log-format", "json", "--format", "yaml", "--validate-cmd",
                        "touch " + validating + "; sleep 1", "--validate-timeout", "1m", path},
                 dir / "stderr");
  BOOST_REQUIRE(eventually([&] { return ::access(validating.c_str(), F_OK) == 0; }));
  int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC);
  BOOST_REQUIRE(fd >= 0);
  BOOST_REQUIRE(::write(fd, half.data(), half.size()) == static_cast<ssize_t>(half.size()));
  auto loaded = cli.wait_event("loaded", path);
  BOOST_REQUIRE(loaded);
  BOOST_TEST((*loaded)["hash"] == sha("v: 1\n"));  // what the look read, before the writer
  std::this_thread::sleep_for(2s);
  const std::string rest = whole.substr(half.size());
  BOOST_REQUIRE(::write(fd, rest.data(), rest.size()) == static_cast<ssize_t>(rest.size()));
  ::close(fd);
  auto reloaded = cli.wait_event("reloaded", path);
  BOOST_REQUIRE(reloaded);
  BOOST_TEST((*reloaded)["hash"] == sha(whole), "the first reload is of " << reloaded->dump());
  for (const std::string& line : cli.lines()) BOOST_TEST(!contains(line, sha(half)), line);
  BOOST_TEST(cli.stop() == 0);
}

BOOST_AUTO_TEST_CASE(a_nul_byte_ends_nothing) {
  using cli::check_syntax;
  using cli::ContentFormat;
  const std::string json("{\"a\":1}\0{{{ garbage", 19);
  auto why = check_syntax(ContentFormat::json, json);
  BOOST_REQUIRE(why.has_value());
  BOOST_TEST(contains(*why, "invalid JSON"), *why);
  BOOST_TEST(contains(*why, "offset 7"), *why);
  const std::string yaml("a: 1\nb: 2\0garbage: [", 20);
  why = check_syntax(ContentFormat::yaml, yaml);
  BOOST_REQUIRE(why.has_value());
  BOOST_TEST(contains(*why, "invalid YAML"), *why);
  BOOST_TEST(contains(*why, "offset 9"), *why);
  BOOST_TEST(contains(*why, "line 2"), *why);
  // Without the NUL, the same bytes are judged by the parser as before.
  BOOST_TEST(!check_syntax(ContentFormat::json, std::string("{\"a\":1}")).has_value());
  BOOST_TEST(!check_syntax(ContentFormat::yaml, std::string("a: 1\nb: 2\n")).has_value());
}

BOOST_AUTO_TEST_SUITE_END()

// Unit tests of the pieces under the watcher: the path walk, the consistent read, the
// inotify record parser, the digest, volume classification and decision formatting.
#include <sys/inotify.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstring>

#include "consistent_read.h"
#include "hotreload/decision.h"
#include "hotreload/digest.h"
#include "hotreload/errors.h"
#include "kept_walk.h"
#include "path_walk.h"
#include "posix/inotify_records.h"
#include "posix/posix_seams.h"
#include "posix_tree.h"
#include "test_support.h"
#include "volume_kind.h"
#include "writers.h"

using namespace hotreload;
using hotreload::test::TempDir;
using hotreload::test::write_file;

BOOST_AUTO_TEST_SUITE(path_walk_suite)

// KeptWalk against the Signature it keeps: every link's path and target as walked, the
// file, and same() exactly when links and attributes are equal, whether a link's path is
// kept relative to the base (in it) or whole (above or below it), and under the root.
BOOST_AUTO_TEST_CASE(a_kept_walk_gives_back_the_walk_it_keeps) {
  const FileStat stat{.dev = 1, .ino = 2, .size = 3, .mtime_ns = 4, .ctime_ns = 5,
                      .type = FileType::regular};
  struct Case {
    std::string base;
    Signature walk;
    std::string file;
  };
  const std::vector<Case> cases{
      {"/cfg",
       {{{"/cfg/key", "..data/key"}, {"/cfg/..data", "..2026_11_28"}}, stat},
       "/cfg/..2026_11_28/key"},
      {"/cfg",
       {{{"/cfg/key", "/etc/key"}, {"/etc/key", "../srv/a/key"}, {"/srv/a/b/c", "x"}}, stat},
       "/srv/x"},
      {"/", {{{"/key", "k2"}, {"/k2", "/cfg/k3"}}, stat}, "/cfg/k3"},
      {"/cfg", {{}, stat}, "/cfg/key"},
      // A path that is base itself, or only begins with base's name, is kept whole.
      {"/cfg/a", {{{"/cfg/a", "../ab"}, {"/cfg/ab", "a/x"}}, stat}, "/cfg/a/x"},
      {"/cfg/a", {{{"/cfg/a/b", "/cfg/ab"}}, stat}, "/cfg/ab"},
      // A file below the last link's target is kept as the rest; these read it back.
      {"/", {{{"/..data", "..2026"}}, stat}, "/..2026/key"},
      {"/cfg", {{{"/cfg/d", "/srv/v1"}}, stat}, "/srv/v1/key"},
      {"/cfg", {{{"/cfg/d", "/srv/v1"}}, stat}, "/srv/v1"},
      {"/cfg", {{{"/cfg/..data", "..2026"}}, stat}, "/cfg/..2026x/key"},
      {"/cfg", {{{"/cfg/..data", "..2026/"}}, stat}, "/cfg/..2026/key"},
      {"/cfg", {{{"/cfg/..data", "sub/..2026"}}, stat}, "/cfg/sub/..2026/sub/..2026/k"},
  };
  for (const Case& c : cases) {
    KeptWalk kept(c.base, c.walk, c.file);
    std::vector<Link> links;
    kept.all_links(c.base, [&](std::string_view path, std::string_view target) {
      links.push_back({std::string(path), std::string(target)});
      return true;
    });
    BOOST_TEST((links == c.walk.links), c.file);
    BOOST_TEST(kept.file(c.base) == c.file);
    BOOST_TEST((kept.stat() == stat));
    BOOST_TEST(kept.has_links() == !c.walk.links.empty());
    BOOST_TEST(kept.same(c.base, c.walk), c.file);
    BOOST_TEST((kept == KeptWalk(c.base, c.walk, c.file)));
    Signature touched = c.walk;
    touched.file.mtime_ns += 1;
    BOOST_TEST(!kept.same(c.base, touched));
    for (std::size_t i = 0; i < c.walk.links.size(); ++i) {
      Signature moved = c.walk;
      moved.links[i].target += "x";
      BOOST_TEST(!kept.same(c.base, moved));
      Signature elsewhere = c.walk;  // the same name, one directory down
      elsewhere.links[i].path = parent_of(elsewhere.links[i].path) + "/sub/" +
                                name_of(elsewhere.links[i].path);
      BOOST_TEST(!kept.same(c.base, elsewhere));
    }
    Signature shorter = c.walk;
    if (!shorter.links.empty()) shorter.links.pop_back();
    else shorter.links.push_back({"/cfg/key", "x"});
    BOOST_TEST(!kept.same(c.base, shorter));
  }
  // Stops at the first link f refuses.
  KeptWalk kept(cases[0].base, cases[0].walk, cases[0].file);
  int seen = 0;
  BOOST_TEST(!kept.all_links("/cfg", [&](std::string_view, std::string_view) { return ++seen > 5; }));
  BOOST_TEST(seen == 1);
}

BOOST_AUTO_TEST_CASE(kubelet_volume_resolves_through_both_links) {
  TempDir dir;
  harness::PosixTree tree;
  harness::KubeletWriter writer(dir.path());
  BOOST_REQUIRE(!apply_all(tree, writer.plan(tree, {{"key", "v1"}})));
  posix::PosixFilesystem fs;

  PathWalk walk = walk_path(fs, dir / "key");
  BOOST_REQUIRE(!walk.error);
  std::string ts = *tree.read_link(dir / "..data");
  BOOST_TEST(walk.file == dir / (ts + "/key"));
  BOOST_REQUIRE_EQUAL(walk.signature.links.size(), 2u);
  BOOST_TEST(walk.signature.links[0].path == dir / "key");
  BOOST_TEST(walk.signature.links[0].target == "..data/key");
  BOOST_TEST(walk.signature.links[1].path == dir / "..data");
  BOOST_TEST(walk.signature.links[1].target == ts);
  std::vector<Interest> expected{
      {dir.path(), "key"}, {dir.path(), "..data"}, {dir.path(), ts}, {dir / ts, "key"}};
  BOOST_TEST((walk.interests == expected));
}

BOOST_AUTO_TEST_CASE(an_update_changes_the_signature) {
  TempDir dir;
  harness::PosixTree tree;
  harness::KubeletWriter writer(dir.path());
  BOOST_REQUIRE(!apply_all(tree, writer.plan(tree, {{"key", "same"}})));
  posix::PosixFilesystem fs;
  Signature before = walk_path(fs, dir / "key").signature;
  BOOST_REQUIRE(!apply_all(tree, writer.plan(tree, {{"key", "same"}})));
  BOOST_TEST(!(walk_path(fs, dir / "key").signature == before));
}

BOOST_AUTO_TEST_CASE(failures_name_the_cause_and_where) {
  TempDir dir;
  posix::PosixFilesystem fs;
  ::mkdir((dir / "sub").c_str(), 0755);
  ::symlink("loop-b", (dir / "loop-a").c_str());
  ::symlink("loop-a", (dir / "loop-b").c_str());
  ::symlink("nowhere", (dir / "dangling").c_str());

  BOOST_TEST(walk_path(fs, dir / "absent").error == std::errc::no_such_file_or_directory);
  BOOST_TEST(walk_path(fs, dir / "sub").error == std::errc::is_a_directory);
  BOOST_TEST(walk_path(fs, dir / "loop-a").error == std::errc::too_many_symbolic_link_levels);
  PathWalk dangling = walk_path(fs, dir / "dangling");
  BOOST_TEST(dangling.error == std::errc::no_such_file_or_directory);
  BOOST_TEST(dangling.error_path == dir / "nowhere");
  // The dangling link and its missing target are both interests: fixing either is seen.
  std::vector<Interest> expected{{dir.path(), "dangling"}, {dir.path(), "nowhere"}};
  BOOST_TEST((dangling.interests == expected));
}

BOOST_AUTO_TEST_CASE(a_missing_directory_moves_the_interest_to_the_nearest_ancestor) {
  TempDir dir;
  posix::PosixFilesystem fs;
  PathWalk walk = walk_path(fs, dir / "volume/inner/key");
  BOOST_TEST(walk.error == std::errc::no_such_file_or_directory);
  std::vector<Interest> expected{{dir.path(), "volume"}};
  BOOST_TEST((walk.interests == expected));
}

BOOST_AUTO_TEST_CASE(absolute_and_dotdot_targets) {
  TempDir dir;
  posix::PosixFilesystem fs;
  ::mkdir((dir / "a").c_str(), 0755);
  ::mkdir((dir / "b").c_str(), 0755);
  write_file(dir / "b/real", "x");
  ::symlink("../b/real", (dir / "a/rel").c_str());
  ::symlink((dir / "b/real").c_str(), (dir / "a/abs").c_str());
  BOOST_TEST(walk_path(fs, dir / "a/rel").file == dir / "b/real");
  BOOST_TEST(walk_path(fs, dir / "a/abs").file == dir / "b/real");
}

BOOST_AUTO_TEST_CASE(lexical_helpers) {
  BOOST_TEST(parent_of("/a/b") == "/a");
  BOOST_TEST(parent_of("/a") == "/");
  BOOST_TEST(name_of("/a/b") == "b");
  BOOST_TEST(join_path("/", "a") == "/a");
  BOOST_TEST(join_path("/a", "b") == "/a/b");
  BOOST_TEST(absolute_normal("/a/./b/../c/") == "/a/b/../c");  // b may be a symlink
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(consistent_read_suite)

BOOST_AUTO_TEST_CASE(reads_the_whole_file) {
  TempDir dir;
  posix::PosixFilesystem fs;
  std::string big(200000, 'x');
  write_file(dir / "f", big);
  auto st = fs.lstat(dir / "f");
  auto read = consistent_read(fs, dir / "f", *st, 1 << 20);
  BOOST_REQUIRE(read);
  BOOST_TEST(read->bytes == big);
}

BOOST_AUTO_TEST_CASE(refuses_a_file_over_the_limit) {
  TempDir dir;
  posix::PosixFilesystem fs;
  write_file(dir / "f", std::string(101, 'x'));
  auto st = fs.lstat(dir / "f");
  BOOST_TEST(consistent_read(fs, dir / "f", *st, 100).error() == std::errc::file_too_large);
  BOOST_TEST(consistent_read(fs, dir / "f", *st, 101).ok());
}

BOOST_AUTO_TEST_CASE(a_file_replaced_since_the_walk_is_unstable) {
  TempDir dir;
  posix::PosixFilesystem fs;
  write_file(dir / "f", "one");
  auto st = fs.lstat(dir / "f");
  write_file(dir / "g", "two");
  ::rename((dir / "g").c_str(), (dir / "f").c_str());
  BOOST_TEST(consistent_read(fs, dir / "f", *st, 100).error() == Errc::unstable);
}

BOOST_AUTO_TEST_CASE(does_not_follow_a_symlink_or_open_a_fifo) {
  TempDir dir;
  posix::PosixFilesystem fs;
  write_file(dir / "f", "x");
  ::symlink("f", (dir / "link").c_str());
  ::mkfifo((dir / "fifo").c_str(), 0644);
  auto st = fs.lstat(dir / "f");
  BOOST_TEST(consistent_read(fs, dir / "link", *st, 100).error() ==
             std::errc::too_many_symbolic_link_levels);
  BOOST_TEST(consistent_read(fs, dir / "fifo", *st, 100).error() == Errc::not_regular_file);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(inotify_records_suite)

namespace {
std::string record(int wd, uint32_t mask, const std::string& name, std::size_t padded) {
  struct inotify_event header{};
  header.wd = wd;
  header.mask = mask;
  header.cookie = 7;
  header.len = static_cast<uint32_t>(padded);
  std::string out(reinterpret_cast<const char*>(&header), sizeof header);
  std::string field = name;
  field.resize(padded, '\0');
  return out + field;
}
}  // namespace

BOOST_AUTO_TEST_CASE(parses_consecutive_records) {
  std::string bytes = record(1, IN_MOVED_TO, "..data", 16) + record(2, IN_IGNORED, "", 0);
  std::vector<Event> events;
  BOOST_TEST(!posix::parse_inotify_records({bytes.data(), bytes.size()}, events));
  BOOST_REQUIRE_EQUAL(events.size(), 2u);
  BOOST_TEST(events[0].name == "..data");
  BOOST_TEST(events[0].mask == uint32_t{IN_MOVED_TO});
  BOOST_TEST(events[0].cookie == 7u);
  BOOST_TEST(events[1].wd == 2);
  BOOST_TEST(events[1].name.empty());
}

BOOST_AUTO_TEST_CASE(a_name_that_fills_its_field_has_no_terminator) {
  std::string bytes = record(1, IN_CREATE, "abcdefgh", 8);
  std::vector<Event> events;
  BOOST_TEST(!posix::parse_inotify_records({bytes.data(), bytes.size()}, events));
  BOOST_TEST(events.at(0).name == "abcdefgh");
}

BOOST_AUTO_TEST_CASE(truncated_records_are_reported_not_trusted) {
  std::string whole = record(1, IN_CREATE, "name", 16);
  std::vector<Event> events;
  BOOST_TEST(posix::parse_inotify_records({whole.data(), whole.size() - 1}, events) ==
             std::errc::protocol_error);
  BOOST_TEST(events.empty());
  BOOST_TEST(posix::parse_inotify_records({whole.data(), 5}, events) == std::errc::protocol_error);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(small_pieces_suite)

BOOST_AUTO_TEST_CASE(digest_is_sha256) {
  BOOST_TEST(Digest::of("").hex() ==
             "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  BOOST_TEST(Digest::of("abc").hex() ==
             "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  BOOST_TEST(Digest::of("abc").short_hex() == "ba7816bf8f01");
  // Padding that spills into a second block (56 bytes), and a million bytes.
  BOOST_TEST(Digest::of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq").hex() ==
             "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  BOOST_TEST(Digest::of(std::string(1000000, 'a')).hex() ==
             "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

BOOST_AUTO_TEST_CASE(volumes_that_miss_remote_changes_are_known) {
  BOOST_TEST(classify_volume(0x6969).misses_remote_changes);      // NFS
  BOOST_TEST(classify_volume(0x65735546).misses_remote_changes);  // FUSE
  BOOST_TEST(classify_volume(0xFF534D42).misses_remote_changes);  // CIFS
  BOOST_TEST(!classify_volume(0x01021994).misses_remote_changes); // tmpfs
  BOOST_TEST(!classify_volume(0xEF53).misses_remote_changes);     // ext4
  BOOST_TEST(classify_volume(0x12345678).name == "unknown");
}

BOOST_AUTO_TEST_CASE(decisions_format_as_key_value) {
  Digest h = Digest::of("abc");
  Decision d{.kind = DecisionKind::rejected, .path = "/etc/app/my key", .hash = h,
             .error = make_error_code(Errc::rejected), .detail = "line 3: \"x\" unexpected",
             .reloads = 2, .errors = 1};
  BOOST_TEST(format_decision(d) ==
             "event=rejected path=\"/etc/app/my key\" hash=ba7816bf8f01 error=\"content "
             "rejected\" errno=rejected detail=\"line 3: \\\"x\\\" unexpected\" reloads=2 "
             "errors=1");
  BOOST_TEST(error_name(std::make_error_code(std::errc::permission_denied)) == "EACCES");
}

BOOST_AUTO_TEST_SUITE_END()

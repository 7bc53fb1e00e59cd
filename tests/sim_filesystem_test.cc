// The simulated seams are fakes that must be right: what they do is checked here against
// what the kernel does (path resolution, permissions, timestamps, inotify's events).
#include <sys/inotify.h>

#include <boost/test/unit_test.hpp>

#include "checksummed_content.h"
#include "sim_clock.h"
#include "sim_events.h"
#include "sim_filesystem.h"
#include "writers.h"

namespace hotreload::harness {
namespace {

using namespace std::chrono_literals;
using K = TreeOp::Kind;

struct Sim {
  std::shared_ptr<SimClock> clock = std::make_shared<SimClock>();
  std::shared_ptr<SimFilesystem> fs = std::make_shared<SimFilesystem>(clock);

  void ok(const TreeOp& op) {
    std::error_code ec = fs->apply(op);
    BOOST_TEST_REQUIRE(!ec, to_string(op) << ": " << ec.message());
  }
  std::string read_all(const std::string& path) {
    auto f = fs->open(path);
    BOOST_TEST_REQUIRE(f.ok(), path << ": " << f.error().message());
    std::string out;
    char buf[7];
    for (;;) {
      auto n = (*f)->read(buf);
      BOOST_TEST_REQUIRE(n.ok());
      if (*n == 0) return out;
      out.append(buf, *n);
    }
  }
};

std::string describe(const Event& e) {
  std::string s = std::to_string(e.wd) + ":";
  if (e.mask & IN_CREATE) s += "CREATE";
  if (e.mask & IN_MODIFY) s += "MODIFY";
  if (e.mask & IN_CLOSE_WRITE) s += "CLOSE_WRITE";
  if (e.mask & IN_MOVED_FROM) s += "MOVED_FROM";
  if (e.mask & IN_MOVED_TO) s += "MOVED_TO";
  if (e.mask & IN_DELETE) s += "DELETE";
  if (e.mask & IN_ATTRIB) s += "ATTRIB";
  if (e.mask & IN_DELETE_SELF) s += "DELETE_SELF";
  if (e.mask & IN_MOVE_SELF) s += "MOVE_SELF";
  if (e.mask & IN_IGNORED) s += "IGNORED";
  if (e.mask & IN_Q_OVERFLOW) s += "OVERFLOW";
  if (e.mask & IN_ISDIR) s += "|ISDIR";
  if (!e.name.empty()) s += " " + e.name;
  return s;
}

std::vector<std::string> drain(SimEvents& events) {
  std::vector<Event> batch;
  BOOST_TEST(!events.wait(0ns, batch));
  std::vector<std::string> out;
  for (const Event& e : batch) out.push_back(describe(e));
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sim_clock)

BOOST_AUTO_TEST_CASE(starts_at_a_fixed_epoch_and_moves_only_forward_when_told) {
  SimClock a, b;
  BOOST_TEST((a.now() == b.now()));
  BOOST_TEST((a.wall_now() == SimClock::wall_epoch()));
  a.advance(1500ms);
  BOOST_TEST(std::chrono::duration_cast<std::chrono::milliseconds>(a.elapsed()).count() == 1500);
  a.advance_to(SimClock::steady_epoch());  // the past: ignored
  BOOST_TEST(std::chrono::duration_cast<std::chrono::milliseconds>(a.elapsed()).count() == 1500);
  BOOST_TEST(a.wall_ns() - b.wall_ns() == 1500000000);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(sim_filesystem)

BOOST_AUTO_TEST_CASE(resolves_a_kubelet_volume_as_the_kernel_does) {
  Sim s;
  s.ok({.kind = K::make_dir, .path = "/cfg", .mode = 0755});
  KubeletWriter kubelet("/cfg");
  BOOST_TEST(!apply_all(*s.fs, kubelet.plan(*s.fs, {{"key", "one"}})));
  auto link = s.fs->readlink("/cfg/key");
  BOOST_TEST_REQUIRE(link.ok());
  BOOST_TEST(*link == "..data/key");
  BOOST_TEST(s.read_all("/cfg/..data/key") == "one");  // through a relative dir symlink
  // open() does not follow a symlink in the last component (O_NOFOLLOW): ELOOP.
  BOOST_TEST((s.fs->open("/cfg/key").error() == std::errc::too_many_symbolic_link_levels));
  auto st = s.fs->lstat("/cfg/key");
  BOOST_TEST_REQUIRE(st.ok());
  BOOST_TEST((st->type == FileType::symlink));
  BOOST_TEST(st->dev == SimFilesystem::kDevice);

  BOOST_TEST(!apply_all(*s.fs, kubelet.plan(*s.fs, {{"key", "two!"}})));
  Peek p = s.fs->peek("/cfg/key");
  BOOST_TEST(p.regular);
  BOOST_TEST(p.content == "two!");
  // The old timestamped directory is gone; only ..data's target remains.
  std::vector<std::string> names = s.fs->list("/cfg");
  std::vector<std::string> want = {"..2026_11_26_00_00_00.000000002", "..data", "key"};
  BOOST_TEST(names == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(dot_dot_after_a_symlink_is_the_physical_parent) {
  Sim s;
  s.ok({.kind = K::make_dir, .path = "/a", .mode = 0755});
  s.ok({.kind = K::make_dir, .path = "/a/real", .mode = 0755});
  s.ok({.kind = K::write_file, .path = "/a/f", .content = "in a"});
  s.ok({.kind = K::make_dir, .path = "/b", .mode = 0755});
  s.ok({.kind = K::symlink, .path = "/b/link", .other = "/a/real"});
  BOOST_TEST(s.fs->peek("/b/link/../f").content == "in a");
  s.ok({.kind = K::symlink, .path = "/b/abs", .other = "/a/f"});
  BOOST_TEST(s.fs->peek("/b/abs").content == "in a");
}

BOOST_AUTO_TEST_CASE(a_symlink_loop_is_eloop_after_40_hops_and_41_links_are_too_many) {
  Sim s;
  s.ok({.kind = K::make_dir, .path = "/d", .mode = 0755});
  s.ok({.kind = K::symlink, .path = "/d/self", .other = "self"});
  BOOST_TEST((s.fs->peek("/d/self").error == std::errc::too_many_symbolic_link_levels));
  // A chain of exactly 40 links resolves; 41 does not.
  s.ok({.kind = K::write_file, .path = "/d/target", .content = "end"});
  std::string prev = "target";
  for (int i = 1; i <= 41; ++i) {
    std::string name = "l" + std::to_string(i);
    s.ok({.kind = K::symlink, .path = "/d/" + name, .other = prev});
    prev = name;
  }
  BOOST_TEST(s.fs->peek("/d/l40").content == "end");
  BOOST_TEST((s.fs->peek("/d/l41").error == std::errc::too_many_symbolic_link_levels));
  // A dangling link is ENOENT.
  s.ok({.kind = K::symlink, .path = "/d/dangling", .other = "..missing/x"});
  BOOST_TEST((s.fs->peek("/d/dangling").error == std::errc::no_such_file_or_directory));
}

BOOST_AUTO_TEST_CASE(permissions_bind_the_reader_not_the_writer) {
  Sim s;
  s.ok({.kind = K::make_dir, .path = "/d", .mode = 0755});
  s.ok({.kind = K::write_file, .path = "/d/f", .content = "x", .mode = 0644});
  BOOST_TEST(s.fs->open("/d/f").ok());
  s.ok({.kind = K::chmod, .path = "/d/f", .mode = 0});
  BOOST_TEST((s.fs->open("/d/f").error() == std::errc::permission_denied));
  BOOST_TEST(s.fs->lstat("/d/f").ok());  // stat needs no read permission
  BOOST_TEST(!s.fs->peek("/d/f").readable);
  s.ok({.kind = K::chmod, .path = "/d", .mode = 0700});  // no search for others
  BOOST_TEST((s.fs->lstat("/d/f").error() == std::errc::permission_denied));
  s.fs->set_reader_uid(0);  // root reads anything
  s.ok({.kind = K::chmod, .path = "/d", .mode = 0755});
  BOOST_TEST(s.fs->open("/d/f").ok());
}

BOOST_AUTO_TEST_CASE(inodes_survive_unlink_while_open_and_renames_keep_them) {
  Sim s;
  s.ok({.kind = K::make_dir, .path = "/d", .mode = 0755});
  s.ok({.kind = K::write_file, .path = "/d/f", .content = "old"});
  uint64_t ino = s.fs->inode_of("/d/f");
  auto f = s.fs->open("/d/f");
  BOOST_TEST_REQUIRE(f.ok());
  s.ok({.kind = K::write_file, .path = "/d/tmp", .content = "new"});
  s.ok({.kind = K::rename, .path = "/d/tmp", .other = "/d/f"});
  BOOST_TEST(s.fs->inode_of("/d/f") != ino);
  char buf[8];
  auto n = (*f)->read(buf);
  BOOST_TEST_REQUIRE(n.ok());
  BOOST_TEST(std::string(buf, *n) == "old");  // the open file is the replaced inode
  auto st = (*f)->stat();
  BOOST_TEST(st->ino == ino);
}

BOOST_AUTO_TEST_CASE(rename_and_remove_fail_as_posix_says) {
  Sim s;
  s.ok({.kind = K::make_dir, .path = "/d", .mode = 0755});
  s.ok({.kind = K::make_dir, .path = "/d/sub", .mode = 0755});
  s.ok({.kind = K::write_file, .path = "/d/sub/f", .content = "x"});
  s.ok({.kind = K::write_file, .path = "/d/g", .content = "y"});
  BOOST_TEST((s.fs->apply({.kind = K::remove, .path = "/d/sub"}) == std::errc::directory_not_empty));
  BOOST_TEST((s.fs->apply({.kind = K::rename, .path = "/d/g", .other = "/d/sub"}) ==
              std::errc::is_a_directory));
  BOOST_TEST((s.fs->apply({.kind = K::rename, .path = "/d", .other = "/d/sub/in"}) ==
              std::errc::invalid_argument));
  BOOST_TEST((s.fs->apply({.kind = K::make_dir, .path = "/d/g"}) == std::errc::file_exists));
  BOOST_TEST((s.fs->apply({.kind = K::remove, .path = "/nope"}) ==
              std::errc::no_such_file_or_directory));
  BOOST_TEST(!s.fs->apply({.kind = K::remove_all, .path = "/nope/deeper"}));
  s.ok({.kind = K::remove_all, .path = "/d"});
  BOOST_TEST(!s.fs->exists("/d"));
  BOOST_TEST(s.fs->inode_count() == 1u);  // only the root is left: nothing leaked
}

BOOST_AUTO_TEST_CASE(timestamps_follow_the_clock_at_the_chosen_granularity) {
  Sim s;
  s.fs->set_timestamp_granularity(1s);
  s.ok({.kind = K::make_dir, .path = "/d", .mode = 0755});
  s.clock->advance(300ms);
  s.ok({.kind = K::write_file, .path = "/d/f", .content = "aaaa"});
  auto first = *s.fs->lstat("/d/f");
  s.clock->advance(400ms);  // still within the same second
  s.ok({.kind = K::write_file, .path = "/d/f", .content = "bbbb"});
  auto second = *s.fs->lstat("/d/f");
  BOOST_TEST((first == second));  // same size, same second, same inode: indistinguishable
  BOOST_TEST(first.mtime_ns % 1000000000 == 0);
  s.clock->advance(400ms);
  s.ok({.kind = K::write_file, .path = "/d/f", .content = "cccc"});
  BOOST_TEST(s.fs->lstat("/d/f")->mtime_ns == second.mtime_ns + 1000000000);
  s.fs->set_timestamp_granularity(1ns);
  s.clock->advance(1us);
  s.ok({.kind = K::chmod, .path = "/d/f", .mode = 0600});
  auto after = *s.fs->lstat("/d/f");
  BOOST_TEST(after.ctime_ns > after.mtime_ns);  // chmod moves ctime only
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(sim_filesystem_faults)

BOOST_AUTO_TEST_CASE(injected_errors_hit_the_named_call_and_path_then_stop) {
  Sim s;
  s.ok({.kind = K::make_dir, .path = "/v", .mode = 0755});
  s.ok({.kind = K::write_file, .path = "/v/f", .content = "x"});
  s.ok({.kind = K::write_file, .path = "/other", .content = "y"});
  s.fs->inject_error(FsCall::open, std::make_error_code(std::errc::io_error), "/v", 2);
  BOOST_TEST(s.fs->open("/other").ok());
  BOOST_TEST((s.fs->open("/v/f").error() == std::errc::io_error));
  BOOST_TEST(s.fs->lstat("/v/f").ok());
  BOOST_TEST((s.fs->open("/v/f").error() == std::errc::io_error));
  BOOST_TEST(s.fs->open("/v/f").ok());  // two times, then it stops
  s.fs->inject_error(FsCall::read, errno_code(ESTALE));
  auto f = s.fs->open("/v/f");
  char b[4];
  BOOST_TEST(((*f)->read(b).error() == errno_code(ESTALE)));
  s.fs->clear_faults();
  BOOST_TEST((*f)->read(b).ok());
  BOOST_TEST(s.fs->fault_counts().errors == 3u);
}

BOOST_AUTO_TEST_CASE(short_reads_return_fewer_bytes_but_the_same_content) {
  Sim s;
  s.ok({.kind = K::write_file, .path = "/f", .content = std::string(100, 'z')});
  s.fs->set_short_reads(3);
  auto f = s.fs->open("/f");
  char b[64];
  auto n = (*f)->read(b);
  BOOST_TEST(*n == 3u);
  BOOST_TEST(s.read_all("/f") == std::string(100, 'z'));
}

BOOST_AUTO_TEST_CASE(content_replaced_mid_read_is_seen_by_the_open_file) {
  Sim s;
  std::string a(20, 'a'), b(20, 'b');
  s.ok({.kind = K::write_file, .path = "/f", .content = a});
  s.fs->set_short_reads(5);
  s.fs->on_next_read([&] { s.ok({.kind = K::write_file, .path = "/f", .content = b}); });
  // A reader that does not check gets a mix: the first chunk old, the rest new.
  BOOST_TEST(s.read_all("/f") == std::string(5, 'a') + std::string(15, 'b'));
  BOOST_TEST(s.fs->fault_counts().mid_read_changes == 1u);
}

BOOST_AUTO_TEST_CASE(stale_attributes_are_served_from_a_cache_until_it_expires) {
  Sim s;
  s.ok({.kind = K::write_file, .path = "/f", .content = "one"});
  s.fs->set_attribute_cache(3s);
  auto cached = *s.fs->lstat("/f");
  s.clock->advance(1s);
  s.ok({.kind = K::write_file, .path = "/f", .content = "three"});
  BOOST_TEST((*s.fs->lstat("/f") == cached));  // stale
  BOOST_TEST(s.fs->fault_counts().stale_answers == 1u);
  s.clock->advance(2500ms);
  BOOST_TEST(s.fs->lstat("/f")->size == 5u);  // expired: fresh again
}

BOOST_AUTO_TEST_CASE(a_silent_volume_says_nfs_to_statfs) {
  Sim s;
  BOOST_TEST(*s.fs->filesystem_type("/") == SimFilesystem::kTmpfsMagic);
  s.fs->set_filesystem_type(SimFilesystem::kNfsMagic);
  BOOST_TEST(*s.fs->filesystem_type("/") == 0x6969u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(sim_events)

BOOST_AUTO_TEST_CASE(a_kubelet_update_raises_inotifys_events_in_order) {
  Sim s;
  s.ok({.kind = K::make_dir, .path = "/cfg", .mode = 0755});
  KubeletWriter kubelet("/cfg");
  BOOST_TEST(!apply_all(*s.fs, kubelet.plan(*s.fs, {{"key", "one"}})));
  SimEvents events(*s.fs, s.clock, 1);
  auto wd = events.add_watch("/cfg");
  BOOST_TEST_REQUIRE(wd.ok());
  BOOST_TEST(*events.add_watch("/cfg/.") == *wd);  // same inode, same descriptor
  BOOST_TEST(!apply_all(*s.fs, kubelet.plan(*s.fs, {{"key", "two"}})));
  auto got = drain(events);
  std::string w = std::to_string(*wd) + ":";
  std::vector<std::string> want = {
      w + "CREATE|ISDIR ..2026_11_26_00_00_00.000000002",
      w + "CREATE ..data_tmp",
      w + "MOVED_FROM ..data_tmp",
      w + "MOVED_TO ..data",
      w + "DELETE|ISDIR ..2026_11_26_00_00_00.000000001",
  };
  BOOST_TEST(got == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(rename_halves_share_a_cookie_and_a_removed_dir_says_ignored) {
  Sim s;
  s.ok({.kind = K::make_dir, .path = "/d", .mode = 0755});
  s.ok({.kind = K::make_dir, .path = "/d/sub", .mode = 0755});
  SimEvents events(*s.fs, s.clock, 1);
  int parent = *events.add_watch("/d");
  int sub = *events.add_watch("/d/sub");
  s.ok({.kind = K::write_file, .path = "/d/sub/f", .content = "x"});
  s.ok({.kind = K::rename, .path = "/d/sub/f", .other = "/d/g"});
  std::vector<Event> batch;
  events.wait(0ns, batch);
  BOOST_TEST_REQUIRE(batch.size() == 5u);  // CREATE, MODIFY, CLOSE_WRITE, then the rename
  BOOST_TEST(batch[3].mask == static_cast<uint32_t>(IN_MOVED_FROM));
  BOOST_TEST(batch[4].mask == static_cast<uint32_t>(IN_MOVED_TO));
  BOOST_TEST(batch[3].cookie == batch[4].cookie);
  BOOST_TEST(batch[3].cookie != 0u);
  s.ok({.kind = K::remove_all, .path = "/d/sub"});
  auto got = drain(events);
  // The kernel's order (seen with rm -rf on this machine's Linux 6.18): the directory's own events
  // before its parent's.
  std::vector<std::string> want = {std::to_string(sub) + ":DELETE_SELF",
                                   std::to_string(sub) + ":IGNORED",
                                   std::to_string(parent) + ":DELETE|ISDIR sub"};
  BOOST_TEST(got == want, boost::test_tools::per_element());
  BOOST_TEST(events.watch_count() == 1u);
  s.ok({.kind = K::make_dir, .path = "/d/moved", .mode = 0755});
  int moved = *events.add_watch("/d/moved");
  drain(events);
  s.ok({.kind = K::rename, .path = "/d/moved", .other = "/d/elsewhere"});
  auto renamed = drain(events);
  BOOST_TEST_REQUIRE(renamed.size() == 3u);
  BOOST_TEST(renamed[2] == std::to_string(moved) + ":MOVE_SELF");
  s.ok({.kind = K::chmod, .path = "/d/g", .mode = 0});
  BOOST_TEST(drain(events) == std::vector<std::string>{std::to_string(parent) + ":ATTRIB g"});
}

BOOST_AUTO_TEST_CASE(a_new_file_is_created_written_then_closed_and_writes_in_a_row_coalesce) {
  Sim s;
  s.ok({.kind = K::make_dir, .path = "/d", .mode = 0755});
  SimEvents events(*s.fs, s.clock, 1);
  int wd = *events.add_watch("/d");
  std::string w = std::to_string(wd) + ":";
  BOOST_TEST(!apply_all(*s.fs, plan_in_place_write("/d/f", "abcdef", 3)));
  BOOST_TEST(drain(events) ==
             (std::vector<std::string>{w + "CREATE f", w + "MODIFY f", w + "CLOSE_WRITE f"}));
}

BOOST_AUTO_TEST_CASE(wait_advances_virtual_time_only_as_far_as_a_blocked_thread_would) {
  Sim s;
  s.ok({.kind = K::make_dir, .path = "/d", .mode = 0755});
  SimEvents events(*s.fs, s.clock, 1);
  events.add_watch("/d");
  auto t0 = s.clock->now();
  std::vector<Event> batch;
  events.wait(250ms, batch);
  BOOST_TEST(batch.empty());
  BOOST_TEST((s.clock->now() - t0 == 250ms));
  events.set_delay(100ms);
  s.ok({.kind = K::make_dir, .path = "/d/x", .mode = 0755});
  events.wait(1h, batch);  // returns when the delayed event is due, not after an hour
  BOOST_TEST(batch.size() == 1u);
  BOOST_TEST((s.clock->now() - t0 == 350ms));
  events.wake();
  events.wait(1h, batch);  // woken: returns at once
  BOOST_TEST((s.clock->now() - t0 == 350ms));
}

BOOST_AUTO_TEST_CASE(faults_lose_duplicate_overflow_and_silence_events) {
  Sim s;
  s.ok({.kind = K::make_dir, .path = "/d", .mode = 0755});
  SimEvents events(*s.fs, s.clock, 1);
  int wd = *events.add_watch("/d");
  std::string w = std::to_string(wd) + ":";
  events.lose_next(1);
  s.ok({.kind = K::symlink, .path = "/d/a", .other = "x"});
  s.ok({.kind = K::symlink, .path = "/d/b", .other = "x"});
  BOOST_TEST(drain(events) == std::vector<std::string>{w + "CREATE b"});
  events.set_duplicate_per_mille(1000);
  s.ok({.kind = K::remove, .path = "/d/b"});
  BOOST_TEST(drain(events) == (std::vector<std::string>{w + "DELETE b", w + "DELETE b"}));
  events.clear_faults();
  events.set_queue_max(2);
  for (const char* n : {"/d/c", "/d/e", "/d/f", "/d/g"})
    s.ok({.kind = K::symlink, .path = n, .other = "x"});
  BOOST_TEST(drain(events) ==
             (std::vector<std::string>{w + "CREATE c", w + "CREATE e", "-1:OVERFLOW"}));
  events.set_delivers(false);
  s.ok({.kind = K::symlink, .path = "/d/h", .other = "x"});
  BOOST_TEST(drain(events).empty());
  events.fail_add_watch(errno_code(ENOSPC));
  BOOST_TEST((events.add_watch("/").error() == std::errc::no_space_on_device));
  BOOST_TEST(events.fault_counts().lost == 1u);
  BOOST_TEST(events.fault_counts().overflows == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace hotreload::harness

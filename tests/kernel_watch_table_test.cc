// KernelWatchTable on its own: which kernel watches it holds for which interests, which
// owners an event concerns, and when it asks the kernel again. The event source is a
// ledger that hands out descriptors per directory "inode" the test controls.
#include <boost/test/unit_test.hpp>

#include "test_support.h"
#include <map>
#include <set>

#include "kernel_watch_table.h"

using namespace hotreload;

namespace {

// inotify as the table sees it: a descriptor per inode, the same one for the same inode.
// The test moves "inodes" under paths to play renames, removals and recreations.
class LedgerEvents final : public EventSource {
 public:
  Result<int> add_watch(const std::string& path) override {
    ++adds[path];
    if (auto e = errors.find(path); e != errors.end()) return errno_code(e->second);
    auto ino = inode.find(path);
    if (ino == inode.end()) return errno_code(ENOENT);
    auto [it, fresh] = wd_of.try_emplace(ino->second, next_wd);
    if (fresh) ++next_wd;
    live.insert(it->second);
    return it->second;
  }
  void remove_watch(int wd) override {
    removed.push_back(wd);
    live.erase(wd);
    std::erase_if(wd_of, [&](const auto& e) { return e.second == wd; });
  }
  std::error_code wait(std::chrono::nanoseconds, std::vector<Event>&) override { return {}; }
  void wake() override {}

  std::map<std::string, int> inode;   // path -> inode number
  std::map<std::string, int> errors;  // path -> errno add_watch fails with
  std::map<int, int> wd_of;           // inode -> descriptor
  std::set<int> live;
  std::map<std::string, int> adds;
  std::vector<int> removed;
  int next_wd = 1;
};

Interest at(std::string dir, std::string name) { return {std::move(dir), std::move(name)}; }

std::set<uint64_t> concerned(KernelWatchTable& t, Event ev) {
  std::set<uint64_t> owners;
  t.route(ev, [&](uint64_t owner, const std::string&) { owners.insert(owner); });
  return owners;
}

Event named(int wd, uint32_t mask, std::string name) {
  return Event{.wd = wd, .mask = mask, .cookie = 0, .name = std::move(name)};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(kernel_watch_table)

BOOST_AUTO_TEST_CASE(volumes_of_one_directory_share_one_kernel_watch_until_the_last_goes) {
  LedgerEvents ev;
  ev.inode = {{"/cfg", 10}};
  KernelWatchTable t(ev);
  BOOST_TEST(t.arm(1, {at("/cfg", "a.yaml")}).armed_now);
  BOOST_TEST(!t.arm(2, {at("/cfg", "b.yaml")}).armed_now);  // the same directory
  BOOST_TEST(t.kernel_watch_count() == 1u);
  BOOST_TEST(ev.adds["/cfg"] == 1);
  t.drop(1);
  BOOST_TEST(t.kernel_watch_count() == 1u);
  BOOST_TEST(ev.removed.empty());
  t.drop(2);
  BOOST_TEST(t.kernel_watch_count() == 0u);
  BOOST_TEST(ev.removed == std::vector<int>{1});
}

BOOST_AUTO_TEST_CASE(the_same_interests_again_ask_the_kernel_nothing) {
  LedgerEvents ev;
  ev.inode = {{"/cfg", 10}, {"/", 1}};
  KernelWatchTable t(ev);
  std::vector<Interest> wanted{at("/cfg", "..data"), at("/cfg", "key"), at("/", "cfg")};
  t.arm(1, wanted);
  auto again = t.arm(1, wanted);
  BOOST_TEST(!again.armed_now);
  BOOST_TEST(ev.adds["/cfg"] == 1);
  BOOST_TEST(ev.adds["/"] == 1);
  // Other names in the same directories: the table's record changes, the kernel's not.
  t.arm(1, {at("/cfg", "..data"), at("/", "cfg"), at("/", "")});
  BOOST_TEST((t.interests_of(1) == std::vector<Interest>{at("/", ""), at("/", "cfg"),
                                                         at("/cfg", "..data")}));
  BOOST_TEST(ev.adds["/cfg"] == 1);
  BOOST_TEST(ev.adds["/"] == 1);
  BOOST_TEST((concerned(t, named(ev.wd_of[10], IN_CREATE, "key")).empty()));
  BOOST_TEST((concerned(t, named(ev.wd_of[1], IN_CREATE, "other")) == std::set<uint64_t>{1}));
  int root_wd = ev.wd_of[1];
  t.arm(1, {at("/cfg", "..data")});
  BOOST_TEST(ev.removed == std::vector<int>{root_wd});
  BOOST_TEST(t.kernel_watch_count() == 1u);
}

BOOST_AUTO_TEST_CASE(an_event_reaches_the_owners_of_its_name_and_of_the_whole_directory) {
  LedgerEvents ev;
  ev.inode = {{"/cfg", 10}};
  KernelWatchTable t(ev);
  t.arm(1, {at("/cfg", "a.yaml")});
  t.arm(2, {at("/cfg", "b.yaml")});
  t.arm(3, {at("/cfg", "")});  // every name: a plain directory's VolumeWatcher
  BOOST_TEST((concerned(t, named(1, IN_CLOSE_WRITE, "a.yaml")) == std::set<uint64_t>{1, 3}));
  BOOST_TEST((concerned(t, named(1, IN_MOVED_TO, "other")) == std::set<uint64_t>{3}));
  BOOST_TEST((concerned(t, named(1, IN_DELETE_SELF, "")) == std::set<uint64_t>{1, 2, 3}));
  BOOST_TEST(concerned(t, named(99, IN_CREATE, "a.yaml")).empty());  // not ours
}

BOOST_AUTO_TEST_CASE(a_directory_the_kernel_dropped_is_armed_again) {
  LedgerEvents ev;
  ev.inode = {{"/cfg", 10}};
  KernelWatchTable t(ev);
  t.arm(1, {at("/cfg", "a.yaml")});
  // rm -rf /cfg; mkdir /cfg: IN_DELETE_SELF, then IN_IGNORED; a new inode at the path.
  BOOST_TEST(concerned(t, named(1, IN_DELETE_SELF, "")) == std::set<uint64_t>{1});
  ev.inode["/cfg"] = 11;
  BOOST_TEST(concerned(t, named(1, IN_IGNORED, "")) == std::set<uint64_t>{1});
  auto armed = t.arm(1, {at("/cfg", "a.yaml")});
  BOOST_TEST(armed.armed_now);
  BOOST_TEST(ev.adds["/cfg"] == 2);
  BOOST_TEST(t.kernel_watch_count() == 1u);
  // Events on the new descriptor reach the owner.
  BOOST_TEST(concerned(t, named(2, IN_MOVED_TO, "a.yaml")) == std::set<uint64_t>{1});
}

BOOST_AUTO_TEST_CASE(an_ignored_descriptor_alone_is_enough_to_ask_again) {
  LedgerEvents ev;
  ev.inode = {{"/cfg", 10}};
  KernelWatchTable t(ev);
  t.arm(1, {at("/cfg", "a.yaml")});
  ev.inode["/cfg"] = 11;  // unmounted and mounted again: IN_IGNORED only
  concerned(t, named(1, IN_IGNORED, ""));
  BOOST_TEST(t.arm(1, {at("/cfg", "a.yaml")}).armed_now);
  BOOST_TEST(ev.removed.empty());  // the kernel dropped it already
}

BOOST_AUTO_TEST_CASE(a_rename_above_a_directory_makes_it_ask_again_and_release_the_old_inode) {
  LedgerEvents ev;
  ev.inode = {{"/vol", 5}, {"/vol/app", 6}, {"/vol/app/conf.d", 7}};
  KernelWatchTable t(ev);
  t.anchor("/vol/app/conf.d");  // "/" is not there: not watched, not reported
  t.arm(1, {at("/vol/app/conf.d", "x.yaml")});
  BOOST_TEST(t.kernel_watch_count() == 3u);
  int conf_wd = ev.wd_of[7];
  // mv app app.old && mv app.new app: the path now names other inodes.
  ev.inode["/vol/app"] = 16;
  ev.inode["/vol/app/conf.d"] = 17;
  BOOST_TEST(concerned(t, named(ev.wd_of[5], IN_MOVED_FROM | IN_ISDIR, "app")) ==
             std::set<uint64_t>{KernelWatchTable::kAnchors});
  concerned(t, named(ev.wd_of[5], IN_MOVED_TO | IN_ISDIR, "app"));
  auto armed = t.arm(1, {at("/vol/app/conf.d", "x.yaml")});
  t.arm_anchors("/vol/app/conf.d");
  BOOST_TEST(armed.armed_now);
  BOOST_TEST(ev.adds["/vol/app/conf.d"] == 2);
  BOOST_TEST(ev.adds["/vol/app"] == 2);
  BOOST_TEST(ev.adds["/vol"] == 1);  // not below the renamed name: not asked again
  BOOST_TEST(!ev.live.count(conf_wd));  // app.old/conf.d is nobody's business any more
  BOOST_TEST(t.kernel_watch_count() == 3u);
}

BOOST_AUTO_TEST_CASE(a_name_that_only_shares_a_prefix_is_not_below_the_renamed_one) {
  LedgerEvents ev;
  ev.inode = {{"/vol", 5}, {"/vol/app-x", 6}, {"/vol/app.d", 7}};
  KernelWatchTable t(ev);
  t.anchor("/vol/app-x");
  t.arm(1, {at("/vol/app-x", "k"), at("/vol/app.d", "k")});
  concerned(t, named(ev.wd_of[5], IN_MOVED_TO | IN_ISDIR, "app"));
  t.arm(1, {at("/vol/app-x", "k"), at("/vol/app.d", "k")});
  BOOST_TEST(ev.adds["/vol/app-x"] == 1);
  BOOST_TEST(ev.adds["/vol/app.d"] == 1);
}

BOOST_AUTO_TEST_CASE(after_an_overflow_every_directory_is_asked_again) {
  LedgerEvents ev;
  ev.inode = {{"/a", 1}, {"/b", 2}};
  KernelWatchTable t(ev);
  t.arm(1, {at("/a", "k")});
  t.arm(2, {at("/b", "k")});
  ev.inode["/b"] = 3;  // its IN_IGNORED was lost in the overflow
  t.forget_all();
  BOOST_TEST(!t.arm(1, {at("/a", "k")}).armed_now);  // same inode, same descriptor
  BOOST_TEST(t.arm(2, {at("/b", "k")}).armed_now);
  BOOST_TEST(ev.adds["/a"] == 2);
  BOOST_TEST(ev.adds["/b"] == 2);
}

// The directories above cannot be watched, so nothing reports `mv /vol /vol.old && mv
// /vol.new /vol`: only the inode a check saw at the path tells that the watch is on the old
// directory.
BOOST_AUTO_TEST_CASE(a_directory_seen_with_another_inode_is_asked_again) {
  LedgerEvents ev;
  ev.inode = {{"/vol/cfg", 10}};
  KernelWatchTable t(ev);
  BOOST_TEST(t.arm(1, {at("/vol/cfg", "k")}, {{"/vol/cfg", Inode{1, 10}}}).armed_now);
  BOOST_TEST(!t.arm(1, {at("/vol/cfg", "k")}, {{"/vol/cfg", Inode{1, 10}}}).armed_now);
  BOOST_TEST(ev.adds["/vol/cfg"] == 1);  // the same inode: not asked again
  ev.inode["/vol/cfg"] = 11;
  auto armed = t.arm(1, {at("/vol/cfg", "k")}, {{"/vol/cfg", Inode{1, 11}}});
  BOOST_TEST(armed.armed_now);
  BOOST_TEST(ev.adds["/vol/cfg"] == 2);
  BOOST_TEST((ev.removed == std::vector<int>{1}));  // the old directory's watch went
  BOOST_TEST((concerned(t, named(2, IN_CLOSE_WRITE, "k")) == std::set<uint64_t>{1}));
  // A look that saw nothing there (unknown inode) is no reason to ask again.
  BOOST_TEST(!t.arm(1, {at("/vol/cfg", "k")}).armed_now);
  BOOST_TEST(ev.adds["/vol/cfg"] == 2);
}

BOOST_AUTO_TEST_CASE(a_refusal_is_reported_at_every_arm_and_logged_once_per_cause) {
  LedgerEvents ev;
  ev.inode = {{"/cfg", 10}};
  ev.errors = {{"/cfg", ENOSPC}};
  KernelWatchTable t(ev);
  auto armed = t.arm(1, {at("/cfg", "k")});
  BOOST_TEST(armed.refused == std::errc::no_space_on_device);
  BOOST_TEST(!armed.gone);
  BOOST_TEST(t.arm(1, {at("/cfg", "k")}).refused == std::errc::no_space_on_device);
  BOOST_TEST(ev.adds["/cfg"] == 2);  // asked again: the volume decides to poll
  ev.errors.clear();
  armed = t.arm(1, {at("/cfg", "k")});
  BOOST_TEST(!armed.refused);
  BOOST_TEST(armed.armed_now);
  BOOST_TEST(t.first_refusal(errno_code(ENOSPC)));
  BOOST_TEST(!t.first_refusal(errno_code(ENOSPC)));
}

BOOST_AUTO_TEST_CASE(a_directory_gone_before_the_arm_is_reported_as_gone) {
  LedgerEvents ev;
  KernelWatchTable t(ev);
  auto armed = t.arm(1, {at("/cfg", "k")});
  BOOST_TEST(armed.gone == std::errc::no_such_file_or_directory);
  BOOST_TEST(!armed.refused);
  BOOST_TEST(t.kernel_watch_count() == 0u);
}

BOOST_AUTO_TEST_CASE(the_directories_above_volumes_are_watched_once_for_all_of_them) {
  LedgerEvents ev;
  ev.inode = {{"/", 1}, {"/vols", 2}, {"/vols/a", 3}, {"/vols/b", 4}};
  KernelWatchTable t(ev);
  t.anchor("/vols/a");
  t.anchor("/vols/b");
  t.anchor("/vols/b");  // counted: one more volume there
  BOOST_TEST(t.kernel_watch_count() == 2u);  // "/" and "/vols", nothing per volume
  BOOST_TEST(ev.adds["/vols"] == 1);
  BOOST_TEST(t.interests_of(KernelWatchTable::kAnchors).empty());  // no owner's interests
  // Any name in a directory above, and the directory itself, is the anchors' concern:
  // the hub finds the volumes it moves.
  BOOST_TEST((concerned(t, named(ev.wd_of[2], IN_MOVED_FROM, "a")) == std::set<uint64_t>{0}));
  BOOST_TEST((concerned(t, named(ev.wd_of[2], IN_CREATE, "unrelated")) == std::set<uint64_t>{0}));
  BOOST_TEST((concerned(t, named(ev.wd_of[1], IN_DELETE_SELF, "")) == std::set<uint64_t>{0}));
  // Shared with a volume's own interests in the same directory (nested volumes).
  t.arm(7, {at("/vols", "k")});
  BOOST_TEST((concerned(t, named(ev.wd_of[2], IN_CLOSE_WRITE, "k")) == std::set<uint64_t>{0, 7}));
  t.drop(7);
  t.unanchor("/vols/a");
  t.unanchor("/vols/b");
  BOOST_TEST(t.kernel_watch_count() == 2u);  // /vols/b is anchored once more
  t.unanchor("/vols/b");
  BOOST_TEST(t.kernel_watch_count() == 0u);
  BOOST_TEST(ev.live.empty());
}

BOOST_AUTO_TEST_CASE(an_anchor_moved_away_is_armed_again_by_a_volume_below_it) {
  LedgerEvents ev;
  ev.inode = {{"/", 1}, {"/app", 2}, {"/app/cfg", 3}};
  KernelWatchTable t(ev);
  t.anchor("/app/cfg");
  t.arm(1, {at("/app/cfg", "k")});
  BOOST_TEST(t.kernel_watch_count() == 3u);
  // mv /app /app.old && mv /app.new /app: "/app" names another directory now.
  ev.inode["/app"] = 20;
  ev.inode["/app/cfg"] = 30;
  BOOST_TEST((concerned(t, named(ev.wd_of[1], IN_MOVED_TO, "app")) == std::set<uint64_t>{0}));
  BOOST_TEST(!t.arm(1, {at("/app/cfg", "k")}).gone);
  BOOST_TEST(ev.adds["/app/cfg"] == 2);  // the volume's own directory, asked again
  BOOST_TEST(ev.adds["/app"] == 1);      // the anchors wait for the volume to ask
  t.arm_anchors("/app/cfg");
  BOOST_TEST(ev.adds["/app"] == 2);
  BOOST_TEST(ev.adds["/"] == 1);  // not asked again: nothing moved it
  t.arm_anchors("/app/cfg");
  BOOST_TEST(ev.adds["/app"] == 2);  // armed: not asked again
  BOOST_TEST((concerned(t, named(ev.wd_of[20], IN_CREATE, "cfg")) == std::set<uint64_t>{0}));
}

BOOST_AUTO_TEST_CASE(an_anchor_the_kernel_refuses_is_not_asked_again_nor_reported) {
  LedgerEvents ev;
  ev.inode = {{"/", 1}, {"/cfg", 2}};
  ev.errors = {{"/", EACCES}};
  KernelWatchTable t(ev);
  t.anchor("/cfg");
  auto armed = t.arm(1, {at("/cfg", "k")});
  BOOST_TEST(!armed.refused);
  BOOST_TEST(!armed.gone);
  t.arm_anchors("/cfg");
  BOOST_TEST(ev.adds["/"] == 1);
  BOOST_TEST(t.kernel_watch_count() == 1u);
}

BOOST_AUTO_TEST_CASE(one_inode_under_two_paths_is_one_kernel_watch) {
  LedgerEvents ev;
  ev.inode = {{"/cfg/..data", 10}, {"/cfg/..2026", 10}};
  KernelWatchTable t(ev);
  t.arm(1, {at("/cfg/..data", "k")});
  t.arm(2, {at("/cfg/..2026", "k")});
  BOOST_TEST(t.kernel_watch_count() == 1u);
  BOOST_TEST((concerned(t, named(1, IN_CLOSE_WRITE, "k")) == std::set<uint64_t>{1, 2}));
  t.drop(1);
  BOOST_TEST(ev.removed.empty());
  BOOST_TEST(concerned(t, named(1, IN_CLOSE_WRITE, "k")) == std::set<uint64_t>{2});
}

BOOST_AUTO_TEST_SUITE_END()

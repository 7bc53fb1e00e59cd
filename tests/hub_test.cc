// The hub loop on its own, single-threaded over the simulated seams: one check per volume
// per wakeup however many events name it, a bound on timer-driven checks per wakeup,
// watches joining and leaving volumes, and stop() from inside a callback.
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <boost/test/unit_test.hpp>
#include <map>
#include <set>

#include "hotreload/hub.h"
#include "hotreload/volume_watcher.h"
#include "sim_clock.h"
#include "sim_events.h"
#include "sim_filesystem.h"
#include "test_support.h"
#include "writers.h"

using namespace hotreload;
using namespace hotreload::harness;
using namespace std::chrono_literals;
using hotreload::test::CountingFilesystem;

namespace {

struct Bench {
  std::shared_ptr<SimClock> clock = std::make_shared<SimClock>();
  std::shared_ptr<SimFilesystem> sim = std::make_shared<SimFilesystem>(clock);
  std::shared_ptr<CountingFilesystem> fs = std::make_shared<CountingFilesystem>(*sim);
  std::shared_ptr<Hub> hub;
  Options options;

  Bench() {
    auto quiet = std::make_shared<spdlog::logger>("quiet", std::make_shared<spdlog::sinks::null_sink_mt>());
    hub = std::make_shared<Hub>(Seams{fs, std::make_unique<SimEvents>(*sim, clock, 1), clock}, quiet);
    options.logger = quiet;
  }
  void publish(const std::string& dir, const std::map<std::string, std::string>& keys) {
    if (!sim->exists(dir)) sim->apply({.kind = TreeOp::Kind::make_dir, .path = dir, .mode = 0755});
    clock->advance(1ms);
    KubeletWriter kubelet(dir);
    BOOST_REQUIRE(!apply_all(*sim, kubelet.plan(*sim, keys)));
  }
  // Runs the hub through the checks owed now (a few wakeups: a check that arms a new
  // kernel watch asks for another), then until time stands at now + span.
  void run(std::chrono::nanoseconds span = 0ns) {
    SteadyTime until = clock->now() + span;
    for (int i = 0; i < 4; ++i) hub->run_once(clock->now());
    while (clock->now() < until) hub->run_once(until);
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(hub_loop)

BOOST_AUTO_TEST_CASE(a_burst_of_events_is_one_check_of_the_volume) {
  Bench b;
  std::map<std::string, std::string> keys;
  for (int i = 0; i < 10; ++i) keys["k" + std::to_string(i)] = "1";
  b.publish("/cfg", keys);
  std::map<std::string, int> calls;
  std::vector<std::unique_ptr<FileWatcher>> watchers;
  for (const auto& [key, content] : keys) {
    watchers.push_back(std::make_unique<FileWatcher>(
        "/cfg/" + key, [&calls, key = key](std::string_view) {
          ++calls[key];
          return Verdict::accept();
        }, b.options, b.hub));
    watchers.back()->start();
  }
  b.run();  // the checks start() asks for
  BOOST_TEST(b.hub->volume_count() == 1u);
  for (auto& [key, content] : keys) content = "2";
  b.publish("/cfg", keys);  // a dozen events: mkdir, symlink, rename, rm -rf…
  b.fs->readlinks.clear();
  b.hub->run_once(b.clock->now());
  // One wakeup, one check: ..data resolved once for the ten keys, each offered once.
  BOOST_TEST(b.fs->readlinks["/cfg/..data"] == 1);
  for (const auto& [key, content] : keys) BOOST_TEST(calls[key] == 2);
}

BOOST_AUTO_TEST_CASE(timer_checks_per_wakeup_are_bounded_so_events_wait_for_few) {
  Bench b;
  b.options.mode = Mode::poll;
  b.options.poll_interval = 1s;
  std::vector<std::unique_ptr<FileWatcher>> watchers;
  for (int v = 0; v < 300; ++v) {
    std::string dir = "/v" + std::to_string(v);
    b.publish(dir, {{"k", "1"}});
    watchers.push_back(std::make_unique<FileWatcher>(dir + "/k", [](std::string_view) {
      return Verdict::accept();
    }, b.options, b.hub));
    watchers.back()->start();
  }
  b.run();
  b.clock->advance(2s);  // every volume is due
  b.fs->readlinks.clear();
  b.hub->run_once(b.clock->now());
  int checked = 0;
  for (const auto& [path, n] : b.fs->readlinks) checked += path.ends_with("/..data") ? n : 0;
  BOOST_TEST(checked == 64);  // kTimerChecksPerWakeup
  b.hub->run_once(b.clock->now());
  checked = 0;
  for (const auto& [path, n] : b.fs->readlinks) checked += path.ends_with("/..data") ? n : 0;
  BOOST_TEST(checked == 128);
}

BOOST_AUTO_TEST_CASE(watches_join_and_leave_their_volume) {
  Bench b;
  b.publish("/cfg", {{"a", "1"}, {"b", "1"}});
  auto accept = [](std::string_view) { return Verdict::accept(); };
  FileWatcher a("/cfg/a", accept, b.options, b.hub);
  FileWatcher a_again("/cfg/a", accept, b.options, b.hub);
  VolumeWatcher whole("/cfg", [](const Snapshot&) { return Verdict::accept(); }, b.options, {}, b.hub);
  a.start();
  a_again.start();
  whole.start();
  b.run();
  BOOST_TEST(b.hub->watch_count() == 3u);
  BOOST_TEST(b.hub->volume_count() == 1u);
  BOOST_TEST(b.hub->kernel_watch_count() == 2u);  // /cfg, and / for the name "cfg"
  a.stop();
  whole.stop();
  BOOST_TEST(b.hub->volume_count() == 1u);
  BOOST_TEST(b.hub->kernel_watch_count() == 2u);
  a_again.stop();
  BOOST_TEST(b.hub->volume_count() == 0u);
  BOOST_TEST(b.hub->kernel_watch_count() == 0u);
  a.start();  // started again: a volume anew
  b.run();
  BOOST_TEST(b.hub->volume_count() == 1u);
  BOOST_TEST(b.hub->kernel_watch_count() == 2u);
}

// The directories above volumes are watched once for all of them: an event there is
// fanned out by path, to the volumes at or below the name it is about, and no others.
BOOST_AUTO_TEST_CASE(a_rename_above_volumes_checks_the_volumes_it_moves_and_no_others) {
  Bench b;
  b.options.mode = Mode::events;
  b.options.safety_interval = 1h;
  const std::vector<std::string> dirs = {"/vols/a", "/vols/ab", "/vols/a-x", "/vols/b", "/other/c"};
  b.sim->apply({.kind = TreeOp::Kind::make_dir, .path = "/vols", .mode = 0755});
  b.sim->apply({.kind = TreeOp::Kind::make_dir, .path = "/other", .mode = 0755});
  std::map<std::string, std::string> active;
  std::vector<std::unique_ptr<FileWatcher>> watchers;
  for (const std::string& dir : dirs) {
    b.publish(dir, {{"k", "1"}});
    watchers.push_back(std::make_unique<FileWatcher>(dir + "/k", [&active, dir](std::string_view c) {
      active[dir] = std::string(c);
      return Verdict::accept();
    }, b.options, b.hub));
    watchers.back()->start();
  }
  b.run();
  // Five volumes, one watch each, and "/", "/vols" and "/other" once for all of them.
  BOOST_TEST(b.hub->kernel_watch_count() == dirs.size() + 3);
  auto checked = [&] {
    std::set<std::string> out;
    for (const auto& [path, n] : b.fs->readlinks)
      if (n > 0 && path.ends_with("/..data")) out.insert(path.substr(0, path.size() - 7));
    b.fs->readlinks.clear();
    return out;
  };
  BOOST_TEST(checked().size() == dirs.size());  // loaded (and cleared)
  // mv /vols/a /vols/a.old && mv /vols/a.new /vols/a
  b.publish("/vols/a.new", {{"k", "2"}});
  b.run();
  BOOST_REQUIRE(checked().empty());  // nothing watched there yet
  b.sim->apply({.kind = TreeOp::Kind::rename, .path = "/vols/a", .other = "/vols/a.old"});
  b.sim->apply({.kind = TreeOp::Kind::rename, .path = "/vols/a.new", .other = "/vols/a"});
  b.run();
  BOOST_TEST(active["/vols/a"] == "2");
  BOOST_TEST((checked() == std::set<std::string>{"/vols/a"}));
  // mv /vols /vols.old && mv /vols.old /vols: every volume below, not /other/c.
  b.sim->apply({.kind = TreeOp::Kind::rename, .path = "/vols", .other = "/vols.old"});
  b.sim->apply({.kind = TreeOp::Kind::rename, .path = "/vols.old", .other = "/vols"});
  b.run();
  BOOST_TEST((checked() == std::set<std::string>{"/vols/a", "/vols/ab", "/vols/a-x", "/vols/b"}));
  // Still watched, under its new kernel watches: the next swap is seen too.
  b.publish("/vols/b.new", {{"k", "3"}});
  b.sim->apply({.kind = TreeOp::Kind::rename, .path = "/vols/b", .other = "/vols/b.old"});
  b.sim->apply({.kind = TreeOp::Kind::rename, .path = "/vols/b.new", .other = "/vols/b"});
  b.run();
  BOOST_TEST(active["/vols/b"] == "3");
  BOOST_TEST((checked() == std::set<std::string>{"/vols/b"}));
  watchers.clear();
  BOOST_TEST(b.hub->kernel_watch_count() == 0u);
}

// A directory above a volume replaced by another (a new inode under its name) is watched
// again once the volume below has looked: a rename inside the new one is an event too.
BOOST_AUTO_TEST_CASE(a_directory_above_replaced_by_another_is_watched_in_its_place) {
  Bench b;
  b.options.mode = Mode::events;
  b.options.safety_interval = 1h;
  auto mkdir = [&](const std::string& dir) {
    b.sim->apply({.kind = TreeOp::Kind::make_dir, .path = dir, .mode = 0755});
  };
  auto swap = [&](const std::string& dir) {  // mv dir dir.old && mv dir.new dir
    b.sim->apply({.kind = TreeOp::Kind::remove_all, .path = dir + ".old"});
    b.sim->apply({.kind = TreeOp::Kind::rename, .path = dir, .other = dir + ".old"});
    b.sim->apply({.kind = TreeOp::Kind::rename, .path = dir + ".new", .other = dir});
  };
  mkdir("/top");
  mkdir("/top/mid");
  b.publish("/top/mid/c", {{"k", "1"}});
  std::string active;
  FileWatcher w("/top/mid/c/k", [&](std::string_view c) {
    active = std::string(c);
    return Verdict::accept();
  }, b.options, b.hub);
  w.start();
  b.run();
  mkdir("/top.new");
  mkdir("/top.new/mid");
  b.publish("/top.new/mid/c", {{"k", "2"}});
  swap("/top");  // seen by "/"'s watch
  b.run();
  BOOST_TEST(active == "2");
  mkdir("/top/mid.new");
  b.publish("/top/mid.new/c", {{"k", "3"}});
  swap("/top/mid");  // seen only by a watch on the new /top
  b.run();
  BOOST_TEST(active == "3");
  BOOST_TEST(w.status().mode == ActiveMode::events);
}

BOOST_AUTO_TEST_CASE(a_watch_stopped_from_a_callback_is_not_called_again) {
  Bench b;
  b.publish("/cfg", {{"a", "1"}, {"b", "1"}});
  int b_calls = 0;
  std::unique_ptr<FileWatcher> second;
  FileWatcher first("/cfg/a", [&](std::string_view content) {
    if (content == "2") {
      second->stop();  // a watch of the same volume, checked after this one
      second->stop();  // idempotent
    }
    return Verdict::accept();
  }, b.options, b.hub);
  second = std::make_unique<FileWatcher>("/cfg/b", [&](std::string_view) {
    ++b_calls;
    return Verdict::accept();
  }, b.options, b.hub);
  first.start();
  second->start();
  b.run();
  BOOST_TEST(b_calls == 1);
  b.publish("/cfg", {{"a", "2"}, {"b", "2"}});
  b.run(10ms);
  BOOST_TEST(b_calls == 1);  // stopped before its turn in the same check
  BOOST_TEST(first.status().reloads == 1u);
  BOOST_TEST(b.hub->watch_count() == 1u);
}

// Issue 14 §5: a file truncated and rewritten in place by a writer that keeps it open
// holds half its new content. Whatever asks for a look meanwhile (here the safety poll,
// which reads whatever the attributes say), the half is never offered: the look waits for
// the close, or for the writer to be quiet for a whole safety interval.
struct InPlace {
  Bench b;
  std::vector<std::string> offered;
  std::unique_ptr<FileWatcher> watcher;

  InPlace() {
    b.sim->apply({.kind = TreeOp::Kind::make_dir, .path = "/cfg", .mode = 0755});
    apply({.kind = TreeOp::Kind::write_file, .path = "/cfg/app.yaml", .content = "v1 whole",
           .mode = 0644});
    b.options.safety_interval = 1s;
    watcher = std::make_unique<FileWatcher>("/cfg/app.yaml", [this](std::string_view c) {
      offered.emplace_back(c);
      return Verdict::accept();
    }, b.options, b.hub);
    watcher->start();
    b.run();
  }
  void apply(TreeOp op) {
    b.clock->advance(1ms);
    BOOST_REQUIRE(!b.sim->apply(op));
  }
  void append(const std::string& more) {
    apply({.kind = TreeOp::Kind::append, .path = "/cfg/app.yaml", .content = more});
  }
};

BOOST_AUTO_TEST_CASE(a_writer_at_work_is_waited_for_until_it_closes) {
  InPlace w;
  w.apply({.kind = TreeOp::Kind::open_trunc, .path = "/cfg/app.yaml"});
  for (const char* chunk : {"v2", " ", "h", "a", "l"}) {  // a write every 0.8 s
    w.append(chunk);
    w.b.run(800ms);  // safety polls fall due; none may read a part
  }
  BOOST_TEST(w.offered == std::vector<std::string>{"v1 whole"}, boost::test_tools::per_element());
  w.append("f");
  w.apply({.kind = TreeOp::Kind::close, .path = "/cfg/app.yaml"});
  w.b.run();
  BOOST_TEST((w.offered == std::vector<std::string>{"v1 whole", "v2 half"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_writer_that_keeps_its_file_open_when_done_is_read_once_quiet) {
  InPlace w;
  w.apply({.kind = TreeOp::Kind::open_trunc, .path = "/cfg/app.yaml"});
  w.append("v2 done, left open");
  w.b.run(900ms);  // a safety poll falls due; the writer has not been quiet for 1 s
  BOOST_TEST(w.offered.size() == 1u);
  w.b.run(1200ms);  // quiet for a safety interval: the next safety poll reads it
  BOOST_TEST((w.offered == std::vector<std::string>{"v1 whole", "v2 done, left open"}),
             boost::test_tools::per_element());
}

// A log beside the config is written forever: after kWriterPatience it holds nothing back,
// and the config's own close is read at once.
BOOST_AUTO_TEST_CASE(a_writer_that_never_stops_holds_looks_back_for_a_bounded_time) {
  Bench b;
  b.sim->apply({.kind = TreeOp::Kind::make_dir, .path = "/cfg", .mode = 0755});
  Options vo = b.options;
  vo.allow_empty = true;
  std::vector<std::size_t> keys_offered;
  BOOST_REQUIRE(!b.sim->apply({.kind = TreeOp::Kind::write_file, .path = "/cfg/app.yaml",
                               .content = "v1", .mode = 0644}));
  VolumeWatcher watcher("/cfg", [&](const Snapshot& s) {
    keys_offered.push_back(s.keys.size());
    return Verdict::accept();
  }, vo, {}, b.hub);
  watcher.start();
  b.run();
  b.sim->apply({.kind = TreeOp::Kind::open_trunc, .path = "/cfg/app.log"});
  auto log_line = [&] {
    b.clock->advance(100ms);
    BOOST_REQUIRE(!b.sim->apply({.kind = TreeOp::Kind::append, .path = "/cfg/app.log", .content = "."}));
    b.run();
  };
  log_line();
  BOOST_REQUIRE(!b.sim->apply({.kind = TreeOp::Kind::write_file, .path = "/cfg/app.yaml",
                               .content = "v2", .mode = 0644}));
  b.run();
  BOOST_TEST(keys_offered.size() == 1u);  // held: the log is being written
  while (b.clock->elapsed() < kWriterPatience + 1s) log_line();
  BOOST_TEST(keys_offered.size() == 2u);  // the log was given up on: v2 and the log are read
  BOOST_REQUIRE(!b.sim->apply({.kind = TreeOp::Kind::write_file, .path = "/cfg/app.yaml",
                               .content = "v3", .mode = 0644}));
  log_line();
  BOOST_TEST(keys_offered.size() == 3u);  // at once, though the log goes on
}

// An editor keeps its swap file open beside the keys and writes it now and then; the
// swap file is not a key (hidden), so it holds nothing back: a save is read at once.
BOOST_AUTO_TEST_CASE(a_writer_at_work_on_a_file_no_watch_reads_holds_nothing_back) {
  Bench b;
  b.sim->apply({.kind = TreeOp::Kind::make_dir, .path = "/cfg", .mode = 0755});
  BOOST_REQUIRE(!b.sim->apply({.kind = TreeOp::Kind::write_file, .path = "/cfg/app.yaml",
                               .content = "v1", .mode = 0644}));
  std::vector<std::string> offered;
  VolumeWatcher watcher("/cfg", [&](const Snapshot& s) {
    offered.push_back(s.keys.at("app.yaml").content);
    return Verdict::accept();
  }, b.options, {}, b.hub);
  watcher.start();
  b.run();
  b.sim->apply({.kind = TreeOp::Kind::open_trunc, .path = "/cfg/.app.yaml.swp"});
  BOOST_REQUIRE(!b.sim->apply({.kind = TreeOp::Kind::append, .path = "/cfg/.app.yaml.swp",
                               .content = "swap"}));
  b.run(100ms);
  BOOST_REQUIRE(!b.sim->apply({.kind = TreeOp::Kind::write_file, .path = "/cfg/app.yaml",
                               .content = "v2", .mode = 0644}));
  b.run(10ms);
  BOOST_TEST((offered == std::vector<std::string>{"v1", "v2"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

// Volume on its own, over the simulated filesystem and events: that a check resolves the
// volume once for all its keys, which kernel watches it asks for, and every decision it
// owns (mode, timers, retry, fallback to polling).
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <map>
#include <set>

#include "key_watch.h"
#include "sim_clock.h"
#include "sim_events.h"
#include "sim_filesystem.h"
#include "snapshot_watch.h"
#include "test_support.h"
#include "volume.h"
#include "writers.h"

using namespace hotreload;
using namespace hotreload::harness;
using namespace std::chrono_literals;
using hotreload::test::CountingFilesystem;

namespace {

struct Bench {
  std::shared_ptr<SimClock> clock = std::make_shared<SimClock>();
  SimFilesystem fs{clock};
  SimEvents events{fs, clock, 1};
  KernelWatchTable table{events};
  KubeletWriter kubelet{"/cfg"};
  std::shared_ptr<spdlog::logger> quiet =
      std::make_shared<spdlog::logger>("quiet", std::make_shared<spdlog::sinks::null_sink_mt>());
  std::vector<test::SeenDecision> decisions;

  Bench() { fs.apply({.kind = TreeOp::Kind::make_dir, .path = "/cfg", .mode = 0755}); }

  void publish(const std::map<std::string, std::string>& keys) {
    clock->advance(1ms);
    BOOST_REQUIRE(!apply_all(fs, kubelet.plan(fs, keys)));
  }
  Options options(Mode mode = Mode::automatic) {
    Options o;
    o.mode = mode;
    o.logger = quiet;
    o.on_decision = [this](const Decision& d) {
      decisions.push_back(test::SeenDecision::of(d));
    };
    return o;
  }
  std::shared_ptr<KeyWatch> key(const std::string& name, Options o) {
    auto w = std::make_shared<KeyWatch>("/cfg/" + name, [](std::string_view) { return Verdict::accept(); },
                                        std::make_shared<const Options>(std::move(o)));
    std::string message;
    BOOST_REQUIRE(!w->load(fs, *clock, message));
    return w;
  }
  // The whole of /cfg, as a VolumeWatcher (--dir) watches it.
  std::shared_ptr<SnapshotWatch> directory(Options o) {
    auto w = std::make_shared<SnapshotWatch>("/cfg", [](const Snapshot&) { return Verdict::accept(); },
                                             std::make_shared<const Options>(std::move(o)), KeySelection{});
    std::string message;
    BOOST_REQUIRE(!w->load(fs, *clock, message));
    return w;
  }
  std::size_t reloads() const {
    return std::count_if(decisions.begin(), decisions.end(),
                         [](const auto& d) { return d.kind == DecisionKind::reloaded; });
  }
  Volume::Next join(Volume& v, std::shared_ptr<Watch> w) {
    Watch& joined = *w;
    Volume::Next next = v.join(std::move(w), table, clock->now(), *quiet);
    joined.ready = true;  // as the hub does once the callback accepted
    joined.announce_loaded();
    return next;
  }
  // A check and its settling, counting the filesystem calls it makes.
  CountingFilesystem calls(Volume& v, Trigger trigger) {
    CountingFilesystem counting(fs);
    v.check(counting, *clock, trigger, clock->now(), v.watches());
    settle(v);
    return counting;
  }
  Volume::Next settle(Volume& v, bool announced_late = false) {
    return v.settle(table, clock->now(), clock->now() + 1h, announced_late, *quiet);
  }  void write(const std::string& path, const std::string& content) {
    BOOST_REQUIRE(!fs.apply({.kind = TreeOp::Kind::write_file, .path = path, .content = content}));
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(volume)

BOOST_AUTO_TEST_CASE(a_check_resolves_data_once_for_every_key) {
  Bench b;
  std::map<std::string, std::string> keys;
  for (int i = 0; i < 10; ++i) keys["k" + std::to_string(i)] = "v" + std::to_string(i);
  b.publish(keys);
  Volume v(1, "/cfg", Volume::Policy::of(b.options()), {});
  for (const auto& [name, content] : keys) b.join(v, b.key(name, b.options()));
  CountingFilesystem counting(b.fs);
  v.check(counting, *b.clock, Trigger::poll, b.clock->now(), v.watches());
  BOOST_TEST(counting.readlinks["/cfg/..data"] == 1);
  BOOST_TEST(counting.lstats["/cfg/..data"] == 1);
  BOOST_TEST(counting.lstats["/cfg"] == 1);
  for (const auto& [name, content] : keys) BOOST_TEST(counting.readlinks["/cfg/" + name] == 1);
}

// A volume at rest, read past its files' timestamp tick: a poll takes one lstat of the
// volume directory, whose attributes vouch for every link in it (each key and ..data), and
// one lstat per file — no walk, no readlink — and arms nothing (what is armed stands). A
// safety poll takes the lstat of the directory alone: what it is for (a change no event
// announced) is a publish, and the kubelet publishes in the directory. A publish, a rehash
// or an event takes the full check.
BOOST_AUTO_TEST_CASE(a_poll_of_a_volume_at_rest_takes_the_shortcut) {
  Bench b;
  std::map<std::string, std::string> keys{{"a", "1"}, {"b", "2"}, {"c", "3"}};
  b.publish(keys);
  Volume v(1, "/cfg", Volume::Policy::of(b.options()), {});
  for (const auto& [name, content] : keys) b.join(v, b.key(name, b.options()));
  b.clock->advance(kTimestampTickMax);
  v.check(b.fs, *b.clock, Trigger::poll, b.clock->now(), v.watches());  // reads: now trusted
  b.settle(v);
  auto calls_of = [&](Trigger trigger) { return b.calls(v, trigger); };
  for (Trigger t : {Trigger::poll, Trigger::safety_poll}) {
    auto c = calls_of(t);
    BOOST_TEST(c.lstats["/cfg"] == 1);  // the witness
    BOOST_TEST(c.readlinks.empty());    // vouched for: a, b, c and ..data
    BOOST_TEST(c.lstats["/cfg/a"] == 0);  // no walk
    int file_stats = t == Trigger::poll ? 1 : 0;
    BOOST_TEST(c.lstats["/cfg/" + *b.fs.read_link("/cfg/..data") + "/a"] == file_stats);
    BOOST_TEST(c.opens.empty());
    BOOST_TEST(b.table.watched("/cfg"));  // what was armed stands
  }
  for (Trigger t : {Trigger::safety_read, Trigger::rehash, Trigger::event})
    BOOST_TEST(calls_of(t).readlinks["/cfg/a"] == 1);  // walked in full
  std::size_t offers = b.decisions.size();
  b.clock->advance(kTimestampTickMax);
  b.publish({{"a", "1"}, {"b", "changed"}, {"c", "3"}});
  BOOST_TEST(calls_of(Trigger::poll).readlinks["/cfg/..data"] == 1);  // ..data moved: in full
  BOOST_TEST(b.decisions.size() == offers + 1);  // b reloaded
}

// The cost of that shortcut, in events mode: a file of the payload edited in place (by a
// writer that is not the kubelet; the pod mounts the volume read-only) is not seen by a
// safety poll, only by the safety poll that reads, every rehash_every-th (a poll, above,
// looks at every file).
BOOST_AUTO_TEST_CASE(a_payload_edited_in_place_waits_for_the_reading_safety_poll) {
  Bench b;
  b.publish({{"a", "1"}, {"b", "2"}});
  Volume v(1, "/cfg", Volume::Policy::of(b.options()), {});
  b.join(v, b.key("a", b.options()));
  b.clock->advance(kTimestampTickMax);
  v.check(b.fs, *b.clock, Trigger::safety_read, b.clock->now(), v.watches());
  b.settle(v);
  std::size_t offers = b.decisions.size();
  b.clock->advance(kTimestampTickMax);
  b.write("/cfg/" + *b.fs.read_link("/cfg/..data") + "/a", "edited");
  v.check(b.fs, *b.clock, Trigger::safety_poll, b.clock->now(), v.watches());
  b.settle(v);
  BOOST_TEST(b.decisions.size() == offers);  // trusted the witness
  BOOST_TEST(!v.found_unannounced_change());
  v.check(b.fs, *b.clock, Trigger::safety_read, b.clock->now(), v.watches());
  BOOST_TEST(b.decisions.size() == offers + 1);  // reloaded
  BOOST_TEST(v.found_unannounced_change());      // and no event said so: the volume polls
}

// The same shortcut for a whole kubelet volume (VolumeWatcher, --dir): a safety poll at rest
// takes the volume directory's lstat alone (no listing, no readlink, no file), while a poll,
// the reading safety poll, a rehash and an event survey it in full. A publish that no event
// announced moves the directory's stamps, and the next safety poll finds it.
BOOST_AUTO_TEST_CASE(a_safety_poll_of_a_kubelet_directory_at_rest_is_one_lstat) {
  Bench b;
  b.publish({{"a", "1"}, {"b", "2"}});
  Volume v(1, "/cfg", Volume::Policy::of(b.options()), {});
  b.join(v, b.directory(b.options()));
  b.clock->advance(kTimestampTickMax);
  v.check(b.fs, *b.clock, Trigger::safety_read, b.clock->now(), v.watches());  // now trusted
  b.settle(v);
  auto calls_of = [&](Trigger trigger) { return b.calls(v, trigger); };
  auto rest = calls_of(Trigger::safety_poll);
  BOOST_TEST(rest.lstats.size() == 1u);
  BOOST_TEST(rest.lstats["/cfg"] == 1);  // the witness
  BOOST_TEST(rest.readlinks.empty());
  BOOST_TEST(rest.listings.empty());
  BOOST_TEST(rest.opens.empty());
  BOOST_TEST(b.table.watched("/cfg"));  // what was armed stands
  std::string payload = "/cfg/" + *b.fs.read_link("/cfg/..data");
  for (Trigger t : {Trigger::poll, Trigger::safety_read, Trigger::rehash, Trigger::event})
    BOOST_TEST(calls_of(t).listings[payload] >= 1);  // surveyed in full
  std::size_t reloads = b.reloads();
  b.clock->advance(kTimestampTickMax);
  b.publish({{"a", "1"}, {"b", "changed"}});
  BOOST_TEST(calls_of(Trigger::safety_poll).readlinks["/cfg/..data"] >= 1);
  BOOST_TEST(b.reloads() == reloads + 1);
  BOOST_TEST(v.found_unannounced_change());
}

// Where directories keep their stamps, the witness hides a publish from the safety polls
// until the one that reads. That look sees ..data re-pointed under unchanged attributes,
// and from then on the volume's safety polls read ..data: the next publish is found by the
// next one.
BOOST_AUTO_TEST_CASE(a_kubelet_directory_with_frozen_stamps_loses_the_witness_at_the_first_miss) {
  Bench b;
  b.publish({{"a", "1"}});
  Volume v(1, "/cfg", Volume::Policy::of(b.options()), {});
  b.join(v, b.directory(b.options()));
  auto check = [&](Trigger trigger) {
    b.clock->advance(kTimestampTickMax);
    v.check(b.fs, *b.clock, trigger, b.clock->now(), v.watches());
    b.settle(v, true);  // as if announced late: the volume stays in events mode
  };
  check(Trigger::safety_read);
  check(Trigger::safety_read);  // a full look since the initial one: links compared
  b.fs.set_directory_stamps_frozen(true);
  std::size_t reloads = b.reloads();
  b.publish({{"a", "2"}});
  check(Trigger::safety_poll);
  BOOST_TEST(b.reloads() == reloads);  // vouched for: the cost of the witness
  check(Trigger::safety_read);
  BOOST_TEST(b.reloads() == reloads + 1);
  b.publish({{"a", "3"}});
  check(Trigger::safety_poll);
  BOOST_TEST(b.reloads() == reloads + 2);  // no longer waits for the reading safety poll
}

// With --rehash-every 0 no look would ever read the links again in full, so nothing could
// find out a directory whose stamps do not move: its attributes vouch for nothing then,
// and each link is read at every poll (the files are still vouched for by their stat).
// The same in events mode with --safety-rehash-every 0; each mode goes by its own.
BOOST_AUTO_TEST_CASE(without_rehash_every_link_is_read_at_every_poll) {
  struct Case {
    ActiveMode mode;
    Trigger poll;
    unsigned rehash_every, safety_rehash_every, readlinks;
  };
  for (Case k : {Case{ActiveMode::poll, Trigger::poll, 0, 30, 1},
                 Case{ActiveMode::poll, Trigger::poll, 10, 0, 0},
                 Case{ActiveMode::events, Trigger::safety_poll, 10, 0, 1},
                 Case{ActiveMode::events, Trigger::safety_poll, 0, 30, 0}}) {
    BOOST_TEST_CONTEXT("mode " << to_string(k.mode) << ", rehash_every " << k.rehash_every
                               << ", safety_rehash_every " << k.safety_rehash_every) {
      Bench b;
      b.publish({{"a", "1"}});
      Options o = b.options();
      o.rehash_every = k.rehash_every;
      o.safety_rehash_every = k.safety_rehash_every;
      Volume v(1, "/cfg", Volume::Policy::of(o), {k.mode, {}});
      b.join(v, b.key("a", o));
      b.clock->advance(kTimestampTickMax);
      v.check(b.fs, *b.clock, Trigger::rehash, b.clock->now(), v.watches());  // now trusted
      b.settle(v);
      CountingFilesystem c(b.fs);
      v.check(c, *b.clock, k.poll, b.clock->now(), v.watches());
      BOOST_TEST(c.readlinks["/cfg/a"] == k.readlinks);
      BOOST_TEST(c.readlinks["/cfg/..data"] == k.readlinks);
      BOOST_TEST(c.lstats["/cfg/a"] == 0);  // still the shortcut: no walk
      BOOST_TEST(c.opens.empty());
    }
  }
}

namespace {

// /cfg/app.yaml -> v1.yaml, beside v2.yaml: re-pointing the link leaves the file the last
// look ended at as it was, so only the link (or its directory) can tell.
struct LinkBench : Bench {
  Volume v{1, "/cfg", Volume::Policy::of(options(Mode::poll)), {ActiveMode::poll, {}}};
  LinkBench() {
    write("/cfg/v1.yaml", "one");
    write("/cfg/v2.yaml", "two");
    point_at("v1.yaml");
    join(v, key("app.yaml", options(Mode::poll)));
    clock->advance(kTimestampTickMax);
    poll(Trigger::rehash);  // past every stamp's tick: the signature and the witness trusted
  }
  void point_at(const std::string& target) {
    clock->advance(1ms);
    BOOST_REQUIRE(!fs.apply({.kind = TreeOp::Kind::symlink, .path = "/cfg/.tmp", .other = target}));
    BOOST_REQUIRE(!fs.apply({.kind = TreeOp::Kind::rename, .path = "/cfg/.tmp", .other = "/cfg/app.yaml"}));
  }
  void poll(Trigger trigger = Trigger::poll) {
    v.check(fs, *clock, trigger, clock->now(), v.watches());
    settle(v);
    clock->advance(kTimestampTickMax);
  }
  std::optional<Digest> active() const { return v.watches().front()->status().hash; }
};

}  // namespace

// A link re-pointed in the volume directory moves the directory's stamps: the next poll
// reads the link, and reloads, although the file it named is as it was.
BOOST_AUTO_TEST_CASE(a_relinked_key_is_found_by_the_next_poll_through_the_witness) {
  LinkBench b;
  BOOST_REQUIRE(b.active() == Digest::of("one"));
  b.poll();  // at rest
  b.point_at("v2.yaml");
  b.poll();
  BOOST_TEST(b.active() == Digest::of("two"));
  b.point_at("v1.yaml");
  b.poll();
  BOOST_TEST(b.active() == Digest::of("one"));
}

// A filesystem whose directories keep their stamps hides a re-pointed link from the
// witness until a look reads every link (the every-Nth rehash). That look sees the link
// moved under unchanged attributes, and the volume reads its links at every poll from then
// on: the next re-pointing is found by the next poll.
BOOST_AUTO_TEST_CASE(directories_with_frozen_stamps_lose_the_witness_at_the_first_miss) {
  LinkBench b;
  b.fs.set_directory_stamps_frozen(true);
  b.poll();
  b.point_at("v2.yaml");
  b.poll();
  BOOST_TEST(b.active() == Digest::of("one"));  // vouched for: the cost of the witness
  b.poll(Trigger::rehash);
  BOOST_TEST(b.active() == Digest::of("two"));
  b.poll();
  b.point_at("v1.yaml");
  b.poll();
  BOOST_TEST(b.active() == Digest::of("one"));  // no longer waits for a rehash
}
BOOST_AUTO_TEST_CASE(a_kubelet_volume_holds_one_kernel_watch_and_none_on_its_payload) {
  Bench b;
  b.publish({{"a", "1"}, {"b", "1"}});
  Volume v(1, "/cfg", Volume::Policy::of(b.options()), {});
  // The first key arms the volume as it joins (a change right after start() is an event);
  // what changed before the arm is read by the check it asks for.
  BOOST_TEST((b.join(v, b.key("a", b.options())).check_now == Trigger::rehash));
  BOOST_TEST((b.join(v, b.key("b", b.options())).check_now == Trigger::event));  // nothing new
  BOOST_TEST(b.table.watched("/cfg"));
  BOOST_TEST(!b.table.watched("/cfg/" + *b.fs.read_link("/cfg/..data")));
  // The only other one is the root, for the name "cfg" (the anchor above the volume).
  BOOST_TEST(b.table.kernel_watch_count() == 2u);
  BOOST_TEST(b.table.watched("/"));
  v.check(b.fs, *b.clock, Trigger::rehash, b.clock->now(), v.watches());
  BOOST_TEST(!b.settle(v).check_now.has_value());  // the check found nothing new to arm
  BOOST_TEST(b.table.kernel_watch_count() == 2u);
}

BOOST_AUTO_TEST_CASE(an_ancestor_the_kernel_will_not_watch_costs_nothing_but_that) {
  Bench b;
  b.publish({{"a", "1"}});
  b.fs.apply({.kind = TreeOp::Kind::chmod, .path = "/", .mode = 0711});  // no listing, no watch
  Volume v(1, "/cfg", Volume::Policy::of(b.options()), {});
  b.join(v, b.key("a", b.options()));
  v.check(b.fs, *b.clock, Trigger::event, b.clock->now(), v.watches());
  auto next = b.settle(v);
  BOOST_TEST(v.mode() == ActiveMode::events);
  BOOST_TEST(!next.due.has_value());  // no retry either
  BOOST_TEST(b.table.watched("/cfg"));
  BOOST_TEST(!b.table.watched("/"));
  BOOST_TEST(b.table.kernel_watch_count() == 1u);
}

BOOST_AUTO_TEST_CASE(auto_polls_where_the_filesystem_misses_remote_changes) {
  Bench b;
  b.fs.set_filesystem_type(SimFilesystem::kNfsMagic);
  auto choice = Volume::choose_mode(b.fs, "/cfg", Mode::automatic);
  BOOST_TEST(choice.mode == ActiveMode::poll);
  BOOST_TEST(choice.why.find("nfs") != std::string::npos);
  BOOST_TEST(Volume::choose_mode(b.fs, "/cfg", Mode::events).mode == ActiveMode::events);
  b.fs.set_filesystem_type(SimFilesystem::kTmpfsMagic);
  BOOST_TEST(Volume::choose_mode(b.fs, "/cfg", Mode::automatic).mode == ActiveMode::events);
  BOOST_TEST(Volume::choose_mode(b.fs, "/cfg", Mode::poll).mode == ActiveMode::poll);
}

BOOST_AUTO_TEST_CASE(timers_poll_read_every_nth_and_retry_first) {
  Bench b;
  Options o = b.options(Mode::poll);
  o.rehash_every = 3;
  o.poll_interval = 100ms;
  SteadyTime next{};
  SteadyTime now = b.clock->now();
  // Which of its timers read: every rehash_every-th, the first within rehash_every.
  auto reading_timers = [&](Volume& vol, Trigger plain, Trigger reads, int count) {
    std::vector<int> at;
    for (int i = 0; i < count; ++i) {
      Trigger t = vol.on_timer(now, next);
      BOOST_TEST((t == plain || t == reads));
      if (t == reads) at.push_back(i);
    }
    return at;
  };
  std::set<int> first_reads;  // staggered: volumes started together do not read together
  for (uint64_t id = 1; id <= 8; ++id) {
    Volume v(id, "/cfg", Volume::Policy::of(o), {ActiveMode::poll, {}});
    std::vector<int> at = reading_timers(v, Trigger::poll, Trigger::rehash, 9);
    BOOST_TEST_REQUIRE(at.size() == 3u);
    BOOST_TEST(at[0] < 3);
    BOOST_TEST(at[1] - at[0] == 3);
    BOOST_TEST(at[2] - at[1] == 3);
    BOOST_TEST((next == now + 100ms));
    first_reads.insert(at[0]);
  }
  BOOST_TEST(first_reads.size() > 1u);
  // Events mode's safety polls read at their own, slower, cadence.
  Options eo = b.options();
  eo.rehash_every = 2;
  eo.safety_rehash_every = 5;
  Volume events(2, "/cfg", Volume::Policy::of(eo), {});
  std::vector<int> at = reading_timers(events, Trigger::safety_poll, Trigger::safety_read, 10);
  BOOST_TEST_REQUIRE(at.size() == 2u);
  BOOST_TEST(at[1] - at[0] == 5);
  // On a grid of 1/16 of the safety interval, so that volumes' polls share wakeups:
  // earlier than a whole interval by less than a grain, never later.
  BOOST_TEST((next <= now + 10s && next > now + 10s - 625ms));
  BOOST_TEST(next.time_since_epoch() % 625ms == 0ns);
  BOOST_TEST(events.first_due(now).time_since_epoch() % 625ms == 0ns);
  // A look that caught a writer mid-change asks for a retry, which the next timer is.
  b.publish({{"a", "1"}});
  b.join(events, b.key("a", b.options()));
  b.fs.inject_error(FsCall::open, errno_code(ENOENT), "/cfg", 10);  // the file keeps vanishing
  events.check(b.fs, *b.clock, Trigger::rehash, now, events.watches());
  auto settled = b.settle(events);
  BOOST_REQUIRE(settled.due.has_value());
  BOOST_TEST((*settled.due <= b.clock->now() + 20ms));
  BOOST_TEST((events.on_timer(now, next) == Trigger::retry));
}

BOOST_AUTO_TEST_CASE(a_refused_kernel_watch_makes_every_key_poll) {
  Bench b;
  b.publish({{"a", "1"}, {"b", "1"}});
  b.events.fail_add_watch(errno_code(ENOSPC));
  Volume v(1, "/cfg", Volume::Policy::of(b.options()), {});
  auto next = b.join(v, b.key("a", b.options()));
  BOOST_TEST(v.mode() == ActiveMode::poll);
  BOOST_TEST((next.due == b.clock->now() + 1s));  // polls from now on
  b.join(v, b.key("b", b.options()));  // joins a polling volume
  v.check(b.fs, *b.clock, Trigger::event, b.clock->now(), v.watches());
  b.settle(v);
  BOOST_TEST(b.table.kernel_watch_count() == 0u);
  // Each key's first word is its loaded, naming the mode in force and why (issue 14 §5):
  // no `loaded` in events mode followed at once by a `mode` line.
  int loaded = 0;
  for (const test::SeenDecision& d : b.decisions) {
    BOOST_TEST((d.kind == DecisionKind::loaded));
    ++loaded;
    BOOST_TEST((d.mode == ActiveMode::poll));
    BOOST_TEST(d.detail.find("No space left on device") != std::string::npos);
  }
  BOOST_TEST(loaded == 2);  // one per key
  for (const auto& w : v.watches()) BOOST_TEST(w->status().mode == ActiveMode::poll);
}

BOOST_AUTO_TEST_CASE(a_change_no_event_announced_makes_it_poll_unless_announced_late) {
  for (bool late : {false, true}) {
    Bench b;
    b.publish({{"a", "1"}});
    Volume v(1, "/cfg", Volume::Policy::of(b.options()), {});
    b.join(v, b.key("a", b.options()));
    b.publish({{"a", "2"}});  // nobody told the volume
    v.check(b.fs, *b.clock, Trigger::safety_poll, b.clock->now(), v.watches());
    BOOST_TEST(v.found_unannounced_change());
    b.settle(v, late);
    BOOST_TEST(v.mode() == (late ? ActiveMode::events : ActiveMode::poll));
  }
}

BOOST_AUTO_TEST_SUITE_END()

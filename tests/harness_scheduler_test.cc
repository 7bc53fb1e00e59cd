// The scheduler replays from its seed, shrinks what fails, and the campaign covers every
// row; plus the core bugs the harness found, each pinned by the simulated run that found it.
#include <boost/test/unit_test.hpp>

#include <algorithm>

#include "campaign.h"
#include "checksummed_content.h"
#include "path_walk.h"
#include "scheduler.h"
#include "sim_world.h"

namespace hotreload::harness {
namespace {

using namespace std::chrono_literals;
using K = SimCommand::Kind;

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(harness_scheduler)

BOOST_AUTO_TEST_CASE(the_same_seed_gives_a_byte_identical_trace) {
  for (Row row : kAllRows) {
    uint64_t seed = run_seed(42, 3, row);
    BOOST_TEST((row_of_seed(seed) == row));
    RunPlan a = plan_run(seed, 80), b = plan_run(seed, 80);
    BOOST_TEST((a.commands == b.commands));
    std::string first = joined(execute(a.config, a.commands, true).trace);
    std::string second = joined(execute(b.config, b.commands, true).trace);
    BOOST_TEST(first.size() > 1000u);
    BOOST_TEST(first == second, "row " << row_name(row) << " did not replay byte for byte");
  }
  // And a different seed is a different run.
  RunPlan x = plan_run(run_seed(42, 3, Row::unreadable), 80);
  RunPlan y = plan_run(run_seed(43, 3, Row::unreadable), 80);
  BOOST_TEST(!(x.commands == y.commands));
}

BOOST_AUTO_TEST_CASE(shrinking_keeps_only_the_commands_that_matter) {
  // A property that needs exactly two writes, each seen by the hub before the next: "the
  // callback accepted at least three contents" (the initial one and two reloads). Buried
  // in noise, the shrinker must come back with those four commands and nothing else.
  WorldConfig config;
  std::vector<SimCommand> commands;
  for (int i = 0; i < 8; ++i) {
    commands.push_back({.kind = K::make_unreadable});
    commands.push_back({.kind = K::lose_events, .arg = 1});
    commands.push_back({.kind = K::make_readable});
    commands.push_back({.kind = K::run_hub, .arg = 5});
  }
  commands.insert(commands.begin() + 5, SimCommand{.kind = K::publish, .version = 2});
  commands.push_back({.kind = K::publish, .version = 3});
  commands.push_back({.kind = K::quiesce});
  auto three_accepted = [](const RunOutcome& o) { return !o.violation && o.accepted >= 3; };
  BOOST_REQUIRE(three_accepted(execute(config, commands, false)));
  auto shrunk = shrink_while(config, commands, three_accepted);
  BOOST_TEST_REQUIRE(shrunk.size() == 4u);
  BOOST_TEST((shrunk[0].kind == K::publish));
  BOOST_TEST((shrunk[2].kind == K::publish));
  BOOST_TEST(three_accepted(execute(config, shrunk, false)));
}

// Issue 10 §4: a command that arms a fault counts only when the fault takes effect.
BOOST_AUTO_TEST_CASE(an_armed_fault_counts_when_it_takes_effect_not_when_it_is_asked_for) {
  auto injected = [](const std::vector<SimCommand>& commands, Row row) {
    RunOutcome o = execute(WorldConfig{}, commands, false);
    BOOST_TEST(!o.violation.has_value());
    auto t = o.tally.find(row);
    return t == o.tally.end() ? uint64_t{0} : t->second.injected;
  };
  // Nothing is written after the loss is armed: no event to lose.
  BOOST_TEST(injected({{.kind = K::lose_events, .arg = 5}, {.kind = K::quiesce}}, Row::lost_events) == 0u);
  BOOST_TEST(injected({{.kind = K::lose_events, .arg = 1}, {.kind = K::publish, .version = 2},
                       {.kind = K::quiesce}},
                      Row::lost_events) == 1u);
  // A swap during the next read, and no read follows; then one that does.
  BOOST_TEST(injected({{.kind = K::swap_mid_read, .version = 2}, {.kind = K::quiesce}},
                      Row::swap_mid_read) == 0u);
  BOOST_TEST(injected({{.kind = K::swap_mid_read, .version = 2}, {.kind = K::publish, .version = 3},
                       {.kind = K::run_hub, .arg = 5}, {.kind = K::quiesce}},
                      Row::swap_mid_read) == 1u);
  // Two failing opens asked for: both happen once the file is read again (and retried).
  // Quiescing clears what has not taken effect.
  BOOST_TEST(injected({{.kind = K::fs_error, .arg = 2, .call = FsCall::open, .error = EIO},
                       {.kind = K::publish, .version = 2}, {.kind = K::run_hub, .arg = 50},
                       {.kind = K::quiesce}},
                      Row::unreadable) == 2u);
}

// A row that ran but whose faults never took effect proves nothing: the campaign fails it.
BOOST_AUTO_TEST_CASE(a_row_whose_faults_never_took_effect_fails_the_campaign) {
  uint64_t seed = 1;
  while (plan_run(run_seed(seed, 0, Row::initial_load), 10).config.initial != InitialState::valid) ++seed;
  CampaignOptions o;
  o.seed = seed;
  o.rows = {Row::initial_load};
  o.runs_max = 1;
  o.ops_target = UINT64_MAX;
  CampaignReport r = run_campaign(o);
  BOOST_TEST(r.failures.empty());
  BOOST_TEST((r.idle_rows == std::vector<Row>{Row::initial_load}));
  BOOST_TEST(!r.all_held());
}

BOOST_AUTO_TEST_CASE(a_campaign_covers_every_row_and_counts_faults_and_checks) {
  CampaignOptions o;
  o.seed = 5;
  o.runs_max = 2 * kRowCount;
  o.ops_target = UINT64_MAX;
  CampaignReport r = run_campaign(o);
  BOOST_TEST(r.runs == 2 * kRowCount);
  for (Row row : kAllRows) {
    BOOST_TEST(r.rows[row].runs == 2u, row_name(row));
    BOOST_TEST(r.rows[row].injected > 0u, row_name(row));
    BOOST_TEST(r.rows[row].checks_passed > 0u, row_name(row));
  }
  for (const Failure& f : r.failures) BOOST_TEST_MESSAGE(format_failure(f));
  BOOST_TEST(r.all_held());
}

BOOST_AUTO_TEST_SUITE_END()

// Bugs the harness found in the core, each as the smallest simulated run that shows it.
BOOST_AUTO_TEST_SUITE(harness_found_bugs)

// Found by the partial_write row: on a volume with 1 s (or 2 s, or the kernel's jiffy)
// timestamps, an in-place rewrite of the same size within one tick keeps dev, ino, size,
// mtime and ctime; the IN_CLOSE_WRITE check compared that signature, saw no change, and
// in events mode the file was never read again (the safety poll compares it too).
BOOST_AUTO_TEST_CASE(an_announced_same_size_rewrite_within_one_mtime_tick_is_read) {
  WorldConfig config;
  config.layout = Layout::plain;  // a file rewritten in place: an editor's, not the kubelet's
  config.granularity = 1s;
  SimWorld world(config);
  BOOST_REQUIRE(!world.start());
  BOOST_REQUIRE(!world.step({.kind = K::publish, .version = 2}));
  BOOST_REQUIRE(!world.step({.kind = K::run_hub, .arg = 0}));
  BOOST_TEST(world.accepted_count() == 2u);
  // Same size (every content is kContentSize bytes), same second, same inode.
  BOOST_REQUIRE(!world.step({.kind = K::in_place_write, .version = 3, .arg = 1}));
  BOOST_REQUIRE(!world.step({.kind = K::run_hub, .arg = 0}));
  BOOST_TEST(world.accepted_count() == 3u);
  auto v = world.step({.kind = K::quiesce});
  BOOST_TEST(!v, (v ? v->detail : ""));
}

// Found by the bad_symlink and swap_mid_read rows once a second watcher was added: a path
// whose directory part is a symlink (here ..data; in the wild a deploy's "current"
// symlink) was resolved once when its directory was watched, and the symlink itself was
// never watched, so after a swap the watch stayed on the old directory: in events mode
// the change waited for the safety poll. The walk now looks at every directory component.
BOOST_AUTO_TEST_CASE(a_swapped_directory_symlink_in_the_watched_path_is_followed) {
  SimWorld world(WorldConfig{});
  BOOST_REQUIRE(!world.start());
  BOOST_REQUIRE(!world.step({.kind = K::companion_start, .arg = 1}));  // /vol/cfg/..data/other.yaml
  BOOST_REQUIRE(!world.step({.kind = K::run_hub, .arg = 30}));
  BOOST_REQUIRE(!world.step({.kind = K::dangle_data}));  // the old directory stays behind
  BOOST_REQUIRE(!world.step({.kind = K::publish, .version = 2}));
  auto v = world.step({.kind = K::quiesce});  // one poll interval, events mode
  BOOST_TEST(!v, (v ? v->invariant + ": " + v->detail : ""));
  // The walk itself: the directory symlink is a link on the way and an interest.
  PathWalk walk = walk_path(world.fs(), "/vol/cfg/..data/other.yaml");
  BOOST_TEST(!walk.error);
  BOOST_TEST_REQUIRE(!walk.signature.links.empty());
  BOOST_TEST(walk.signature.links.front().path == "/vol/cfg/..data");
  BOOST_TEST((std::find(walk.interests.begin(), walk.interests.end(),
                        Interest{"/vol/cfg", "..data"}) != walk.interests.end()));
  // Plain directories on the way are trusted: no interest in /vol or /.
  for (const Interest& i : walk.interests) BOOST_TEST(i.dir != "/");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace hotreload::harness

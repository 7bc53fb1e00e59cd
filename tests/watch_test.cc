// The decisions every watch shares, through a KeyWatch over the simulated filesystem:
// offer only changes, never a just-refused content again, keep the active one through
// any failure, log each cause once, retry a writer at work before calling it an error.
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <boost/test/unit_test.hpp>

#include "hotreload/errors.h"
#include "key_watch.h"
#include "sim_clock.h"
#include "sim_filesystem.h"
#include "test_support.h"

using namespace hotreload;
using namespace hotreload::harness;
using namespace std::chrono_literals;

namespace {

struct Bench {
  std::shared_ptr<SimClock> clock = std::make_shared<SimClock>();
  SimFilesystem fs{clock};
  std::vector<std::string> offered;
  std::vector<test::SeenDecision> decisions;
  KeyWatch watch{"/cfg/app.yaml",
                 [this](std::string_view c) {
                   offered.emplace_back(c);
                   if (c.starts_with("bad")) return Verdict::reject("starts with bad");
                   if (c.starts_with("throw")) throw std::runtime_error("parser exploded");
                   return Verdict::accept();
                 },
                 std::make_shared<const Options>(options())};

  Bench() {
    fs.apply({.kind = TreeOp::Kind::make_dir, .path = "/cfg", .mode = 0755});
    write("v1");
    std::string message;
    BOOST_REQUIRE(!watch.load(fs, *clock, message));
    watch.announce_loaded();  // as the hub does once the watch has joined its volume
  }
  Options options() {
    Options o;
    o.logger = std::make_shared<spdlog::logger>("quiet", std::make_shared<spdlog::sinks::null_sink_mt>());
    o.on_decision = [this](const Decision& d) {
      decisions.push_back(test::SeenDecision::of(d));
    };
    return o;
  }
  void write(const std::string& content) {
    clock->advance(1ms);
    fs.apply({.kind = TreeOp::Kind::write_file, .path = "/cfg/app.yaml", .content = content});
  }
  void check(Trigger trigger = Trigger::event) {
    LookupCache cache(fs);
    watch.check(cache, *clock, trigger, clock->now());
  }
  // Whether a check with trigger reads the file.
  bool reads_on(Trigger trigger) {
    bool read = false;
    fs.on_next_read([&] { read = true; });
    check(trigger);
    fs.on_next_read(nullptr);
    return read;
  }
  int count(DecisionKind kind) const {
    return static_cast<int>(std::count_if(decisions.begin(), decisions.end(),
                                          [&](const test::SeenDecision& d) {
                                            return d.kind == kind;
                                          }));
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(watch_decisions)

BOOST_AUTO_TEST_CASE(only_changes_are_offered_and_a_refusal_only_once) {
  Bench b;
  b.check(Trigger::rehash);  // read again, same content: not offered
  BOOST_TEST(b.offered.size() == 1u);
  b.write("bad v2");
  b.check();
  b.check(Trigger::rehash);  // still on disk, already refused: not offered again
  BOOST_TEST(b.offered.size() == 2u);
  BOOST_TEST(b.count(DecisionKind::rejected) == 1);
  BOOST_TEST(b.watch.status().last_error == "content rejected: starts with bad");
  BOOST_TEST(b.watch.status().hash == Digest::of("v1"));
  b.write("throw v3");  // an exception is a refusal, with its message as the reason
  b.check();
  BOOST_TEST(b.watch.status().last_error == "content rejected: parser exploded");
  b.write("v4");
  b.check();
  BOOST_TEST(b.watch.status().hash == Digest::of("v4"));
  BOOST_TEST(b.watch.status().last_error.empty());
  BOOST_TEST(b.watch.status().reloads == 1u);
  BOOST_TEST(b.watch.status().errors == 2u);
}

// What an action needs to say what it replaces: a reload names the content that was in
// force, which a refusal in between does not change.
BOOST_AUTO_TEST_CASE(a_reload_names_the_content_it_replaced) {
  Bench b;
  b.write("v2");
  b.check();
  b.write("bad v3");
  b.check();
  b.write("v4");
  b.check();
  std::vector<std::pair<std::optional<Digest>, std::optional<Digest>>> reloads, expected{
      {Digest::of("v2"), Digest::of("v1")}, {Digest::of("v4"), Digest::of("v2")}};
  for (const auto& d : b.decisions) {
    if (d.kind == DecisionKind::reloaded) reloads.emplace_back(d.hash, d.previous);
    else BOOST_TEST(!d.previous.has_value(), to_string(d.kind));
  }
  BOOST_TEST((reloads == expected));
}

BOOST_AUTO_TEST_CASE(a_failure_keeps_the_active_content_and_is_logged_once_per_cause) {
  Bench b;
  b.fs.inject_error(FsCall::open, errno_code(EACCES), "/cfg");
  b.write("v2");
  for (int i = 0; i < 5; ++i) b.check(Trigger::rehash);
  BOOST_TEST(b.count(DecisionKind::read_error) == 1);
  BOOST_TEST(b.watch.status().errors == 1u);
  BOOST_TEST(b.watch.status().hash == Digest::of("v1"));
  b.fs.clear_faults();
  b.fs.apply({.kind = TreeOp::Kind::remove, .path = "/cfg/app.yaml"});
  b.check();
  b.check();
  BOOST_TEST(b.count(DecisionKind::missing) == 1);  // another cause: logged once too
  b.write("v3");
  b.check();
  BOOST_TEST(b.watch.status().hash == Digest::of("v3"));
}

// Issue 14 §5: active A, B refused, the file removed, B again, A again. Each step's log
// must say what the path holds: B back after `missing` is refused again (not silently),
// and A back is `restored`, the last word, though nothing is reloaded.
BOOST_AUTO_TEST_CASE(the_last_word_of_a_path_says_what_it_holds) {
  Bench b;
  b.write("bad B");
  b.check();
  b.fs.apply({.kind = TreeOp::Kind::remove, .path = "/cfg/app.yaml"});
  b.check();
  b.write("bad B");
  b.check();
  b.write("v1");
  b.check();
  b.check(Trigger::rehash);  // unchanged since: nothing more is said
  std::vector<DecisionKind> kinds;
  for (const auto& d : b.decisions) kinds.push_back(d.kind);
  const std::vector<DecisionKind> expected{DecisionKind::loaded, DecisionKind::rejected,
                                           DecisionKind::missing, DecisionKind::rejected,
                                           DecisionKind::restored};
  BOOST_TEST(kinds == expected, boost::test_tools::per_element());
  BOOST_TEST(b.offered.size() == 2u);  // v1 at load, B once: neither is offered again
  BOOST_TEST(b.decisions.back().hash == Digest::of("v1"));
  BOOST_TEST(b.watch.status().reloads == 0u);
  BOOST_TEST(b.watch.status().last_error.empty());
  // A failure that ends with the active content back is `restored` too.
  b.fs.inject_error(FsCall::open, errno_code(EIO), "/cfg");
  b.check(Trigger::rehash);
  b.fs.clear_faults();
  b.check(Trigger::rehash);
  BOOST_TEST(b.count(DecisionKind::read_error) == 1);
  BOOST_TEST(b.count(DecisionKind::restored) == 2);
}

// A poll trusts a signature only once it was read a whole timestamp tick after the file's
// last change: a same-size rewrite within that tick would leave it as it was (git's
// "racily clean" entries). Every Nth safety poll reads anyway.
BOOST_AUTO_TEST_CASE(a_signature_is_trusted_once_read_a_timestamp_tick_after_its_change) {
  Bench b;
  BOOST_TEST(b.reads_on(Trigger::safety_poll));  // the load had no clock: racy
  BOOST_TEST(b.reads_on(Trigger::poll));  // read 1 ms after v1's stamp: within a tick
  b.clock->advance(kTimestampTickMax);
  BOOST_TEST(b.reads_on(Trigger::poll));  // the first read past the tick
  BOOST_TEST(!b.reads_on(Trigger::poll));
  BOOST_TEST(!b.reads_on(Trigger::safety_poll));
  BOOST_TEST(b.reads_on(Trigger::safety_read));
  BOOST_TEST(b.reads_on(Trigger::rehash));
  BOOST_TEST(!b.reads_on(Trigger::event));
  b.write("v2");  // a change: racy again until read past its tick
  BOOST_TEST(b.reads_on(Trigger::poll));
  BOOST_TEST(b.reads_on(Trigger::poll));
  BOOST_TEST(b.offered.size() == 2u);  // v2 once
}

// The poll's shortcut vouches only for a trusted signature whose file still has it.
BOOST_AUTO_TEST_CASE(the_shortcut_holds_only_for_a_trusted_signature_at_rest) {
  Bench b;
  auto shortcut = [&](Trigger t) {
    LookupCache cache(b.fs);
    LinkWitness none;
    return b.watch.unchanged_since_last_look(cache, t, none);
  };
  BOOST_TEST(!shortcut(Trigger::poll));  // racy: the load came 1 ms after v1's stamp
  b.clock->advance(kTimestampTickMax);
  b.check(Trigger::poll);
  BOOST_TEST(shortcut(Trigger::poll));
  BOOST_TEST(shortcut(Trigger::safety_poll));
  for (Trigger t : {Trigger::safety_read, Trigger::retry, Trigger::event, Trigger::rehash})
    BOOST_TEST(!shortcut(t));
  b.write("v2");  // same size, a later stamp
  BOOST_TEST(!shortcut(Trigger::poll));
  b.check(Trigger::event);
  b.clock->advance(kTimestampTickMax);
  b.check(Trigger::poll);
  BOOST_TEST(shortcut(Trigger::poll));
  b.fs.apply({.kind = TreeOp::Kind::remove, .path = "/cfg/app.yaml"});
  BOOST_TEST(!shortcut(Trigger::poll));
  b.check(Trigger::poll);  // missing: no signature to vouch for
  b.write("v2");
  BOOST_TEST(!shortcut(Trigger::poll));
}

// Whole-second timestamps: a same-size rewrite in the second of the last read leaves every
// attribute as it was, and the next stat-only poll still finds it.
BOOST_AUTO_TEST_CASE(a_same_size_rewrite_in_the_tick_of_the_last_read_is_found_by_a_poll) {
  Bench b;
  b.fs.set_timestamp_granularity(1s);
  b.clock->advance(3s);
  b.write("v2");
  b.check(Trigger::poll);
  BOOST_REQUIRE(b.offered.size() == 2u);
  auto before = b.fs.lstat("/cfg/app.yaml");
  b.write("v3");
  BOOST_REQUIRE((*before == *b.fs.lstat("/cfg/app.yaml")));  // stat cannot tell
  b.check(Trigger::poll);
  BOOST_TEST(b.offered.size() == 3u);
  BOOST_TEST(b.watch.status().hash == Digest::of("v3"));
}

BOOST_AUTO_TEST_CASE(a_writer_at_work_is_retried_before_it_is_an_error) {
  Bench b;
  b.fs.inject_error(FsCall::open, errno_code(ENOENT), "/cfg");  // gone between walk and open
  b.write("v2");
  for (int round = 1; round <= 4; ++round) {
    b.check(Trigger::rehash);
    BOOST_TEST(b.watch.wants_retry());
    BOOST_TEST(b.count(DecisionKind::read_error) == 0);
  }
  b.check(Trigger::retry);  // the fifth unstable look in a row
  BOOST_TEST(b.count(DecisionKind::read_error) == 1);
  BOOST_TEST(b.decisions.back().error == Errc::unstable);
}

// NFS answers ESTALE for a handle whose file the server replaced (a publish during the
// read): a fresh walk finds the new file, and nothing is reported. A server that answers
// ESTALE to every read (restarted) is reported as such, not as a file that keeps changing.
BOOST_AUTO_TEST_CASE(a_stale_handle_is_read_again_and_a_stale_server_is_reported) {
  Bench b;
  b.write("v2");
  b.fs.inject_error(FsCall::read, errno_code(ESTALE), "/cfg", 1);
  b.check(Trigger::rehash);
  BOOST_TEST(b.count(DecisionKind::read_error) == 0);
  BOOST_TEST(b.watch.status().hash == Digest::of("v2"));

  b.write("v3");
  b.fs.inject_error(FsCall::read, errno_code(ESTALE), "/cfg");
  b.check(Trigger::rehash);
  BOOST_TEST(b.count(DecisionKind::read_error) == 1);
  BOOST_TEST((b.decisions.back().error == std::error_condition(ESTALE, std::generic_category())));
  BOOST_TEST(b.watch.status().hash == Digest::of("v2"));  // the last good content stays
}

BOOST_AUTO_TEST_CASE(interests_are_handed_over_once) {
  Bench b;
  b.check(Trigger::event);
  std::vector<Interest> first = b.watch.take_found().interests;
  BOOST_TEST(first.size() == 1u);  // (/cfg, app.yaml): the directory itself is the volume's
  BOOST_TEST(first[0].dir == "/cfg");
  BOOST_TEST(first[0].name == "app.yaml");
  BOOST_TEST(b.watch.take_found().interests.empty());
}

BOOST_AUTO_TEST_SUITE_END()

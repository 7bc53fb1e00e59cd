// Races between a hub's timers and its events, made deterministic: a hub without a thread,
// a clock that moves only when told, real files and real inotify, and an event source
// that hands a batch over one wait() late.
#include <boost/test/unit_test.hpp>
#include <cstdio>

#include "hotreload/hub.h"
#include "posix/posix_seams.h"
#include "test_support.h"

using namespace hotreload;
using namespace hotreload::test;

namespace {

class StepClock final : public Clock {
 public:
  SteadyTime now() const override { return now_; }
  WallTime wall_now() const override { return WallTime{}; }
  void advance(std::chrono::nanoseconds by) { now_ += by; }

 private:
  SteadyTime now_{std::chrono::hours(1)};
};

// Real inotify; when hold_next is set, the next batch read is kept back and handed over
// by the following wait(): the shape of a change that lands between the hub's wait() and
// a check in the same wakeup.
class LateEvents final : public EventSource {
 public:
  Result<int> add_watch(const std::string& p) override { return real_.add_watch(p); }
  void remove_watch(int wd) override { real_.remove_watch(wd); }
  std::error_code wait(std::chrono::nanoseconds timeout, std::vector<Event>& out) override {
    out.insert(out.end(), held_.begin(), held_.end());
    held_.clear();
    std::vector<Event> fresh;
    std::error_code ec = real_.wait(timeout, fresh);
    if (hold_next && !fresh.empty()) {
      held_ = std::move(fresh);
      hold_next = false;
    } else {
      out.insert(out.end(), fresh.begin(), fresh.end());
    }
    return ec;
  }
  void wake() override { real_.wake(); }

  bool hold_next = false;

 private:
  posix::InotifyEventSource real_;
  std::vector<Event> held_;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(hub_races)

BOOST_AUTO_TEST_CASE(a_safety_poll_that_races_the_event_of_its_change_keeps_events_mode) {
  TempDir dir;
  write_file(dir / "app.conf", "one");
  auto clock = std::make_shared<StepClock>();
  auto source = std::make_unique<LateEvents>();
  LateEvents& events = *source;
  auto hub = std::make_shared<Hub>(
      Seams{std::make_shared<posix::PosixFilesystem>(), std::move(source), clock});
  Recorder rec;
  Options o;
  o.mode = Mode::events;
  o.safety_interval = 10s;
  FileWatcher w(dir / "app.conf", rec.callback(), o, hub);
  w.start();
  hub->run_once(clock->now());  // the check that follows start()

  // An editor's save, whose IN_MOVED_TO is queued before rename(2) returns…
  write_file(dir / "app.conf.tmp", "two");
  BOOST_REQUIRE(std::rename((dir / "app.conf.tmp").c_str(), (dir / "app.conf").c_str()) == 0);
  // …but reaches the hub only after the safety poll of the same wakeup saw the change.
  events.hold_next = true;
  clock->advance(2 * o.safety_interval);
  hub->run_once(clock->now());

  BOOST_TEST(rec.accepted().back() == "two");
  BOOST_TEST(w.status().mode == ActiveMode::events);  // announced, only late: no fallback
}

BOOST_AUTO_TEST_SUITE_END()

// Races between a hub's timers and its events, made deterministic: a hub without a thread,
// a clock that moves only when told, real files and real inotify, and an event source
// that hands a batch over one wait() late.
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <vector>

#include "hotreload/file_watcher.h"

#include "hotreload/hub.h"
#include "posix/posix_seams.h"
#include "posix/thread_runner.h"
#include "test_support.h"

using namespace hotreload;
using namespace hotreload::test;

namespace {

class StepClock final : public Clock {
 public:
  SteadyTime now() const override { return now_; }
  // Real files are stamped by the real clock.
  WallTime wall_now() const override { return std::chrono::system_clock::now(); }
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

// The simulation runs on one thread, so it cannot see two callbacks of one watch at once;
// real threads can: the hub's (events), the runner's (a volume in poll mode), and callers
// asking for checks (check_all, as SIGHUP does). Under ThreadSanitizer this also checks
// every access around them.
BOOST_AUTO_TEST_SUITE(callbacks_one_at_a_time)

BOOST_AUTO_TEST_CASE(a_watch_callback_never_runs_on_two_threads_at_once) {
  using namespace std::chrono_literals;
  auto quiet = std::make_shared<spdlog::logger>("quiet", std::make_shared<spdlog::sinks::null_sink_mt>());
  auto hub = Hub::make_posix(quiet);
  for (Mode mode : {Mode::events, Mode::poll}) {
    TempDir dir;
    const std::string path = dir / "app.yaml";
    write_file(path, "v0");
    std::atomic<int> inside{0}, most{0}, calls{0};
    Options o;
    o.mode = mode;
    o.poll_interval = std::chrono::milliseconds(5);
    o.logger = quiet;
    FileWatcher watcher(path, [&](std::string_view) {
      int now = ++inside;
      for (int seen = most.load(); now > seen && !most.compare_exchange_weak(seen, now);) {
      }
      ++calls;
      std::this_thread::sleep_for(200us);
      --inside;
      return Verdict::accept();
    }, o, hub);
    watcher.start();
    std::atomic<bool> writing{true};
    std::thread asker([&] {
      while (writing.load()) {
        hub->check_all();
        std::this_thread::sleep_for(300us);
      }
    });
    for (int i = 1; i <= 150; ++i) {
      replace_file(path, "v" + std::to_string(i));
      std::this_thread::sleep_for(1ms);
    }
    writing = false;
    asker.join();
    BOOST_TEST(eventually([&] { return watcher.status().hash == Digest::of("v150"); }));
    BOOST_TEST(most.load() == 1, to_string(mode));
    BOOST_TEST(calls.load() > 10, to_string(mode) << ": " << calls.load() << " calls");
  }
}

BOOST_AUTO_TEST_SUITE_END()


// Checks with the runner hash with OpenSSL and log; a hub destroyed at exit (the shared
// one) must wait for them, but never for one stuck past its stall timeout.
BOOST_AUTO_TEST_SUITE(hub_exit)

namespace {
class RecordingRunner final : public CheckRunner {
 public:
  void run(std::function<void()> task) override {
    ++runs;
    real_.run(std::move(task));
  }
  void drain(std::chrono::nanoseconds patience) noexcept override {
    drains.push_back(patience);
    real_.drain(patience);
  }
  std::atomic<int> runs{0};
  std::vector<std::chrono::nanoseconds> drains;

 private:
  posix::ThreadRunner real_;
};
}  // namespace

BOOST_AUTO_TEST_CASE(a_destroyed_hub_drains_its_runner_for_the_longest_stall_timeout) {
  using namespace std::chrono_literals;
  auto runner = std::make_shared<RecordingRunner>();
  {
    Seams seams = posix::make_seams();
    seams.runner = runner;
    auto quiet = std::make_shared<spdlog::logger>("quiet", std::make_shared<spdlog::sinks::null_sink_mt>());
    auto hub = std::make_shared<Hub>(std::move(seams), quiet);
    hub->start_thread();
    TempDir dir;
    write_file(dir / "a.conf", "a");
    std::filesystem::create_directory(dir / "other");
    write_file(dir / "other/b.conf", "b");
    Options slow, fast;
    slow.mode = fast.mode = Mode::poll;
    slow.poll_interval = fast.poll_interval = 5ms;
    slow.logger = fast.logger = quiet;
    slow.stall_timeout = 7s;
    fast.stall_timeout = 2s;
    FileWatcher a(dir / "a.conf", [](std::string_view) { return Verdict::accept(); }, fast, hub);
    FileWatcher b(dir / "other/b.conf", [](std::string_view) { return Verdict::accept(); }, slow, hub);
    a.start();
    b.start();
    BOOST_REQUIRE(eventually([&] { return runner->runs.load() >= 4; }));
    BOOST_TEST(runner->drains.empty());
  }  // the watches stop, then the hub goes
  BOOST_REQUIRE_EQUAL(runner->drains.size(), 1u);
  BOOST_TEST((runner->drains[0] == std::chrono::nanoseconds(7s)));
}

BOOST_AUTO_TEST_SUITE_END()

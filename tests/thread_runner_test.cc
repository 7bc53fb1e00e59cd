// The real CheckRunner: tasks run away from the caller, a stuck one costs one thread, and
// drain() waits for the tasks still running but not for one stuck past its patience.
#include <boost/test/unit_test.hpp>
#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "posix/thread_runner.h"

using namespace std::chrono_literals;
using hotreload::posix::ThreadRunner;

namespace {
// A task that stays out until released; its destructor releases it and waits for it.
struct StuckTask {
  explicit StuckTask(ThreadRunner& runner) {
    runner.run([this, wait = unstick.get_future().share()] {
      wait.wait();
      finished.set_value();
    });
  }
  ~StuckTask() {
    unstick.set_value();
    done.wait();
  }
  std::promise<void> unstick, finished;
  std::future<void> done = finished.get_future();
};
}  // namespace

BOOST_AUTO_TEST_SUITE(thread_runner)

BOOST_AUTO_TEST_CASE(a_task_runs_on_another_thread_and_run_does_not_wait_for_it) {
  ThreadRunner runner;
  std::promise<void> go;
  std::promise<std::pair<bool, std::thread::id>> ran;
  runner.run([&, started = go.get_future().share()] {
    // Inline, run() would return only after this wait had timed out.
    bool after_run_returned = started.wait_for(10s) == std::future_status::ready;
    ran.set_value({after_run_returned, std::this_thread::get_id()});
  });
  go.set_value();
  auto [after_run_returned, thread] = ran.get_future().get();
  BOOST_TEST(after_run_returned);
  BOOST_TEST((thread != std::this_thread::get_id()));
}

BOOST_AUTO_TEST_CASE(a_stuck_task_delays_no_other_task) {
  ThreadRunner runner;
  StuckTask stuck(runner);
  std::promise<void> other;
  runner.run([&] { other.set_value(); });
  BOOST_TEST((other.get_future().wait_for(10s) == std::future_status::ready));
}

BOOST_AUTO_TEST_CASE(drain_waits_for_a_task_that_returns_within_its_patience) {
  ThreadRunner runner;
  std::atomic<bool> finished{false};
  runner.run([&] {
    std::this_thread::sleep_for(200ms);
    finished = true;
  });
  runner.drain(60s);
  BOOST_TEST(finished.load());
}

BOOST_AUTO_TEST_CASE(drain_gives_up_on_a_task_out_longer_than_its_patience) {
  ThreadRunner runner;
  auto before = std::chrono::steady_clock::now();  // patience counts from the task's run()
  StuckTask stuck(runner);
  runner.drain(100ms);
  auto waited = std::chrono::steady_clock::now() - before;
  BOOST_TEST((waited >= 100ms));  // it did wait for the patience, and then gave up
  BOOST_TEST((stuck.done.wait_for(0s) == std::future_status::timeout));  // still stuck
}

BOOST_AUTO_TEST_CASE(drain_returns_at_once_when_no_task_is_out) {
  ThreadRunner runner;
  std::promise<void> done;
  runner.run([&] { done.set_value(); });
  done.get_future().wait();
  auto before = std::chrono::steady_clock::now();
  runner.drain(60s);  // a task that has set its promise may still be winding up: bounded
  BOOST_TEST((std::chrono::steady_clock::now() - before < 30s));
}

BOOST_AUTO_TEST_SUITE_END()

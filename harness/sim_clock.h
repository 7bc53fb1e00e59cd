// SimClock: virtual time for the simulation.
//
// It starts at a fixed epoch (never the real time, so a run replays byte for byte) and
// moves only when the harness advances it: the scheduler between steps, and SimEvents
// when the hub "blocks" in wait().
#pragma once

#include <chrono>

#include "hotreload/clock.h"

namespace hotreload::harness {

class SimClock final : public Clock {
 public:
  // 2026-11-26T00:00:00Z on the wall; one day after the steady clock's zero.
  static WallTime wall_epoch();
  static SteadyTime steady_epoch() { return SteadyTime{std::chrono::hours(24)}; }

  SteadyTime now() const override { return now_; }
  WallTime wall_now() const override;

  // Never goes backwards: a time in the past is ignored.
  void advance_to(SteadyTime t);
  void advance(std::chrono::nanoseconds d) { advance_to(now_ + d); }
  std::chrono::nanoseconds elapsed() const { return now_ - steady_epoch(); }
  // Wall time as nanoseconds since the Unix epoch, for file timestamps.
  int64_t wall_ns() const;

 private:
  SteadyTime now_ = steady_epoch();
};

}  // namespace hotreload::harness

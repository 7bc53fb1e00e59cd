#include "sim_clock.h"

namespace hotreload::harness {

WallTime SimClock::wall_epoch() {
  using namespace std::chrono;
  return time_point_cast<system_clock::duration>(sys_days{year{2026} / November / 26});
}

WallTime SimClock::wall_now() const {
  return wall_epoch() +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(elapsed());
}

void SimClock::advance_to(SteadyTime t) {
  if (t > now_) now_ = t;
}

int64_t SimClock::wall_ns() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(wall_now().time_since_epoch())
      .count();
}

}  // namespace hotreload::harness

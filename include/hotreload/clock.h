// Clock: the watcher's only source of time.
//
// Timers live in the Hub; the clock only answers "now". The simulated clock in harness/
// starts at a fixed epoch and moves only when the harness advances it.
#pragma once

#include <chrono>

#include "hotreload/export.h"

namespace hotreload {

using SteadyTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;

class HOTRELOAD_EXPORT Clock {
 public:
  virtual ~Clock() = default;
  virtual SteadyTime now() const = 0;
  // For reports only ("last reload at"): never used to order or schedule anything.
  virtual WallTime wall_now() const = 0;
};

}  // namespace hotreload

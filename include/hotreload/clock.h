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
  // The clock files are stamped with: for reports ("last reload at"), and to tell whether
  // a file's attributes can vouch for its content yet (a file read within one timestamp
  // tick of its last change is read again). Never used to order or schedule anything.
  virtual WallTime wall_now() const = 0;
};

}  // namespace hotreload

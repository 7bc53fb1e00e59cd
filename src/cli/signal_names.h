// Signal names as operators write them: "HUP", "SIGHUP", "hup" or a number ("1").
#pragma once

#include <string>
#include <string_view>

#include "duration.h"

namespace hotreload::cli {

Parsed<int> parse_signal(std::string_view text);
std::string signal_name(int signo);  // "SIGHUP", or "signal 42"

}  // namespace hotreload::cli

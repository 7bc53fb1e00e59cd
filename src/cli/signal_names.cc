#include "signal_names.h"

#include <signal.h>

#include <array>
#include <cctype>
#include <charconv>

namespace hotreload::cli {

namespace {

struct Named {
  std::string_view name;  // without the SIG prefix
  int signo;
};

// The signals a reload is asked for with, and the few a supervisor might use instead.
constexpr std::array kSignals{
    Named{"HUP", SIGHUP},   Named{"INT", SIGINT},   Named{"QUIT", SIGQUIT},
    Named{"USR1", SIGUSR1}, Named{"USR2", SIGUSR2}, Named{"TERM", SIGTERM},
    Named{"KILL", SIGKILL}, Named{"CONT", SIGCONT}, Named{"WINCH", SIGWINCH},
    Named{"ALRM", SIGALRM},
};

}  // namespace

Parsed<int> parse_signal(std::string_view text) {
  int number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (!text.empty() && ec == std::errc() && end == text.data() + text.size()) {
    if (number >= 1 && number < NSIG) return number;
    return "invalid signal \"" + std::string(text) + "\": numbers run from 1 to " +
           std::to_string(NSIG - 1);
  }
  std::string upper;
  for (char c : text) upper.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  std::string_view bare = upper;
  if (bare.substr(0, 3) == "SIG") bare.remove_prefix(3);
  for (const Named& s : kSignals)
    if (s.name == bare) return s.signo;
  return "invalid signal \"" + std::string(text) +
         "\": use a name like HUP, USR1, USR2, TERM (with or without SIG) or a number";
}

std::string signal_name(int signo) {
  for (const Named& s : kSignals)
    if (s.signo == signo) return "SIG" + std::string(s.name);
  return "signal " + std::to_string(signo);
}

}  // namespace hotreload::cli

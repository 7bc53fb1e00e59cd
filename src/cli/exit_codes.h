// The exit codes of `hotreload`, as --help and the README document them.
#pragma once

namespace hotreload::cli {

inline constexpr int kExitOk = 0;            // done, or stopped by SIGTERM/SIGINT
inline constexpr int kExitInternal = 1;      // a bug or an unexpected system failure
inline constexpr int kExitUsage = 2;         // bad command line: unknown flag, bad value…
inline constexpr int kExitLoadFailed = 3;    // a file could not be loaded or was refused at start
inline constexpr int kExitListenFailed = 4;  // --metrics-listen could not bind (port in use…)

}  // namespace hotreload::cli

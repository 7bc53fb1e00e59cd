// The command line of `hotreload watch`, parsed into what the runner needs, with a
// sentence for every mistake and the --help text that teaches the flags.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "actions.h"
#include "command_line.h"
#include "duration.h"
#include "event_log.h"
#include "hotreload/options.h"
#include "hotreload/volume_watcher.h"
#include "metrics_server.h"
#include "validator.h"

namespace hotreload::cli {

struct WatchConfig {
  std::vector<std::string> paths;  // files, each watched alone
  std::vector<std::string> dirs;   // --dir: directories, each watched as one snapshot
  KeySelection keys;               // which files of a --dir are keys
  Options watch;  // mode, intervals, size limit (logger and on_decision are set later)
  ValidatorConfig validator;
  ActionConfig actions;
  std::string render_to;  // --render-to: where the accepted content is written
  bool envsubst = false;  // --envsubst: environment variables substituted first
  std::optional<ListenAddress> metrics_listen;
  // /healthz fails once a watch has been stalled this long (Options::stall_timeout is when
  // it becomes stalled).
  std::chrono::milliseconds unhealthy_after_stall{60'000};
  std::string metrics_prefix{kDefaultMetricsPrefix};
  LogFormat log_format = LogFormat::text;
  bool help = false;  // --help: print watch_usage() and exit 0
};

// Declares watch's flags on app (the tool's `watch` subcommand, or a command line of its
// own), parsed into c, which must outlive the parse; the rules between flags are
// registered with cl.
void declare_watch_options(CommandLine& cl, CLI::App& app, WatchConfig& c);

Parsed<WatchConfig> parse_watch_arguments(const std::vector<std::string>& args);

std::string watch_usage();

}  // namespace hotreload::cli

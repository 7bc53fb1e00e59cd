#include "watch_options.h"

#include <charconv>
#include <functional>
#include <map>
#include <set>

#include "exit_codes.h"
#include "signal_names.h"

namespace hotreload::cli {

std::string watch_usage() {
  return R"(Usage: hotreload watch [options] PATH...

Watches each PATH (e.g. every key of a ConfigMap volume: /etc/app/app.yaml), validates
every new content, and after an accepted change runs the actions you ask for. A content
that fails validation never triggers an action: the last good one stays active.

Detection:
  --mode auto|events|poll   auto (default): inotify events plus a safety poll, or polling
                            on volumes that miss remote changes (NFS, SMB, FUSE, Ceph, 9p…)
  --poll-interval DUR       how often poll mode looks (default 1s)
  --safety-interval DUR     how often events mode looks anyway (default 10s)
  --max-size SIZE           refuse larger files (default 16MiB)
  --allow-empty             accept an empty file (refused by default: usually a
                            writer caught mid-truncate)

Validation (before any action):
  --format json|yaml        syntax check with nlohmann_json / yaml-cpp
  --validate-cmd CMD        /bin/sh command; the new content on its stdin, HOTRELOAD_PATH
                            in its environment; exit 0 accepts, anything else refuses, and
                            the first line of its stderr is the reason
  --validate-timeout DUR    kill the validator after this (default 10s; counts as refusal)

Actions (after an accepted change, in this order, on a worker thread):
  --exec CMD                /bin/sh command with HOTRELOAD_PATH, HOTRELOAD_HASH and
                            HOTRELOAD_PREVIOUS_HASH (hex SHA-256) in its environment
  --exec-timeout DUR        kill it after this (default 30s)
  --signal SIG              send SIG (HUP, USR1, …) to --pid PID, or to the pid read
                            from --pid-file FILE just before each signal
  --webhook URL             POST {"path","hash","previous_hash"} as JSON; 2xx is success
  --webhook-retries N       retries after a failure, with backoff 0.5s, 1s, 2s… (default 3)
  --webhook-timeout DUR     per attempt (default 5s)
  A failed action is logged (event=action_failed) and counted, never fatal.

Observability:
  --log-format text|json    json: one object per line on stdout (see README, "JSON log
                            contract"); text (default): key=value lines
  --metrics-listen ADDR:PORT  serve /metrics (Prometheus) and /healthz, e.g. :9533
  --metrics-prefix PREFIX   metric name prefix (default hotreload_)

Durations: 500ms, 2s, 1.5s, 1m, 1h. Sizes: 1048576, 64KiB, 16MiB.

Exit codes:
  0  stopped by SIGTERM or SIGINT (clean)     3  a PATH could not be loaded at start
  1  internal error                           4  --metrics-listen could not bind
  2  bad command line

Example (a sidecar reloading nginx in a shared process namespace):
  hotreload watch --format yaml --signal HUP --pid-file /run/nginx.pid \
      --metrics-listen :9533 --log-format json /etc/app/app.yaml
)";
}

namespace {

using Setter = std::function<std::optional<std::string>(WatchConfig&, const std::string&)>;

template <class T, class Parse>
Setter into(T WatchConfig::*field, Parse parse) {
  return [field, parse](WatchConfig& c, const std::string& v) -> std::optional<std::string> {
    auto parsed = parse(v);
    if (auto* why = std::get_if<std::string>(&parsed)) return *why;
    c.*field = std::get<0>(std::move(parsed));
    return std::nullopt;
  };
}

template <class Assign>
Setter duration_into(Assign assign) {
  return [assign](WatchConfig& c, const std::string& v) -> std::optional<std::string> {
    auto d = parse_duration(v);
    if (auto* why = std::get_if<std::string>(&d)) return *why;
    assign(c, std::get<std::chrono::milliseconds>(d));
    return std::nullopt;
  };
}

std::optional<std::string> one_of(const std::string& flag, const std::string& v,
                                  std::initializer_list<const char*> choices) {
  for (const char* c : choices)
    if (v == c) return std::nullopt;
  std::string list;
  for (const char* c : choices) list += (list.empty() ? "" : ", ") + std::string(c);
  return "invalid " + flag + " \"" + v + "\": expected one of " + list;
}

const std::map<std::string, Setter>& flags_with_value() {
  static const std::map<std::string, Setter> flags{
      {"--mode",
       [](WatchConfig& c, const std::string& v) -> std::optional<std::string> {
         if (auto bad = one_of("--mode", v, {"auto", "events", "poll"})) return bad;
         c.watch.mode = v == "auto" ? Mode::automatic : v == "events" ? Mode::events : Mode::poll;
         return std::nullopt;
       }},
      {"--poll-interval", duration_into([](WatchConfig& c, auto d) { c.watch.poll_interval = d; })},
      {"--safety-interval",
       duration_into([](WatchConfig& c, auto d) { c.watch.safety_interval = d; })},
      {"--max-size",
       [](WatchConfig& c, const std::string& v) -> std::optional<std::string> {
         auto s = parse_size(v);
         if (auto* why = std::get_if<std::string>(&s)) return *why;
         c.watch.read_size_max = std::get<std::size_t>(s);
         return std::nullopt;
       }},
      {"--format",
       [](WatchConfig& c, const std::string& v) -> std::optional<std::string> {
         if (auto bad = one_of("--format", v, {"json", "yaml"})) return bad;
         c.validator.format = v == "json" ? ContentFormat::json : ContentFormat::yaml;
         return std::nullopt;
       }},
      {"--validate-cmd",
       [](WatchConfig& c, const std::string& v) -> std::optional<std::string> {
         if (v.empty()) return "--validate-cmd needs a command";
         c.validator.validate_command = v;
         return std::nullopt;
       }},
      {"--validate-timeout",
       duration_into([](WatchConfig& c, auto d) { c.validator.validate_timeout = d; })},
      {"--exec",
       [](WatchConfig& c, const std::string& v) -> std::optional<std::string> {
         if (v.empty()) return "--exec needs a command";
         c.actions.exec_command = v;
         return std::nullopt;
       }},
      {"--exec-timeout", duration_into([](WatchConfig& c, auto d) { c.actions.exec_timeout = d; })},
      {"--signal",
       [](WatchConfig& c, const std::string& v) -> std::optional<std::string> {
         auto s = parse_signal(v);
         if (auto* why = std::get_if<std::string>(&s)) return *why;
         c.actions.signal = std::get<int>(s);
         return std::nullopt;
       }},
      {"--pid",
       [](WatchConfig& c, const std::string& v) -> std::optional<std::string> {
         long pid = 0;
         auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), pid);
         if (v.empty() || ec != std::errc() || end != v.data() + v.size() || pid <= 0 ||
             pid > 4194304)
           return "invalid --pid \"" + v + "\": expected a process id (a positive number)";
         c.actions.pid = static_cast<pid_t>(pid);
         return std::nullopt;
       }},
      {"--pid-file",
       [](WatchConfig& c, const std::string& v) -> std::optional<std::string> {
         if (v.empty()) return "--pid-file needs a file name";
         c.actions.pid_file = v;
         return std::nullopt;
       }},
      {"--webhook",
       [](WatchConfig& c, const std::string& v) -> std::optional<std::string> {
         auto u = parse_webhook_url(v);
         if (auto* why = std::get_if<std::string>(&u)) return *why;
         if (!c.actions.webhook) c.actions.webhook.emplace();
         c.actions.webhook->url = v;
         c.actions.webhook->parsed = std::get<WebhookUrl>(u);
         return std::nullopt;
       }},
      {"--webhook-retries",
       [](WatchConfig& c, const std::string& v) -> std::optional<std::string> {
         unsigned n = 0;
         auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
         if (v.empty() || ec != std::errc() || end != v.data() + v.size() || n > 20)
           return "invalid --webhook-retries \"" + v + "\": expected a number from 0 to 20";
         if (!c.actions.webhook) c.actions.webhook.emplace();
         c.actions.webhook->retries = n;
         return std::nullopt;
       }},
      {"--webhook-timeout", duration_into([](WatchConfig& c, auto d) {
         if (!c.actions.webhook) c.actions.webhook.emplace();
         c.actions.webhook->timeout = d;
       })},
      {"--metrics-listen", into(&WatchConfig::metrics_listen, [](const std::string& v) {
         auto a = parse_listen_address(v);
         if (auto* why = std::get_if<std::string>(&a)) return Parsed<std::optional<ListenAddress>>(*why);
         return Parsed<std::optional<ListenAddress>>(std::optional(std::get<ListenAddress>(a)));
       })},
      {"--metrics-prefix",
       [](WatchConfig& c, const std::string& v) -> std::optional<std::string> {
         if (!is_valid_metric_prefix(v))
           return "invalid --metrics-prefix \"" + v +
                  "\": use letters, digits, '_' and ':', not starting with a digit";
         c.metrics_prefix = v;
         return std::nullopt;
       }},
      {"--log-format",
       [](WatchConfig& c, const std::string& v) -> std::optional<std::string> {
         if (auto bad = one_of("--log-format", v, {"text", "json"})) return bad;
         c.log_format = v == "json" ? LogFormat::json : LogFormat::text;
         return std::nullopt;
       }},
  };
  return flags;
}

// Checks that need every flag: pairs that only make sense together.
std::optional<std::string> check_combinations(const WatchConfig& c,
                                              const std::set<std::string>& seen) {
  if (c.paths.empty())
    return "no PATH to watch: give one or more files, e.g. hotreload watch /etc/app/app.yaml";
  std::set<std::string> unique;
  for (const auto& p : c.paths)
    if (!unique.insert(p).second) return "PATH " + p + " is given twice";
  const auto& a = c.actions;
  if (a.signal && !a.pid && a.pid_file.empty())
    return "--signal needs a target: add --pid PID or --pid-file FILE";
  if (!a.signal && (a.pid || !a.pid_file.empty()))
    return "--pid and --pid-file name the process for --signal, which is missing";
  if (a.pid && !a.pid_file.empty()) return "give --pid or --pid-file, not both";
  if (a.webhook && a.webhook->url.empty())
    return "--webhook-retries and --webhook-timeout need --webhook URL";
  if (seen.count("--exec-timeout") && a.exec_command.empty())
    return "--exec-timeout needs --exec CMD";
  if (seen.count("--validate-timeout") && c.validator.validate_command.empty())
    return "--validate-timeout needs --validate-cmd CMD";
  if (c.watch.mode == Mode::poll && seen.count("--safety-interval"))
    return "--safety-interval applies to events mode; in --mode poll use --poll-interval";
  return std::nullopt;
}

}  // namespace

Parsed<WatchConfig> parse_watch_arguments(const std::vector<std::string>& args) {
  WatchConfig config;
  std::set<std::string> seen;
  bool only_paths = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (only_paths || arg.empty() || arg[0] != '-' || arg == "-") {
      config.paths.push_back(arg);
      continue;
    }
    if (arg == "--") {
      only_paths = true;
      continue;
    }
    if (arg == "-h" || arg == "--help") {
      config.help = true;
      return config;
    }
    if (arg == "--allow-empty") {
      config.watch.allow_empty = true;
      continue;
    }
    std::string name = arg, value;
    bool inline_value = false;
    if (auto eq = arg.find('='); eq != std::string::npos && arg.rfind("--", 0) == 0) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      inline_value = true;
    }
    auto flag = flags_with_value().find(name);
    if (flag == flags_with_value().end())
      return "unknown option \"" + name + "\" (see hotreload watch --help)";
    if (!seen.insert(name).second) return "option " + name + " is given twice";
    if (!inline_value) {
      if (i + 1 >= args.size()) return "option " + name + " needs a value";
      value = args[++i];
    }
    if (auto why = flag->second(config, value)) return *why;
  }
  if (auto why = check_combinations(config, seen)) return *why;
  return config;
}

}  // namespace hotreload::cli

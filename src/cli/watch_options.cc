#include "watch_options.h"

#include <set>

#include "exit_codes.h"
#include "signal_names.h"

namespace hotreload::cli {

namespace {

constexpr const char* kDescription =
    "Watches files (e.g. every key of a ConfigMap volume), validates each change, and on an "
    "accepted change runs --exec, sends --signal, POSTs --webhook; serves Prometheus "
    "/metrics; logs text or JSON lines.\n\n"
    "A content that fails validation never triggers an action: the last good one stays "
    "active. Actions run in the order below, on a worker thread; a failed action is logged "
    "(event=action_failed) and counted, never fatal.";

constexpr const char* kFooter = R"(Durations: 500ms, 2s, 1.5s, 1m, 1h. Sizes: 1048576, 64KiB, 16MiB.
CMD: a /bin/sh command line, or a JSON array of strings, run without a shell (as container
runtimes do: for images without one), e.g. --exec '["/app/reload", "--now"]'.

Exit codes:
  0  stopped by SIGTERM or SIGINT (clean)     3  a PATH could not be loaded at start
  1  internal error                           4  --metrics-listen could not bind
  2  bad command line

Example (a sidecar reloading nginx in a shared process namespace):
  hotreload watch --format yaml --signal HUP --pid-file /run/nginx.pid \
      --metrics-listen :9533 --log-format json /etc/app/app.yaml)";

Parsed<std::string> command_text(std::string_view text) {
  return text.empty() ? text_error("needs a command") : text_value(text);
}

Parsed<std::string> file_name(std::string_view text) {
  return text.empty() ? text_error("needs a file name") : text_value(text);
}

Parsed<pid_t> process_id(std::string_view text) {
  auto n = whole_number(1, 4194304)(text);
  if (auto* pid = std::get_if<long>(&n)) return static_cast<pid_t>(*pid);
  return "invalid --pid \"" + std::string(text) + "\": expected a process id (a positive number)";
}

Parsed<std::string> metric_prefix(std::string_view text) {
  if (!is_valid_metric_prefix(std::string(text)))
    return text_error("invalid --metrics-prefix \"" + std::string(text) +
                      "\": use letters, digits, '_' and ':', not starting with a digit");
  return text_value(text);
}

WebhookConfig& webhook_of(WatchConfig& c) {
  if (!c.actions.webhook) c.actions.webhook.emplace();
  return *c.actions.webhook;
}

}  // namespace

void declare_watch_options(CommandLine& cl, CLI::App& app, WatchConfig& c) {
  app.description(kDescription);
  app.footer(kFooter);
  const Options defaults;
  using Ms = std::chrono::milliseconds;

  const char* group = "Detection";
  cl.value(app, "--mode", c.watch.mode,
           one_of<Mode>({{"auto", Mode::automatic}, {"events", Mode::events}, {"poll", Mode::poll}}),
           "auto|events|poll",
           "auto (default): inotify events plus a safety poll, or polling on volumes that miss "
           "remote changes (NFS, SMB, FUSE, Ceph, 9p…)")
      ->group(group);
  cl.value(app, "--poll-interval", c.watch.poll_interval, parse_duration, "DUR",
           "how often poll mode looks", format_duration(defaults.poll_interval))
      ->group(group);
  auto* safety = cl.value(app, "--safety-interval", c.watch.safety_interval, parse_duration, "DUR",
                          "how often events mode looks anyway",
                          format_duration(defaults.safety_interval));
  safety->group(group);
  cl.value(app, "--max-size", c.watch.read_size_max, parse_size, "SIZE", "refuse larger files",
           "16MiB")
      ->group(group);
  app.add_flag("--allow-empty", c.watch.allow_empty,
               "accept an empty file (refused by default: usually a writer caught mid-truncate)")
      ->group(group);

  group = "Validation (before any action)";
  cl.value(app, "--format", c.validator.format,
           one_of<ContentFormat>({{"json", ContentFormat::json}, {"yaml", ContentFormat::yaml}}),
           "json|yaml", "syntax check with nlohmann_json / yaml-cpp")
      ->group(group);
  auto* validate = cl.value(app, "--validate-cmd", c.validator.validate_command, command_text,
                            "CMD",
                            "the new content on its stdin, HOTRELOAD_PATH in its environment; "
                            "exit 0 accepts, anything else refuses, and the first line of its "
                            "stderr is the reason");
  validate->group(group);
  auto* validate_timeout =
      cl.value(app, "--validate-timeout", c.validator.validate_timeout, parse_duration, "DUR",
               "kill the validator (and its children) after this; counts as a refusal",
               format_duration(ValidatorConfig{}.validate_timeout));
  validate_timeout->group(group);
  cl.needs(validate_timeout, validate, "--validate-timeout needs --validate-cmd CMD");

  group = "Actions (after an accepted change, in this order)";
  auto* exec = cl.value(app, "--exec", c.actions.exec_command, command_text, "CMD",
                        "run with HOTRELOAD_PATH, HOTRELOAD_HASH and HOTRELOAD_PREVIOUS_HASH "
                        "(hex SHA-256) in its environment");
  exec->group(group);
  auto* exec_timeout = cl.value(app, "--exec-timeout", c.actions.exec_timeout, parse_duration,
                                "DUR", "kill it after this",
                                format_duration(ActionConfig{}.exec_timeout));
  exec_timeout->group(group);
  cl.needs(exec_timeout, exec, "--exec-timeout needs --exec CMD");
  auto* signal = cl.value<int>(
      app, "--signal", [&c](int s) { c.actions.signal = s; }, parse_signal, "SIG",
      "send SIG (HUP, USR1, …) to --pid PID, or to the pid read from --pid-file FILE just "
      "before each signal");
  signal->group(group);
  auto* pid = cl.value<pid_t>(app, "--pid", [&c](pid_t p) { c.actions.pid = p; }, process_id,
                              "PID", "the process --signal goes to");
  pid->group(group);
  auto* pid_file = cl.value(app, "--pid-file", c.actions.pid_file, file_name, "FILE",
                            "where to read that process's id, just before each signal");
  pid_file->group(group);
  const std::string no_signal = "--pid and --pid-file name the process for --signal, which is missing";
  cl.needs(pid, signal, no_signal);
  cl.needs(pid_file, signal, no_signal);
  cl.excludes(pid, pid_file, "give --pid or --pid-file, not both");
  cl.rule(app, [&c]() -> std::optional<std::string> {
    if (c.actions.signal && !c.actions.pid && c.actions.pid_file.empty())
      return "--signal needs a target: add --pid PID or --pid-file FILE";
    return std::nullopt;
  });
  auto* webhook = cl.value<std::string>(
      app, "--webhook",
      [&c](std::string url) {
        webhook_of(c).parsed = std::get<WebhookUrl>(parse_webhook_url(url));
        webhook_of(c).url = std::move(url);
      },
      [](std::string_view t) -> Parsed<std::string> {
        auto u = parse_webhook_url(t);
        if (auto* why = std::get_if<std::string>(&u)) return text_error(*why);
        return text_value(t);
      },
      "URL", "POST {\"path\",\"hash\",\"previous_hash\"} as JSON; 2xx is success");
  webhook->group(group);
  const WebhookConfig webhook_defaults;
  auto* retries = cl.value<long>(
      app, "--webhook-retries",
      [&c](long n) { webhook_of(c).retries = static_cast<unsigned>(n); },
      [](std::string_view t) -> Parsed<long> {
        auto n = whole_number(0, 20)(t);
        if (std::holds_alternative<std::string>(n))
          return "invalid --webhook-retries \"" + std::string(t) + "\": expected a number from 0 to 20";
        return n;
      },
      "N", "retries after a failure, with backoff 0.5s, 1s, 2s…",
      std::to_string(webhook_defaults.retries));
  retries->group(group);
  auto* webhook_timeout = cl.value<Ms>(
      app, "--webhook-timeout", [&c](Ms d) { webhook_of(c).timeout = d; }, parse_duration, "DUR",
      "per attempt", format_duration(webhook_defaults.timeout));
  webhook_timeout->group(group);
  const std::string no_webhook = "--webhook-retries and --webhook-timeout need --webhook URL";
  cl.needs(retries, webhook, no_webhook);
  cl.needs(webhook_timeout, webhook, no_webhook);

  group = "Observability";
  cl.value(app, "--log-format", c.log_format,
           one_of<LogFormat>({{"text", LogFormat::text}, {"json", LogFormat::json}}), "text|json",
           "json: one object per line on stdout (see README, \"JSON log contract\"); text "
           "(default): key=value lines")
      ->group(group);
  cl.value<ListenAddress>(
        app, "--metrics-listen", [&c](ListenAddress a) { c.metrics_listen = std::move(a); },
        parse_listen_address, "ADDR:PORT", "serve /metrics (Prometheus) and /healthz, e.g. :9533")
      ->group(group);
  cl.value(app, "--metrics-prefix", c.metrics_prefix, metric_prefix, "PREFIX",
           "metric name prefix", std::string(kDefaultMetricsPrefix))
      ->group(group);

  app.add_option("PATH", c.paths, "the files to watch");
  cl.rule(app, [&c, safety]() -> std::optional<std::string> {
    if (c.paths.empty())
      return "no PATH to watch: give one or more files, e.g. hotreload watch /etc/app/app.yaml";
    std::set<std::string> unique;
    for (const auto& p : c.paths)
      if (!unique.insert(p).second) return "PATH " + p + " is given twice";
    if (c.watch.mode == Mode::poll && safety->count() > 0)
      return "--safety-interval applies to events mode; in --mode poll use --poll-interval";
    return std::nullopt;
  });
}

Parsed<WatchConfig> parse_watch_arguments(const std::vector<std::string>& args) {
  WatchConfig config;
  CommandLine cl("hotreload watch", "");
  declare_watch_options(cl, cl.app(), config);
  auto result = cl.parse(args);
  switch (result.outcome) {
    case CommandLine::Result::Outcome::help:
      config.help = true;
      return config;
    case CommandLine::Result::Outcome::error:
      return result.message;
    default:
      return config;
  }
}

std::string watch_usage() {
  WatchConfig config;
  CommandLine cl("hotreload", "");
  CLI::App& watch = cl.command("watch", "");
  declare_watch_options(cl, watch, config);
  return cl.help(&watch);
}

}  // namespace hotreload::cli

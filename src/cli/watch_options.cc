#include "watch_options.h"

#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include "exit_codes.h"
#include "path_walk.h"
#include "signal_names.h"

namespace hotreload::cli {

namespace {

constexpr const char* kDescription =
    "Watches files, or whole directories such as a Kubernetes ConfigMap volume (--dir: every "
    "key, validated and acted on together as one snapshot, so keys published together are "
    "never seen apart), validates each change, and on an accepted change runs --exec, sends "
    "--signal, POSTs --webhook; serves Prometheus /metrics; logs text or JSON lines.\n\n"
    "A content that fails validation never triggers an action: the last good one stays "
    "active. Actions run in the order below, on a worker thread; a failed action is logged "
    "(event=action_failed) and counted, never fatal.";

constexpr const char* kFooter = R"(Durations: 500ms, 2s, 1.5s, 1m, 1h. Sizes: 1048576, 64KiB, 16MiB.
Paths mean what they mean to the kernel: in a/lnk/../f.yaml, '..' is the parent of lnk's
target (and lnk is watched); f.yaml and ./f.yaml are one file, given once. Names in logs,
webhooks and /metrics: a backslash doubled, control bytes and bytes that are not UTF-8 as
\xHH (lossless).
CMD: a /bin/sh command line, or a JSON array of strings, run without a shell (as container
runtimes do: for images without one), e.g. --exec '["/app/reload", "--now"]'; there an
argument's $(HOTRELOAD_DIR), $(HOTRELOAD_HASH)... is that variable's value.

Environment: every flag can be set by a variable instead, HOTRELOAD_ and the flag's name in
capitals with '_' for '-': HOTRELOAD_POLL_INTERVAL=2s, HOTRELOAD_WEBHOOK=http://...,
HOTRELOAD_LOG_FORMAT=json (--dir: HOTRELOAD_VOLUME_DIR). A flag given on the command line
wins. A repeatable flag takes one value per line; a switch takes true or false.

Exit codes:
  0  stopped by SIGTERM or SIGINT (clean)     3  a PATH or DIR could not be loaded at start
  1  internal error                           4  --metrics-listen could not bind
  2  bad command line (also: an empty PATH, a PATH ending in '/', one file or DIR twice)

Signals: SIGHUP checks every watch now (reads it again; logs event=recheck, then any change).
SIGTERM, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM stop cleanly (stopped lines, exit 0).

Example (a sidecar reloading nginx in a shared process namespace; the new nginx.conf is
checked together with the files it includes, in a private copy of the new snapshot):
  hotreload watch --dir /etc/nginx/conf.d \
      --validate-cmd 'nginx -t -q -c "$HOTRELOAD_DIR/nginx.conf"' \
      --signal HUP --pid-file /run/nginx.pid --metrics-listen :9533 --log-format json)";

Parsed<std::string> command_text(std::string_view text) {
  return text.empty() ? text_error("needs a command") : text_value(text);
}

Parsed<std::string> file_name(std::string_view text) {
  return text.empty() ? text_error("needs a file name") : text_value(text);
}

Parsed<std::string> directory_name(std::string_view text) {
  return text.empty() ? text_error("needs a directory") : text_value(text);
}

// A count flag's parser, whose error names the flag and what it expects.
ParseFn<long> count_of(const std::string& flag, long min, long max, const std::string& expected) {
  return [=](std::string_view t) -> Parsed<long> {
    auto n = whole_number(min, max)(t);
    if (std::holds_alternative<std::string>(n))
      return "invalid " + flag + " \"" + std::string(t) + "\": expected " + expected;
    return n;
  };
}

Parsed<std::string> process_name_text(std::string_view text) {
  if (text.empty()) return text_error("--process-name needs a name, e.g. nginx");
  if (text.find('/') != std::string_view::npos)
    return text_error("--process-name \"" + std::string(text) +
                      "\" holds a '/': give the command's name, e.g. nginx, not its path");
  return text_value(text);
}

Parsed<pid_t> process_id(std::string_view text) {
  auto n = whole_number(1, 4194304)(text);
  auto* pid = std::get_if<long>(&n);
  if (!pid)
    return "invalid --pid \"" + std::string(text) + "\": expected a process id (a positive number)";
  if (auto why = signal_target_refusal(static_cast<pid_t>(*pid))) return "--pid: " + *why;
  return static_cast<pid_t>(*pid);
}

Parsed<std::string> metric_prefix(std::string_view text) {
  if (!is_valid_metric_prefix(std::string(text)))
    return text_error("invalid --metrics-prefix \"" + std::string(text) +
                      "\": use letters, digits, '_' and ':', not starting with a digit");
  return text_value(text);
}

// --include/--exclude: fnmatch(3) patterns on the keys' relative paths.
Parsed<std::string> glob_pattern(std::string_view text) {
  if (text.empty()) return text_error("needs a pattern, e.g. '*.yaml'");
  if (text.front() == '/')
    return text_error("\"" + std::string(text) +
                      "\" never matches: keys are paths relative to the directory, e.g. "
                      "'rules/*.yaml'");
  if (text.back() == '/')
    return text_error("\"" + std::string(text) +
                      "\" never matches: patterns match files, e.g. 'rules/*'");
  return text_value(text);
}

// The same file under two spellings (f.yaml, ./f.yaml) would be two watches with one path
// in the log and /metrics, acting twice per change. Spellings are compared as the library
// stores them (absolute_normal: "." and "//" dropped, ".." kept, as the kernel needs it).
std::optional<std::string> given_twice(const std::vector<std::string>& given,
                                       const std::string& flag, const std::string& what) {
  std::map<std::string, const std::string*> seen;
  for (const std::string& g : given) {
    auto [it, added] = seen.emplace(absolute_normal(g), &g);
    if (added) continue;
    if (*it->second == g) return flag + g + " is given twice";
    return flag + *it->second + " and " + flag + g + " are the same " + what + " (" + it->first +
           "): give it once";
  }
  return std::nullopt;
}

// A file the tool reads later (a credential, a certificate): it must be there now.
ParseFn<std::string> readable_file(const std::string& flag) {
  return [flag](std::string_view text) -> Parsed<std::string> {
    if (text.empty()) return text_error(flag + " needs a file name");
    const std::string path(text);
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || ::access(path.c_str(), R_OK) != 0)
      return text_error(flag + " " + path + " cannot be read: " + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) return text_error(flag + " " + path + " is not a regular file");
    return text_value(text);
  };
}

std::optional<std::string> given_twice_url(const std::vector<WebhookUrl>& urls) {
  for (std::size_t i = 0; i < urls.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (urls[i].text == urls[j].text) return "--webhook " + urls[i].text + " is given twice";
  return std::nullopt;
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

  const char* group = "Directories (each watched as one snapshot of its keys)";
  auto* dir = cl.values<std::string>(
      app, "--dir,--volume-dir", [&c](std::string d) { c.dirs.push_back(std::move(d)); },
      directory_name, "DIR",
      "watch every key of DIR together: a ConfigMap volume's keys (read from the one publish "
      "..data names), or a plain directory's files; repeatable (--volume-dir is the same, as "
      "in configmap-reload)");
  dir->group(group);
  auto glob_flag = [&](const char* name, std::vector<std::string>& target, const char* help) {
    auto* option = cl.values<std::string>(
        app, name, [&target](std::string g) { target.push_back(std::move(g)); }, glob_pattern,
        "GLOB", help);
    option->group(group);
    return option;
  };
  auto* include = glob_flag("--include", c.keys.include,
                            "only keys matching GLOB (fnmatch: a GLOB with '/' matches the "
                            "key's relative path, e.g. 'rules/*.yaml', else its name); "
                            "repeatable");
  auto* exclude = glob_flag("--exclude", c.keys.exclude,
                            "leave out keys matching GLOB, after --include; repeatable");
  auto* recursive = app.add_flag("--recursive", c.keys.recursive,
                                 "plain directories: files in subdirectories are keys too (a "
                                 "ConfigMap's nested items always are)");
  recursive->group(group);
  auto* hidden = app.add_flag("--hidden", c.keys.hidden,
                              "plain directories: names starting with '.' are keys too (left "
                              "out by default: editors' swap files)");
  hidden->group(group);
  auto* keys_max = cl.value<long>(
      app, "--max-keys", [&c](long n) { c.keys.keys_max = static_cast<std::size_t>(n); },
      count_of("--max-keys", 1, 1'000'000, "a number of keys from 1 to 1000000"),
      "N", "refuse a snapshot of more keys", std::to_string(KeySelection{}.keys_max));
  keys_max->group(group);
  auto* total_max = cl.value(app, "--max-total-size", c.keys.total_size_max, parse_size, "SIZE",
                             "refuse a snapshot whose keys add up to more", "64MiB");
  total_max->group(group);
  const std::string no_dir =
      "--include, --exclude, --recursive, --hidden, --max-keys and --max-total-size choose the "
      "keys of a --dir DIR, which is missing";
  for (CLI::Option* o : {include, exclude, recursive, hidden, keys_max, total_max})
    cl.needs(o, dir, no_dir);

  group = "Detection";
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
                          "how often events mode looks anyway, for a change no event announced",
                          format_duration(defaults.safety_interval));
  safety->group(group);
  cl.value<long>(
      app, "--rehash-every", [&c](long n) { c.watch.rehash_every = static_cast<unsigned>(n); },
      count_of("--rehash-every", 0, 1'000'000, "a number of polls from 0 (never) to 1000000"),
      "N",
      "polls compare attributes (stat) and read a file only when they changed; every Nth "
      "poll reads and hashes every file anyway, for a rewrite stat cannot show (frozen or "
      "skewed timestamps, NFS attribute caching). 0: never",
      std::to_string(defaults.rehash_every))
      ->group(group);
  cl.value<long>(
      app, "--safety-rehash-every",
      [&c](long n) { c.watch.safety_rehash_every = static_cast<unsigned>(n); },
      count_of("--safety-rehash-every", 0, 1'000'000,
               "a number of safety polls from 0 (never) to 1000000"),
      "N",
      "the same for events mode's safety polls: every Nth reads and hashes every file (with "
      "the default --safety-interval, every 5 minutes), for a change both the events and "
      "the attributes missed. 0: never",
      std::to_string(defaults.safety_rehash_every))
      ->group(group);
  cl.value(app, "--stall-timeout", c.watch.stall_timeout, parse_duration, "DUR",
           "a look at a polled volume (NFS, FUSE…) still inside the kernel after this marks "
           "its PATH or DIR stalled (event=stalled, metric stalled_seconds); the other "
           "watches go on, and it resumes when the server answers",
           format_duration(defaults.stall_timeout))
      ->group(group);
  cl.value(app, "--max-size", c.watch.read_size_max, parse_size, "SIZE",
           "refuse larger files, and larger keys of a --dir", "16MiB")
      ->group(group);
  app.add_flag("--allow-empty", c.watch.allow_empty,
               "accept an empty file or key, or a --dir without keys (refused by default: "
               "usually a writer caught mid-truncate)")
      ->group(group);

  group = "Validation (before any action)";
  cl.value(app, "--format", c.validator.format,
           one_of<ContentFormat>({{"auto", ContentFormat::by_extension},
                                  {"json", ContentFormat::json},
                                  {"yaml", ContentFormat::yaml},
                                  {"none", ContentFormat::any}}),
           "auto|json|yaml|none",
           "syntax check (nlohmann_json, yaml-cpp). auto: by each file's or key's name, *.json "
           "as JSON, *.yaml and *.yml as YAML, others not; json, yaml: every file and key; "
           "none: no check",
           "auto")
      ->group(group);
  auto* validate = cl.value(app, "--validate-cmd", c.validator.validate_command, command_text,
                            "CMD",
                            "exit 0 accepts, anything else refuses, and the first line of its "
                            "stderr is the reason. A file: its new content on stdin, "
                            "HOTRELOAD_PATH. A --dir: stdin empty, HOTRELOAD_DIR a private "
                            "read-only copy of the new snapshot (made in $TMPDIR, removed "
                            "after), HOTRELOAD_PATH the DIR, and the keys as for --exec");
  validate->group(group);
  auto* validate_timeout =
      cl.value(app, "--validate-timeout", c.validator.validate_timeout, parse_duration, "DUR",
               "kill the validator (and its children) after this; counts as a refusal",
               format_duration(ValidatorConfig{}.validate_timeout));
  validate_timeout->group(group);
  cl.needs(validate_timeout, validate, "--validate-timeout needs --validate-cmd CMD");

  group = "Rendering (what the service reads)";
  auto* render_to = cl.value(
      app, "--render-to", c.render_to, file_name, "OUT",
      "write each accepted content to OUT, so that the service reads only validated content: "
      "a PATH's to the file OUT (replaced in one rename), a --dir's keys into the directory "
      "OUT as the kubelet lays out a ConfigMap (OUT/key through OUT/..data, switched in one "
      "rename). Written before the actions run; one that cannot be written refuses the "
      "content");
  render_to->group(group);
  auto* envsubst = app.add_flag(
      "--envsubst", c.envsubst,
      "substitute $VAR, ${VAR} and ${VAR:-default} from the environment in what --render-to "
      "writes ($$ is a $; $1 and the like stay); validation sees the rendered text; a "
      "variable that is not set and has no default refuses the content");
  envsubst->group(group);
  cl.needs(envsubst, render_to, "--envsubst needs --render-to OUT, where the rendered content goes");
  cl.rule(app, [&c]() -> std::optional<std::string> {
    if (c.render_to.empty()) return std::nullopt;
    if (c.paths.size() + c.dirs.size() != 1)
      return "--render-to writes one watch's content: give one PATH or one --dir DIR";
    const std::string out = absolute_normal(c.render_to);
    const std::string watched = absolute_normal(c.paths.empty() ? c.dirs[0] : c.paths[0]);
    if (out == watched || (!c.dirs.empty() && out.starts_with(watched + "/")) ||
        watched.starts_with(out + "/"))
      return "--render-to " + c.render_to + " overlaps the watched " + watched +
             ": render somewhere else (an emptyDir the service mounts)";
    return std::nullopt;
  });

  group = "Actions (after an accepted change, in this order)";
  auto* exec = cl.value(app, "--exec", c.actions.exec_command, command_text, "CMD",
                        "run with HOTRELOAD_PATH, HOTRELOAD_HASH and HOTRELOAD_PREVIOUS_HASH "
                        "(hex SHA-256) in its environment; for a --dir also HOTRELOAD_DIR and "
                        "HOTRELOAD_ADDED, HOTRELOAD_CHANGED, HOTRELOAD_REMOVED (the keys, one "
                        "per line). At most one action per path waits: newer content takes "
                        "its place (counted in action_superseded_total). Its stderr is passed "
                        "on whole");
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
                              "PID", "the process --signal goes to (never 1, the pause container or init)");
  pid->group(group);
  auto* pid_file = cl.value(app, "--pid-file", c.actions.pid_file, file_name, "FILE",
                            "where to read that process's id, just before each signal (a regular file only)");
  pid_file->group(group);
  auto* process_name = cl.value(
      app, "--process-name", c.actions.process_name, process_name_text, "NAME",
      "or the process called NAME (its command name or argv[0]'s last part), looked up just "
      "before each signal: in a pod with shareProcessNamespace: true, the service's process; "
      "its children of the same name (nginx's workers) are left out; none or several is an "
      "error");
  process_name->group(group);
  const std::string no_signal =
      "--pid, --pid-file and --process-name name the process for --signal, which is missing";
  cl.needs(pid, signal, no_signal);
  cl.needs(pid_file, signal, no_signal);
  cl.needs(process_name, signal, no_signal);
  const std::string one_target = "give one of --pid, --pid-file and --process-name";
  cl.excludes(pid, pid_file, one_target);
  cl.excludes(pid, process_name, one_target);
  cl.excludes(pid_file, process_name, one_target);
  cl.rule(app, [&c]() -> std::optional<std::string> {
    if (c.actions.signal && !c.actions.pid && c.actions.pid_file.empty() &&
        c.actions.process_name.empty())
      return "--signal needs a target: add --pid PID, --pid-file FILE or --process-name NAME";
    return std::nullopt;
  });
  auto* webhook = cl.values<WebhookUrl>(
      app, "--webhook,--webhook-url", [&c](WebhookUrl url) { webhook_of(c).urls.push_back(std::move(url)); },
      parse_webhook_url, "URL",
      "POST {\"path\",\"volume\",\"hash\",\"previous_hash\"} as JSON (a --dir adds "
      "\"added\",\"changed\",\"removed\"); 2xx is success. Delivered until accepted: a failure "
      "is tried again with backoff 0.5s, 1s, 2s… up to 10s, until the service accepts, newer "
      "content replaces it, or --webhook-retries. Repeatable: each URL gets every change");
  webhook->group(group);
  const WebhookConfig webhook_defaults;
  auto* retries = cl.value<long>(
      app, "--webhook-retries",
      [&c](long n) { webhook_of(c).retries = static_cast<unsigned>(n); },
      count_of("--webhook-retries", 0, 1'000'000, "a number from 0 to 1000000"),
      "N", "give up after N retries (logged as action_failed, \"gave up\")", "unlimited");
  retries->group(group);
  auto* webhook_timeout = cl.value<Ms>(
      app, "--webhook-timeout", [&c](Ms d) { webhook_of(c).timeout = d; }, parse_duration, "DUR",
      "the whole attempt: connect, send and the complete answer",
      format_duration(webhook_defaults.timeout));
  webhook_timeout->group(group);
  auto* method = cl.value<std::string>(
      app, "--webhook-method", [&c](std::string m) { webhook_of(c).method = std::move(m); },
      parse_webhook_method, "METHOD", "GET, POST, PUT, PATCH or DELETE (GET sends no body)",
      webhook_defaults.method);
  method->group(group);
  auto* header = cl.values<std::pair<std::string, std::string>>(
      app, "--webhook-header",
      [&c](std::pair<std::string, std::string> h) { webhook_of(c).headers.push_back(std::move(h)); },
      parse_webhook_header, "'NAME: VALUE'", "an HTTP header sent with every request; repeatable");
  header->group(group);
  auto file_flag = [&](const char* name, std::string WebhookConfig::*field, const char* help) {
    auto* option = cl.value<std::string>(
        app, name, [&c, field](std::string f) { webhook_of(c).*field = std::move(f); },
        readable_file(name), "FILE", help);
    option->group(group);
    return option;
  };
  auto* bearer = file_flag("--webhook-bearer-token-file", &WebhookConfig::bearer_token_file,
                           "send \"Authorization: Bearer\" with the token in FILE (a mounted "
                           "Secret: read at every attempt, never logged)");
  auto* basic = file_flag("--webhook-basic-auth-file", &WebhookConfig::basic_auth_file,
                          "HTTP basic auth with the user:password in FILE (read at every "
                          "attempt, never logged)");
  auto* ca = file_flag("--webhook-ca-file", &WebhookConfig::ca_file,
                       "trust the CA certificates (PEM) in FILE for https:// URLs, instead of "
                       "the system's");
  auto* cert = file_flag("--webhook-cert-file", &WebhookConfig::cert_file,
                         "client certificate (PEM) for mutual TLS, with --webhook-key-file");
  auto* key = file_flag("--webhook-key-file", &WebhookConfig::key_file,
                        "the client certificate's private key (PEM)");
  auto* expect = cl.value<long>(
      app, "--webhook-expect-status,--webhook-status-code",
      [&c](long n) { webhook_of(c).expect_status = static_cast<int>(n); },
      count_of("--webhook-expect-status", 100, 599, "an HTTP status from 100 to 599"), "CODE",
      "only this status is success (configmap-reload's --webhook-status-code); by default "
      "any 2xx");
  expect->group(group);
  auto* ready = cl.value<WebhookUrl>(
      app, "--ready-url", [&c](WebhookUrl u) { webhook_of(c).ready_url = std::move(u); },
      parse_webhook_url, "URL",
      "the service's readiness URL: before the first delivery and after a failure, GET it "
      "until it answers 2xx. Also delivers each PATH's and DIR's first content once the "
      "service is ready, and /readyz waits for a delivery");
  ready->group(group);
  const std::string no_webhook = " needs --webhook URL";
  for (CLI::Option* o : {retries, webhook_timeout, method, header, bearer, basic, ca, cert, key,
                         expect, ready})
    cl.needs(o, webhook, o->get_name() + no_webhook);
  cl.needs(cert, key, "--webhook-cert-file needs --webhook-key-file FILE, its private key");
  cl.needs(key, cert, "--webhook-key-file needs --webhook-cert-file FILE, its certificate");
  cl.excludes(bearer, basic, "give --webhook-bearer-token-file or --webhook-basic-auth-file, not both");
  cl.rule(app, [&c]() -> std::optional<std::string> {
    if (!c.actions.webhook) return std::nullopt;
    const WebhookConfig& w = *c.actions.webhook;
    bool credentials = !w.bearer_token_file.empty() || !w.basic_auth_file.empty();
    for (const auto& [name, value] : w.headers)
      if (credentials && (name.size() == 13 && strcasecmp(name.c_str(), "Authorization") == 0))
        return "--webhook-header " + name + " and a --webhook-*-file both set Authorization: "
               "give one";
    bool https = std::any_of(w.urls.begin(), w.urls.end(),
                             [](const WebhookUrl& u) { return u.origin.starts_with("https:"); });
    if (!https && (!w.ca_file.empty() || !w.cert_file.empty()))
      return "--webhook-ca-file and --webhook-cert-file are for https:// URLs, and every "
             "--webhook is http://";
    if (auto twice = given_twice_url(w.urls)) return twice;
    return std::nullopt;
  });

  group = "Observability";
  cl.value(app, "--log-format", c.log_format,
           one_of<LogFormat>({{"text", LogFormat::text}, {"json", LogFormat::json}}), "text|json",
           "json: one object per line on stdout (see README, \"JSON log contract\"); text "
           "(default): key=value lines")
      ->group(group);
  auto* listen = cl.value<ListenAddress>(
      app, "--metrics-listen", [&c](ListenAddress a) { c.metrics_listen = std::move(a); },
      parse_listen_address, "ADDR:PORT", "serve /metrics (Prometheus) and /healthz, e.g. :9533");
  listen->group(group);
  auto* unhealthy = cl.value(
      app, "--unhealthy-after-stall", c.unhealthy_after_stall, parse_duration, "DUR",
      "/healthz answers 503, naming the PATHs and DIRs, once one has been stalled this long "
      "(a liveness probe then restarts a pod whose volume is gone)",
      format_duration(WatchConfig{}.unhealthy_after_stall));
  unhealthy->group(group);
  cl.needs(unhealthy, listen, "--unhealthy-after-stall is about /healthz: add --metrics-listen ADDR:PORT");
  cl.value(app, "--metrics-prefix", c.metrics_prefix, metric_prefix, "PREFIX",
           "metric name prefix", std::string(kDefaultMetricsPrefix))
      ->group(group);

  // A subcommand's variables are read when it is the one given (CLI11 reads them at the
  // end of its parse when it has this callback), never for `hotreload probe`.
  if (app.get_parent()) app.parse_complete_callback([] {});
  cl.environment(app, "HOTRELOAD_",
                 {"HOTRELOAD_PATH", "HOTRELOAD_DIR", "HOTRELOAD_HASH", "HOTRELOAD_PREVIOUS_HASH",
                  "HOTRELOAD_ADDED", "HOTRELOAD_CHANGED", "HOTRELOAD_REMOVED"});
  app.add_option("PATH", c.paths,
                 "files to watch, each alone (keys that must change together: --dir); a "
                 "PATH ending in '/', '.' or '..' names a directory, never a file, and is "
                 "refused");
  cl.rule(app, [&c, safety]() -> std::optional<std::string> {
    if (c.paths.empty() && c.dirs.empty())
      return "no PATH or --dir DIR to watch: give files, e.g. hotreload watch /etc/app/app.yaml, "
             "or a directory, e.g. hotreload watch --dir /etc/app";
    for (const auto& p : c.paths) {
      if (p.empty()) return "a PATH is empty: give a file, e.g. /etc/app/app.yaml";
      if (names_only_a_directory(p))
        return "PATH " + p + " ends with '/', '.' or '..', so it names a directory, never a "
               "file (as for cat): give the file, or watch the directory with --dir " + p;
    }
    if (auto twice = given_twice(c.paths, "PATH ", "file")) return twice;
    if (auto twice = given_twice(c.dirs, "--dir ", "directory")) return twice;
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

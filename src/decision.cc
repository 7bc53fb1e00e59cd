#include "hotreload/decision.h"

#include <spdlog/spdlog.h>

#include "hotreload/errors.h"
#include "name_text.h"

namespace hotreload {

std::string_view to_string(Mode mode) {
  switch (mode) {
    case Mode::automatic: return "auto";
    case Mode::events: return "events";
    case Mode::poll: return "poll";
  }
  return "?";
}

std::string_view to_string(ActiveMode mode) {
  return mode == ActiveMode::events ? "events" : "poll";
}

std::string_view to_string(DecisionKind kind) {
  switch (kind) {
    case DecisionKind::loaded: return "loaded";
    case DecisionKind::reloaded: return "reloaded";
    case DecisionKind::rejected: return "rejected";
    case DecisionKind::read_error: return "read_error";
    case DecisionKind::missing: return "missing";
    case DecisionKind::mode: return "mode";
    case DecisionKind::slow_callback: return "slow_callback";
    case DecisionKind::stalled: return "stalled";
    case DecisionKind::resumed: return "resumed";
    case DecisionKind::restored: return "restored";
  }
  return "?";
}

namespace {

// Values with spaces or quotes are quoted so that key=value stays machine-splittable.
void append_value(std::string& out, std::string_view value) {
  bool plain = !value.empty() && value.find_first_of(" \"=\t\n") == std::string_view::npos;
  if (plain) {
    out.append(value);
    return;
  }
  out.push_back('"');
  for (char c : value) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c == '\n' ? ' ' : c);
  }
  out.push_back('"');
}

void append_field(std::string& out, std::string_view key, std::string_view value) {
  out.push_back(' ');
  out.append(key);
  out.push_back('=');
  append_value(out, value);
}

}  // namespace

std::string format_decision(const Decision& d) {
  std::string out = "event=";
  out.append(to_string(d.kind));
  append_field(out, "path", escape_name(d.path));
  if (d.hash) append_field(out, "hash", d.hash->short_hex());
  if (d.error) {
    append_field(out, "error", d.error.message());
    append_field(out, "errno", error_name(d.error));
  }
  // A read_error's or missing's detail is where the walk stopped: a name.
  bool detail_is_a_name = d.kind == DecisionKind::read_error || d.kind == DecisionKind::missing;
  if (!d.detail.empty())
    append_field(out, "detail", detail_is_a_name ? escape_name(d.detail) : std::string(d.detail));
  if (d.kind == DecisionKind::mode || d.kind == DecisionKind::loaded)
    append_field(out, "mode", to_string(d.mode));
  if (d.kind == DecisionKind::reloaded || d.kind == DecisionKind::slow_callback) {
    append_field(out, "latency_us", std::to_string(d.latency.count() / 1000));
    append_field(out, "callback_us", std::to_string(d.callback_duration.count() / 1000));
  }
  append_field(out, "reloads", std::to_string(d.reloads));
  append_field(out, "errors", std::to_string(d.errors));
  return out;
}

void log_decision(spdlog::logger& logger, const Decision& d) {
  auto level = spdlog::level::info;
  switch (d.kind) {
    case DecisionKind::rejected:
    case DecisionKind::read_error:
    case DecisionKind::missing:
    case DecisionKind::slow_callback:
    case DecisionKind::stalled: level = spdlog::level::warn; break;
    default: break;
  }
  logger.log(level, "{}", format_decision(d));
}

}  // namespace hotreload

#include "duration.h"

#include <charconv>
#include <cmath>
#include <utility>

namespace hotreload::cli {

namespace {

constexpr double kDurationMaxMs = 7 * 24 * 3600 * 1000.0;  // a week: anything longer is a typo

// Splits "12.5ms" into the number "12.5" and the unit "ms".
std::pair<std::string_view, std::string_view> split_unit(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
  return {text.substr(0, i), text.substr(i)};
}

}  // namespace

Parsed<std::chrono::milliseconds> parse_duration(std::string_view text) {
  const std::string quoted = "\"" + std::string(text) + "\"";
  auto [digits, unit] = split_unit(text);
  if (digits.empty())
    return "invalid duration " + quoted + ": expected a number and a unit, like 500ms, 2s or 1m";
  double value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || end != digits.data() + digits.size())
    return "invalid duration " + quoted + ": \"" + std::string(digits) + "\" is not a number";
  double scale_ms = 0;
  if (unit == "ms") scale_ms = 1;
  else if (unit == "s") scale_ms = 1000;
  else if (unit == "m") scale_ms = 60'000;
  else if (unit == "h") scale_ms = 3'600'000;
  else if (unit.empty())
    return "invalid duration " + quoted + ": a unit is required (ms, s, m or h), e.g. " +
           std::string(digits) + "s";
  else
    return "invalid duration " + quoted + ": unknown unit \"" + std::string(unit) +
           "\" (use ms, s, m or h)";
  double ms = value * scale_ms;
  if (ms < 1) return "invalid duration " + quoted + ": must be at least 1ms";
  if (ms > kDurationMaxMs) return "invalid duration " + quoted + ": must be at most 168h";
  return std::chrono::milliseconds(static_cast<long long>(std::llround(ms)));
}

Parsed<std::size_t> parse_size(std::string_view text) {
  const std::string quoted = "\"" + std::string(text) + "\"";
  auto [digits, unit] = split_unit(text);
  unsigned long long value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size())
    return "invalid size " + quoted + ": expected a whole number of bytes, optionally with "
           "KiB, MiB or GiB, like 16MiB";
  unsigned shift = 0;
  if (unit.empty() || unit == "B") shift = 0;
  else if (unit == "KiB" || unit == "K" || unit == "k") shift = 10;
  else if (unit == "MiB" || unit == "M") shift = 20;
  else if (unit == "GiB" || unit == "G") shift = 30;
  else
    return "invalid size " + quoted + ": unknown unit \"" + std::string(unit) +
           "\" (use B, KiB, MiB or GiB)";
  if (value == 0) return "invalid size " + quoted + ": must be at least 1 byte";
  if (value > (~0ull >> (shift + 1))) return "invalid size " + quoted + ": too large";
  return static_cast<std::size_t>(value << shift);
}

std::string format_duration(std::chrono::milliseconds d) {
  long long ms = d.count();
  if (ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace hotreload::cli

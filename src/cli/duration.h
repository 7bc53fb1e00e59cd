// Parsing the durations and sizes people type on a command line: "500ms", "2s", "1m",
// "1.5s"; "64KiB", "16MiB", "1048576". Every failure says what was wrong and what works.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <variant>

namespace hotreload::cli {

// A parsed value, or the sentence that explains why there is none.
template <class T>
using Parsed = std::variant<T, std::string>;

// "<number><unit>", unit one of ms, s, m, h; fractions allowed ("1.5s"); must be > 0.
Parsed<std::chrono::milliseconds> parse_duration(std::string_view text);

// "<integer>[unit]", unit one of B, KiB, MiB, GiB (or K, M, G: also powers of 1024).
Parsed<std::size_t> parse_size(std::string_view text);

// "500ms", "2s", "1m": the shortest exact spelling, for logs and --help defaults.
std::string format_duration(std::chrono::milliseconds d);

}  // namespace hotreload::cli

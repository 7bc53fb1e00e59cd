// name_text: how a file name (a path, a directory, a key) is written where only UTF-8 text
// may go — the JSON log, a webhook's body, a Prometheus label, the text log.
//
// A Linux file name is bytes, not text. It is written as it is, except:
//   - a backslash, written "\\";
//   - a control byte (0x00-0x1f, 0x7f) or a byte that is not part of a valid UTF-8
//     sequence, written "\xHH" (two lowercase hex digits).
// So the result is valid UTF-8 on one line, the same in every output, and lossless: two
// different names never give the same text, and reading "\\" as a backslash and "\xHH" as
// the byte HH gives the name back. A name that is printable UTF-8 without a backslash is
// written unchanged.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace hotreload {

// The length of the valid UTF-8 sequence that starts at text[i] (1 to 4), or 0 if the
// bytes there are not one (a stray continuation byte, an overlong form, a surrogate, a
// value past U+10FFFF, or a sequence cut short).
inline std::size_t utf8_sequence_length(std::string_view text, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) return 1;
  std::size_t n = 0;
  unsigned char low = 0x80, high = 0xbf;  // the range of the second byte
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0) low = 0xa0;   // no overlong form
    if (c == 0xed) high = 0x9f;  // no surrogate
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0) low = 0x90;   // no overlong form
    if (c == 0xf4) high = 0x8f;  // nothing past U+10FFFF
  } else {
    return 0;
  }
  if (i + n > text.size()) return 0;
  if (byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (std::size_t k = 2; k < n; ++k)
    if (byte(i + k) < 0x80 || byte(i + k) > 0xbf) return 0;
  return n;
}

inline std::string escape_name(std::string_view name) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(name.size());
  for (std::size_t i = 0; i < name.size();) {
    auto c = static_cast<unsigned char>(name[i]);
    std::size_t n = utf8_sequence_length(name, i);
    if (c == '\\') {
      out += "\\\\";
    } else if (n == 0 || c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
      n = 1;
    } else {
      out.append(name.substr(i, n));
    }
    i += n;
  }
  return out;
}

inline std::vector<std::string> escape_names(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  out.reserve(names.size());
  for (const std::string& name : names) out.push_back(escape_name(name));
  return out;
}

}  // namespace hotreload

// Digest: the SHA-256 of a config's content, the identity every decision is keyed on.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "hotreload/export.h"

namespace hotreload {

class HOTRELOAD_EXPORT Digest {
 public:
  static constexpr std::size_t kSize = 32;

  // SHA-256 of content (OpenSSL). Never fails for inputs that fit in memory.
  static Digest of(std::string_view content);

  // Initialises what hashing needs now, if anything: with OpenSSL's SHA256 functions,
  // nothing. With EVP (an OpenSSL built without them), its tables, which OpenSSL frees at
  // exit in the reverse order of registration; a Hub constructed after this call
  // (Hub::shared(), a static) is thus stopped before them, and its thread never hashes
  // into freed tables at exit.
  static void initialize() noexcept;

  std::string hex() const;         // 64 lowercase hex digits
  std::string short_hex() const;   // the first 12, for log lines meant for people

  const std::array<uint8_t, kSize>& bytes() const { return bytes_; }
  friend bool operator==(const Digest&, const Digest&) = default;

 private:
  std::array<uint8_t, kSize> bytes_{};
};

}  // namespace hotreload

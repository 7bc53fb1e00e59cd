#include "hotreload/digest.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <stdexcept>

namespace hotreload {

Digest Digest::of(std::string_view content) {
  Digest d;
  unsigned int size = 0;
  // EVP_Digest fails only on allocation failure inside OpenSSL.
  if (EVP_Digest(content.data(), content.size(), d.bytes_.data(), &size, EVP_sha256(),
                 nullptr) != 1 ||
      size != kSize)
    throw std::bad_alloc();
  return d;
}

// With no option, OPENSSL_init_crypto returns at once and registers nothing.
void Digest::initialize() noexcept { OPENSSL_init_crypto(OPENSSL_INIT_ADD_ALL_DIGESTS, nullptr); }

std::string Digest::hex() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(2 * kSize, '0');
  for (std::size_t i = 0; i < kSize; ++i) {
    out[2 * i] = kHex[bytes_[i] >> 4];
    out[2 * i + 1] = kHex[bytes_[i] & 0xF];
  }
  return out;
}

std::string Digest::short_hex() const { return hex().substr(0, 12); }

}  // namespace hotreload

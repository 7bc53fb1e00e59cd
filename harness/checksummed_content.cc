#include "checksummed_content.h"

#include "hotreload/digest.h"

namespace hotreload::harness {

namespace {

constexpr std::string_view kChecksumKey = "checksum=";
constexpr std::string_view kThrowLine = "throw=yes\n";

}  // namespace

std::string make_content(int version, ContentKind kind, std::size_t oversized_bytes) {
  std::string body = "version=" + std::to_string(version) + "\n";
  if (kind == ContentKind::throwing) body += kThrowLine;
  std::size_t checksum_line = kChecksumKey.size() + 12 + 1;
  std::size_t target = kind == ContentKind::oversized ? oversized_bytes : kContentSize;
  std::size_t used = body.size() + checksum_line;
  // Filler lines, so a torn read almost surely breaks the checksum.
  int line = 0;
  while (used < target) {
    std::string filler = "k" + std::to_string(line++) + "=" + std::to_string(version) + "\n";
    if (used + filler.size() > target) filler = std::string(target - used - 1, '#') + "\n";
    body += filler;
    used += filler.size();
  }
  std::string sum = Digest::of(body).short_hex();
  if (kind == ContentKind::corrupt) sum[0] = sum[0] == '0' ? '1' : '0';
  return body + std::string(kChecksumKey) + sum + "\n";
}

bool checksum_ok(std::string_view content) {
  if (content.empty() || content.back() != '\n') return false;
  auto at = content.rfind(kChecksumKey);
  if (at == std::string_view::npos || (at > 0 && content[at - 1] != '\n')) return false;
  std::string_view sum = content.substr(at + kChecksumKey.size());
  sum.remove_suffix(1);
  return sum == Digest::of(content.substr(0, at)).short_hex();
}

bool asks_to_throw(std::string_view content) {
  return content.find(kThrowLine) != std::string_view::npos;
}

}  // namespace hotreload::harness

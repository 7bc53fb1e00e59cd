// RareText: a string most of its holders never hold, at the cost of a pointer while
// empty (a std::string costs 32 bytes even then, kept ten thousand times: once per key).
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace hotreload {

class RareText {
 public:
  RareText() = default;
  explicit RareText(std::string_view text) { *this = text; }

  RareText& operator=(std::string_view text) {
    if (text.empty()) text_.reset();
    else text_ = std::make_unique<std::string>(text);
    return *this;
  }
  void clear() { text_.reset(); }
  // The text, or an empty string.
  const std::string& str() const {
    static const std::string nothing;
    return text_ ? *text_ : nothing;
  }

 private:
  std::unique_ptr<std::string> text_;
};

}  // namespace hotreload

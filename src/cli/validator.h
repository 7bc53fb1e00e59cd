// Validator: decides whether a new config may become the active one, before any action.
//
// First the built-in syntax check (--format json|yaml, with the parser's own line and
// column in the reason), then the operator's --validate-cmd (the content on its stdin;
// exit 0 accepts; the first line of its stderr is the reason). It is the FileWatcher's
// callback, so it runs on the hub thread: the command's timeout bounds how long it holds
// up every other watch.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "hotreload/file_watcher.h"

namespace hotreload::cli {

enum class ContentFormat { any, json, yaml };

struct ValidatorConfig {
  ContentFormat format = ContentFormat::any;
  std::string validate_command;  // empty: none
  std::chrono::milliseconds validate_timeout{10'000};
};

// Syntax only: nullopt if content parses as format, else the parser's message.
std::optional<std::string> check_syntax(ContentFormat format, std::string_view content);

class Validator {
 public:
  explicit Validator(ValidatorConfig config) : config_(std::move(config)) {}
  Verdict validate(const std::string& path, std::string_view content) const;

 private:
  ValidatorConfig config_;
};

}  // namespace hotreload::cli

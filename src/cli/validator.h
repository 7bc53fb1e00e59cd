// Validator: decides whether a new config may become the active one, before any action.
//
// First the built-in syntax check (--format, with the parser's own line and column in the
// reason), then the operator's --validate-cmd: exit 0 accepts; the first line of its
// stderr is the reason. It is the watchers' callback, so it runs on the hub thread: the
// command's timeout bounds how long it holds up every other watch.
//
// - A file: the content is on the command's stdin, HOTRELOAD_PATH names the file.
// - A directory's snapshot: every key is checked with the format its name calls for, and a
//   refusal names the key ("app.yaml: invalid YAML: …"). The command's stdin is empty;
//   HOTRELOAD_DIR names a private, read-only copy of the candidate snapshot (SnapshotCopy,
//   removed afterwards whatever happens), HOTRELOAD_PATH the watched directory, and
//   HOTRELOAD_ADDED/CHANGED/REMOVED the keys it changes (one per line).
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hotreload/snapshot.h"
#include "hotreload/watcher.h"

namespace hotreload::cli {

enum class ContentFormat {
  any,           // no syntax check (--format none)
  json,
  yaml,
  by_extension,  // --format auto: json for *.json, yaml for *.yaml and *.yml, else none
};

// The format to check the file or key called name with: configured, unless that is
// by_extension, which is resolved from name's extension (case does not matter).
ContentFormat format_for(ContentFormat configured, std::string_view name);

struct ValidatorConfig {
  ContentFormat format = ContentFormat::by_extension;
  std::string validate_command;  // empty: none
  std::chrono::milliseconds validate_timeout{10'000};
  std::string copy_parent;  // where snapshot copies are made; empty: default_copy_parent()
};

// Syntax only: nullopt if content parses as format, else the parser's message. Resolve
// by_extension with format_for first: by itself it checks nothing.
std::optional<std::string> check_syntax(ContentFormat format, std::string_view content);

class Validator {
 public:
  // warn hears what went wrong beside the verdict (a copy that could not be removed).
  explicit Validator(ValidatorConfig config, std::function<void(std::string_view)> warn = {});

  Verdict validate(const std::string& path, std::string_view content) const;
  Verdict validate(const Snapshot& snapshot) const;

 private:
  Verdict run_command(const std::string& stdin_content,
                      std::vector<std::pair<std::string, std::string>> environment) const;

  ValidatorConfig config_;
  std::function<void(std::string_view)> warn_;
};

}  // namespace hotreload::cli

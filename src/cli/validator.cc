#include "validator.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <sstream>

#include "key_changes.h"
#include "name_text.h"
#include "snapshot_copy.h"
#include "subprocess.h"

namespace hotreload::cli {

namespace {

// Receives a YAML stream's events and keeps none: only the parser's verdict matters.
class DiscardingHandler final : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

std::string lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Neither JSON nor YAML allows a NUL byte anywhere (YAML's printable set and JSON's
// strings both exclude it), and both parsers stop reading at one, accepting what came
// before: so the whole content is checked for one first. Lines and columns are 1-based.
std::optional<std::string> nul_byte(std::string_view format, std::string_view content) {
  auto at = content.find('\0');
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view before = content.substr(0, at);
  auto line = std::count(before.begin(), before.end(), '\n') + 1;
  auto line_start = before.find_last_of('\n');
  auto column = at - (line_start == std::string_view::npos ? 0 : line_start + 1) + 1;
  return "invalid " + std::string(format) + ": NUL byte at offset " + std::to_string(at) +
         " (line " + std::to_string(line) + ", column " + std::to_string(column) + ")";
}

}  // namespace

ContentFormat format_for(ContentFormat configured, std::string_view name) {
  if (configured != ContentFormat::by_extension) return configured;
  std::string_view base = name.substr(name.find_last_of('/') + 1);
  auto dot = base.find_last_of('.');
  if (dot == std::string_view::npos || dot == 0) return ContentFormat::any;  // none, or ".yaml"
  std::string extension = lowercase(base.substr(dot));
  if (extension == ".json") return ContentFormat::json;
  if (extension == ".yaml" || extension == ".yml") return ContentFormat::yaml;
  return ContentFormat::any;
}

std::optional<std::string> check_syntax(ContentFormat format, std::string_view content) {
  switch (format) {
    case ContentFormat::any:
    case ContentFormat::by_extension: return std::nullopt;
    case ContentFormat::json: {
      if (auto nul = nul_byte("JSON", content)) return nul;
      auto parsed = nlohmann::json::parse(content, nullptr, /*allow_exceptions=*/false);
      if (!parsed.is_discarded()) return std::nullopt;
      // Parse again with exceptions for the message: it names the line and column.
      try {
        [[maybe_unused]] auto discarded = nlohmann::json::parse(content);
      } catch (const nlohmann::json::exception& e) {
        return std::string("invalid JSON: ") + e.what();
      }
      return std::string("invalid JSON");
    }
    case ContentFormat::yaml:
      if (auto nul = nul_byte("YAML", content)) return nul;
      try {
        // Not YAML::LoadAll: on some invalid input (a lone ",") yaml-cpp 0.7 returns empty
        // documents forever without consuming a byte, and LoadAll never returns (found by
        // fuzz/cli_validators_fuzz.cc). Every real document takes at least one byte.
        std::istringstream in{std::string(content)};
        YAML::Parser parser(in);
        DiscardingHandler discard;
        for (std::size_t documents = 0; parser.HandleNextDocument(discard);)
          if (++documents > content.size())
            return std::string("invalid YAML: the parser makes no progress (stray flow "
                               "indicator such as ',' at the top level?)");
        return std::nullopt;
      } catch (const YAML::Exception& e) {
        // e.what() is "yaml-cpp: error at line L, column C: msg" (1-based).
        return std::string("invalid YAML: ") + e.what();
      }
  }
  return std::nullopt;
}

Validator::Validator(ValidatorConfig config, std::function<void(std::string_view)> warn)
    : config_(std::move(config)), warn_(std::move(warn)) {
  if (config_.copy_parent.empty()) config_.copy_parent = default_copy_parent();
}

Verdict Validator::validate(const std::string& path, std::string_view content) const {
  if (auto error = check_syntax(format_for(config_.format, path), content))
    return Verdict::reject(*error);
  if (config_.validate_command.empty()) return Verdict::accept();
  return run_command(std::string(content), {{"HOTRELOAD_PATH", path}});
}

Verdict Validator::validate(const Snapshot& snapshot) const {
  for (const auto& [key, entry] : snapshot.keys)
    if (auto error = check_syntax(format_for(config_.format, key), entry.content))
      return Verdict::reject(escape_name(key) + ": " + *error);
  if (config_.validate_command.empty()) return Verdict::accept();
  auto made = SnapshotCopy::make(snapshot, config_.copy_parent);
  if (auto* why = std::get_if<std::string>(&made))
    return Verdict::reject("cannot copy the snapshot for --validate-cmd: " + *why);
  SnapshotCopy& copy = *std::get<0>(made);
  auto environment = KeyChanges::of(snapshot).environment();
  environment.emplace_back("HOTRELOAD_DIR", copy.dir());
  environment.emplace_back("HOTRELOAD_PATH", snapshot.dir);
  Verdict verdict = run_command("", std::move(environment));
  if (auto left = copy.remove(); left && warn_) warn_(*left);
  return verdict;
}

Verdict Validator::run_command(const std::string& stdin_content,
                               std::vector<std::pair<std::string, std::string>> environment) const {
  CommandResult run = run_shell_command({
      .command = config_.validate_command,
      .stdin_content = stdin_content,
      .environment = std::move(environment),
      .timeout = config_.validate_timeout,
  });
  if (run.succeeded()) return Verdict::accept();
  // The validator's own words are the reason; when it could not run, or said nothing,
  // the reason says what happened to it instead.
  std::string said = run.first_stderr_line();
  bool ran = run.outcome == CommandResult::Outcome::exited && run.exit_status != 127 &&
             run.exit_status != 126;
  if (ran && !said.empty()) return Verdict::reject(said);
  if (ran) return Verdict::reject("validate command " + run.describe(config_.validate_timeout));
  return Verdict::reject("validate command: " + run.describe(config_.validate_timeout) +
                         (said.empty() ? "" : ": " + said));
}

}  // namespace hotreload::cli

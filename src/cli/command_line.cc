#include "command_line.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <iostream>
#include <sstream>

namespace hotreload::cli {

namespace {

constexpr std::size_t kNameColumn = 28;  // where option descriptions start

std::size_t columns(std::string_view text) {
  std::size_t n = 0;
  for (char c : text)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;  // not a UTF-8 continuation
  return n;
}

// "hotreload watch": the names from the root to app.
std::string command_path(const CLI::App* app) {
  std::string path = app->get_name();
  for (const CLI::App* p = app->get_parent(); p != nullptr; p = p->get_parent())
    path = p->get_name() + " " + path;
  return path;
}

bool has_commands(const CLI::App* app) {
  return !app->get_subcommands([](const CLI::App* s) { return !s->get_group().empty(); }).empty();
}

CLI::App* deepest(CLI::App* app) {
  for (;;) {
    auto given = app->get_subcommands();
    if (given.empty()) return app;
    app = given.front();
  }
}

const CLI::Option* option_named_in(const CLI::App* app, std::string_view message) {
  for (const CLI::Option* o : app->get_options()) {
    const std::string name = o->get_name();
    if (message.starts_with(name + ":") || message.starts_with(name + " ")) return o;
  }
  return nullptr;
}

// Sets the help layout and the help flag (subcommands inherit the formatter when created).
void set_up(CLI::App& app) {
  app.formatter(std::make_shared<HelpLayout>());
  app.set_help_flag("-h,--help", "this text");
}

}  // namespace

ParseFn<long> whole_number(long min, long max) {
  return [min, max](std::string_view text) -> Parsed<long> {
    long value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < min ||
        value > max)
      return "expected a whole number from " + std::to_string(min) + " to " +
             std::to_string(max) + ", not \"" + std::string(text) + "\"";
    return value;
  };
}

std::string wrap(std::string_view text, std::size_t width, std::size_t indent) {
  std::string out;
  const std::string pad(indent, ' ');
  std::size_t line_start = 0;  // index in text of the current source line
  bool first_line = true;
  while (line_start <= text.size()) {
    std::size_t nl = text.find('\n', line_start);
    std::string_view line =
        text.substr(line_start, nl == std::string_view::npos ? std::string_view::npos : nl - line_start);
    // Words of this line; a line's own leading spaces (a list's indent) are kept.
    // A line's own indent is kept; a list item ("  - …") continues under its text.
    std::size_t lead = line.find_first_not_of(' ');
    if (lead == std::string_view::npos) lead = 0;
    std::size_t continuation = line.substr(lead).starts_with("- ") ? lead + 2 : lead;
    std::string lead_pad(lead, ' ');
    std::string current = lead_pad;
    std::size_t used = columns(current);
    std::istringstream words{std::string(line)};
    bool empty_line = true;
    auto emit = [&] {
      out += (first_line ? "" : "\n" + pad) + current;
      first_line = false;
    };
    for (std::string word; words >> word;) {
      std::size_t w = columns(word);
      if (!empty_line && used + 1 + w > width) {
        emit();
        current = std::string(continuation, ' ') + word;
        used = columns(current);
      } else {
        current += (empty_line ? "" : " ") + word;
        used += (empty_line ? 0 : 1) + w;
      }
      empty_line = false;
    }
    emit();
    if (nl == std::string_view::npos) break;
    line_start = nl + 1;
  }
  return out;
}

std::string HelpLayout::make_usage(const CLI::App* app, std::string) const {
  std::string usage = "Usage: " + command_path(app);
  if (has_commands(app)) usage += " COMMAND";
  auto flags = app->get_options([app](const CLI::Option* o) {
    return o->nonpositional() && o != app->get_help_ptr() && !o->get_group().empty();
  });
  if (!flags.empty() || has_commands(app)) usage += " [options]";
  for (const CLI::Option* p : app->get_options([](const CLI::Option* o) { return o->get_positional(); })) {
    usage += " " + p->get_name();
    if (p->get_expected_max() > 1) usage += "...";
  }
  return usage + "\n";
}

std::string HelpLayout::make_option_name(const CLI::Option* option, bool) const {
  std::string names = option->get_name(false, true);
  std::string out;
  for (char c : names) out += c == ',' ? std::string(", ") : std::string(1, c);
  return out;
}

std::string HelpLayout::make_option_opts(const CLI::Option* option) const {
  if (!option->get_option_text().empty()) return " " + option->get_option_text();
  if (option->get_type_size() == 0) return {};
  return " " + option->get_type_name();
}

std::string HelpLayout::make_option_desc(const CLI::Option* option) const {
  std::string desc = option->get_description();
  if (!option->get_default_str().empty()) desc += " (default: " + option->get_default_str() + ")";
  return desc;
}

std::string HelpLayout::make_option(const CLI::Option* option, bool positional) const {
  std::string left = "  " + make_option_name(option, positional) + make_option_opts(option);
  std::string desc = make_option_desc(option);
  std::string out = left;
  if (columns(left) + 1 > kNameColumn) out += "\n" + std::string(kNameColumn, ' ');
  else out += std::string(kNameColumn - columns(left), ' ');
  return out + wrap(desc, kHelpColumns - kNameColumn, kNameColumn) + "\n";
}

std::string HelpLayout::make_subcommand(const CLI::App* command) const {
  std::string left = "  " + command->get_name();
  std::string out = left;
  if (columns(left) + 1 > kNameColumn) out += "\n" + std::string(kNameColumn, ' ');
  else out += std::string(kNameColumn - columns(left), ' ');
  // A command's first paragraph is its summary; the rest is for its own --help.
  const std::string& desc = command->get_description();
  return out + wrap(desc.substr(0, desc.find("\n\n")), kHelpColumns - kNameColumn, kNameColumn) +
         "\n";
}

std::string HelpLayout::make_help(const CLI::App* app, std::string name, CLI::AppFormatMode) const {
  std::string out = make_usage(app, name);
  if (!app->get_description().empty()) out += "\n" + wrap(app->get_description(), kHelpColumns, 0) + "\n";

  // Option groups in the order declared; the group holding --help comes last, --help last in it.
  const CLI::Option* help = app->get_help_ptr();
  std::vector<std::string> groups = app->get_groups();
  if (help) {
    auto it = std::find(groups.begin(), groups.end(), help->get_group());
    if (it != groups.end()) std::rotate(it, it + 1, groups.end());
  }
  for (const std::string& group : groups) {
    if (group.empty()) continue;  // hidden
    auto options = app->get_options([&](const CLI::Option* o) {
      return o->get_group() == group && o->nonpositional() && o != help;
    });
    if (help && help->get_group() == group) options.push_back(help);
    if (options.empty()) continue;
    out += "\n" + group + ":\n";
    for (const CLI::Option* o : options) out += make_option(o, false);
  }
  auto commands = app->get_subcommands([](const CLI::App* s) { return !s->get_group().empty(); });
  if (!commands.empty()) {
    out += "\nCommands:\n";
    for (const CLI::App* c : commands) out += make_subcommand(c);
  }
  if (!app->get_footer().empty()) out += "\n" + app->get_footer() + "\n";
  return out;
}

CommandLine::CommandLine(std::string name, std::string description, std::string footer)
    : app_(std::make_unique<CLI::App>(std::move(description), std::move(name))) {
  set_up(*app_);
  if (!footer.empty()) app_->footer(std::move(footer));
}

CLI::App& CommandLine::command(const std::string& name, const std::string& description,
                               const std::string& footer) {
  CLI::App* sub = app_->add_subcommand(name, description);
  set_up(*sub);
  if (!footer.empty()) sub->footer(footer);
  return *sub;
}

void CommandLine::environment(CLI::App& app, const std::string& prefix,
                              const std::vector<std::string>& reserved) {
  for (CLI::Option* option : app.get_options()) {
    if (option->get_positional() || option == app.get_help_ptr()) continue;
    for (const std::string& name : option->get_lnames()) {
      std::string variable = prefix + name;
      for (char& c : variable)
        c = c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      if (std::find(reserved.begin(), reserved.end(), variable) != reserved.end()) continue;
      option->envname(variable);
      if (option->get_multi_option_policy() == CLI::MultiOptionPolicy::TakeAll)
        option->delimiter('\n');
      break;
    }
  }
}

void CommandLine::needs(CLI::Option* option, CLI::Option* needed, std::string why) {
  option->needs(needed);
  reasons_[CLI::RequiresError(option->get_name(), needed->get_name()).what()] = std::move(why);
}

void CommandLine::excludes(CLI::Option* option, CLI::Option* excluded, std::string why) {
  option->excludes(excluded);
  reasons_[CLI::ExcludesError(option->get_name(), excluded->get_name()).what()] = why;
  reasons_[CLI::ExcludesError(excluded->get_name(), option->get_name()).what()] = std::move(why);
}

void CommandLine::rule(CLI::App& app, std::function<std::optional<std::string>()> check) {
  rules_.emplace_back(&app, std::move(check));
}

std::string CommandLine::explain(const CLI::ParseError& e, CLI::App* command) const {
  std::string what = e.what();
  if (auto reason = reasons_.find(what); reason != reasons_.end()) return reason->second;
  // What CLI11 could not place, if anything: an unknown option, command or argument.
  std::vector<std::string> extra = command->remaining();
  if (extra.empty()) extra = app_->remaining();
  const bool command_missing = dynamic_cast<const CLI::RequiredError*>(&e) &&
                               has_commands(command) && command->get_subcommands().empty();
  if (dynamic_cast<const CLI::ExtrasError*>(&e) || command_missing) {
    if (extra.empty()) return command_missing ? "no COMMAND given" : what;
    const std::string& first = extra.front();
    if (first.starts_with("-") && first != "-")
      return "unknown option \"" + first.substr(0, first.find('=')) + "\"";
    if (has_commands(command)) return "unknown command \"" + first + "\"";
    return "unexpected argument \"" + first + "\"";
  }
  if (dynamic_cast<const CLI::ArgumentMismatch*>(&e)) {
    if (const CLI::Option* o = option_named_in(command, what))
      return "option " + o->get_name() + (o->count() > 1 ? " is given twice" : " needs a value");
    return what;
  }
  if (dynamic_cast<const CLI::ValidationError*>(&e)) {
    // CLI11 says "NAME: why"; our sentences often name the flag already.
    if (const CLI::Option* o = option_named_in(command, what)) {
      std::string why = what.substr(o->get_name().size() + 1);
      if (why.starts_with(" ")) why.erase(0, 1);
      return why.find(o->get_name()) != std::string::npos ? why : o->get_name() + ": " + why;
    }
    return what;
  }
  return what;
}

CommandLine::Result CommandLine::parse(const std::vector<std::string>& args) {
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 pops from the back
  Result result;
  try {
    app_->parse(reversed);
  } catch (const CLI::CallForHelp&) {
    result.outcome = Result::Outcome::help;
    result.command = deepest(app_.get());
    return result;
  } catch (const CLI::CallForVersion& e) {
    result.outcome = Result::Outcome::version;
    result.command = app_.get();
    result.message = e.what();
    return result;
  } catch (const CLI::ParseError& e) {
    result.outcome = Result::Outcome::error;
    result.command = deepest(app_.get());
    result.message = explain(e, result.command);
    return result;
  }
  result.command = deepest(app_.get());
  for (const auto& [app, check] : rules_) {
    if (app != app_.get() && !app->parsed()) continue;
    if (auto why = check()) {
      result.outcome = Result::Outcome::error;
      result.message = *why;
      return result;
    }
  }
  return result;
}

CommandLine::Result CommandLine::parse(int argc, const char* const* argv) {
  return parse(std::vector<std::string>(argv + std::min(argc, 1), argv + argc));
}

std::string CommandLine::help(const CLI::App* app) const {
  if (app == nullptr) app = app_.get();
  // Not app->help(): that shows the subcommand given, if any, instead of app.
  return app->get_formatter()->make_help(app, app->get_name(), CLI::AppFormatMode::Normal);
}

int CommandLine::finish(const Result& result, int exit_usage) const {
  switch (result.outcome) {
    case Result::Outcome::help:
      std::cout << help(result.command);
      return 0;
    case Result::Outcome::version:
      std::cout << result.message << "\n";
      return 0;
    case Result::Outcome::error: {
      const std::string path = command_path(result.command);
      std::cerr << path << ": " << result.message << "\n";
      if (has_commands(result.command)) std::cerr << "\n" << help(result.command);
      else std::cerr << "Try '" << path << " --help'.\n";
      return exit_usage;
    }
    case Result::Outcome::run:
      break;
  }
  return 0;
}

}  // namespace hotreload::cli

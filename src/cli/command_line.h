// Every command line of hotreload — the tool and its subcommands, the benchmarks, the
// examples — is a CLI11 app set up here, so they share one help layout (usage line,
// description, option groups, footer; wrapped to kHelpColumns), one error style (a
// sentence that names the option and what is wrong), and our value parsers (durations,
// sizes, signals, URLs) as CLI11 validators.
//
// Adding a flag to a command is one call:
//   cl.value(app, "--poll-interval", config.poll_interval, parse_duration, "DUR",
//            "how often poll mode looks")->group("Detection");
// and a pair that only makes sense together is one more:
//   cl.needs(exec_timeout, exec, "--exec-timeout needs --exec CMD");
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "duration.h"

namespace hotreload::cli {

inline constexpr std::size_t kHelpColumns = 100;  // every --help fits a 100-column terminal

// A value parser: the value, or the sentence that says what is wrong with the text.
template <class T>
using ParseFn = std::function<Parsed<T>(std::string_view)>;

// Parsed<std::string> holds two strings (index 0 the value, 1 the sentence): say which.
inline Parsed<std::string> text_value(std::string_view text) {
  return Parsed<std::string>(std::in_place_index<0>, text);
}
inline Parsed<std::string> text_error(std::string why) {
  return Parsed<std::string>(std::in_place_index<1>, std::move(why));
}

// Names to values, for flags like --mode auto|events|poll.
template <class T>
ParseFn<T> one_of(std::vector<std::pair<std::string, T>> choices) {
  return [choices = std::move(choices)](std::string_view text) -> Parsed<T> {
    std::string names;
    for (const auto& [name, value] : choices) {
      if (name == text) return value;
      names += (names.empty() ? "" : ", ") + name;
    }
    return "expected one of " + names + ", not \"" + std::string(text) + "\"";
  };
}

// "5", "0": a whole number from min to max.
ParseFn<long> whole_number(long min, long max);

// The help layout shared by every command (usage line first, then the description, then
// the option groups in the order they were declared, then the footer).
class HelpLayout : public CLI::Formatter {
 public:
  std::string make_help(const CLI::App* app, std::string name,
                        CLI::AppFormatMode mode) const override;
  std::string make_usage(const CLI::App* app, std::string name) const override;
  std::string make_option_opts(const CLI::Option* option) const override;
  std::string make_option_name(const CLI::Option* option, bool positional) const override;
  std::string make_option_desc(const CLI::Option* option) const override;
  std::string make_option(const CLI::Option* option, bool positional) const override;
  std::string make_subcommand(const CLI::App* command) const override;
};

// Wraps text to width columns (counting UTF-8 characters), each line after the first
// starting with indent spaces; explicit newlines are kept.
std::string wrap(std::string_view text, std::size_t width, std::size_t indent);

class CommandLine {
 public:
  // name: the program as users type it ("hotreload", "latency_benchmark").
  CommandLine(std::string name, std::string description, std::string footer = {});
  CommandLine(const CommandLine&) = delete;
  CommandLine& operator=(const CommandLine&) = delete;

  CLI::App& app() { return *app_; }

  // A subcommand with the same layout and strictness.
  CLI::App& command(const std::string& name, const std::string& description,
                    const std::string& footer = {});

  // --name VALUE, checked by parse (its sentence is the error), then handed to store.
  // default_text, when given, is shown in --help as "(default: …)".
  template <class T>
  CLI::Option* value(CLI::App& app, const std::string& name,
                     std::function<void(T)> store, std::type_identity_t<ParseFn<T>> parse,
                     const std::string& value_name, const std::string& help,
                     const std::string& default_text = {}) {
    CLI::Option* option = app.add_option_function<std::string>(
        name, [store, parse](const std::string& text) { store(std::get<0>(parse(text))); }, help);
    option->check(checker(std::move(parse)));
    option->type_name(value_name);
    if (!default_text.empty()) option->default_str(default_text);
    return option;
  }

  // The same, stored into target.
  template <class T>
  CLI::Option* value(CLI::App& app, const std::string& name, T& target,
                     std::type_identity_t<ParseFn<T>> parse, const std::string& value_name,
                     const std::string& help, const std::string& default_text = {}) {
    return value<T>(
        app, name, [&target](T v) { target = std::move(v); }, std::move(parse), value_name, help,
        default_text);
  }

  // --name VALUE, repeatable ("--include a --include b"; each occurrence takes one value):
  // every value checked by parse, then handed to store in the order given.
  template <class T>
  CLI::Option* values(CLI::App& app, const std::string& name, std::function<void(T)> store,
                      std::type_identity_t<ParseFn<T>> parse, const std::string& value_name,
                      const std::string& help) {
    CLI::Option* option = app.add_option_function<std::vector<std::string>>(
        name,
        [store, parse](const std::vector<std::string>& texts) {
          for (const std::string& text : texts) store(std::get<0>(parse(text)));
        },
        help);
    option->type_size(1)->expected(1)->allow_extra_args(false);
    option->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    option->check(checker(std::move(parse)));
    option->type_name(value_name);
    return option;
  }

  // Every flag of app can also be given by an environment variable: prefix and its long
  // name in capitals, '-' as '_' (--poll-interval: HOTRELOAD_POLL_INTERVAL), or its next
  // long name when that variable is one of `reserved`. A flag on the command line wins. A
  // repeatable flag takes one value per line of the variable.
  void environment(CLI::App& app, const std::string& prefix,
                   const std::vector<std::string>& reserved);

  // Rules between flags, each with the sentence a user reads when it is broken.
  void needs(CLI::Option* option, CLI::Option* needed, std::string why);
  void excludes(CLI::Option* option, CLI::Option* excluded, std::string why);
  // A rule on the parsed values of app's flags, checked after CLI11's own (when app ran).
  void rule(CLI::App& app, std::function<std::optional<std::string>()> check);

  struct Result {
    enum class Outcome { run, help, version, error } outcome = Outcome::run;
    CLI::App* command = nullptr;  // the deepest (sub)command given
    std::string message;          // for error: the sentence
  };
  // args without the program name.
  Result parse(const std::vector<std::string>& args);
  Result parse(int argc, const char* const* argv);

  // What --help prints for app (this command line's root by default).
  std::string help(const CLI::App* app = nullptr) const;

  // Prints a help or an error result the way every command does and returns its exit code
  // (help and version: 0, on stdout; error: the sentence and a hint on stderr, exit_usage).
  int finish(const Result& result, int exit_usage = 2) const;

 private:
  // parse as a CLI11 validator: its sentence is the error.
  template <class T>
  static CLI::Validator checker(ParseFn<T> parse) {
    return CLI::Validator(
        [parse = std::move(parse)](std::string& text) {
          auto parsed = parse(text);
          return parsed.index() == 1 ? std::get<1>(parsed) : std::string();
        },
        "");
  }

  std::string explain(const CLI::ParseError& e, CLI::App* command) const;

  std::unique_ptr<CLI::App> app_;
  std::map<std::string, std::string> reasons_;  // CLI11's message -> our sentence
  std::vector<std::pair<CLI::App*, std::function<std::optional<std::string>()>>> rules_;
};

}  // namespace hotreload::cli

// The CLI11 layer every command line shares (src/cli/command_line.h): help layout and width,
// error sentences, subcommands, --version — through its functions and through the binary.
#include <boost/test/unit_test.hpp>

#include "cli_test_support.h"
#include "command_line.h"

using namespace hotreload;
using namespace hotreload::cli;
using namespace hotreload::test;

namespace {

std::size_t widest_line(const std::string& text) {
  std::size_t widest = 0, column = 0;
  for (char c : text) {
    if (c == '\n') column = 0;
    else if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) widest = std::max(widest, ++column);
  }
  return widest;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cli_command_line)

BOOST_AUTO_TEST_CASE(wrap_breaks_at_words_within_the_width_counting_utf8_characters) {
  std::string text = "αβγ δεζ ηθι κλμ νξο";  // 3 characters per word, 6 bytes
  BOOST_TEST(wrap(text, 7, 2) == "αβγ δεζ\n  ηθι κλμ\n  νξο");
  BOOST_TEST(wrap("  - one two three", 11, 0) == "  - one two\n    three");  // list items hang
  BOOST_TEST(wrap("a\n\nb", 10, 1) == "a\n \n b");                          // paragraphs kept
}

BOOST_AUTO_TEST_CASE(rules_and_parsers_give_our_sentences) {
  std::chrono::milliseconds every{0};
  std::string exec;
  bool rule_ran = false;
  CommandLine cl("tool", "Does a thing.");
  auto* exec_opt = cl.value(cl.app(), "--exec", exec, text_value, "CMD", "run it");
  auto* every_opt = cl.value(cl.app(), "--every", every, parse_duration, "DUR", "how often", "1s");
  cl.needs(every_opt, exec_opt, "--every needs --exec CMD");
  cl.rule(cl.app(), [&]() -> std::optional<std::string> {
    rule_ran = true;
    return every.count() > 60000 ? std::optional<std::string>("too slow") : std::nullopt;
  });
  using Outcome = CommandLine::Result::Outcome;
  auto r = cl.parse({"--every", "2s", "--exec", "x"});
  BOOST_TEST((r.outcome == Outcome::run));
  BOOST_TEST(every.count() == 2000);
  BOOST_TEST(rule_ran);
  BOOST_TEST(cl.parse({"--every", "2s"}).message == "--every needs --exec CMD");
  BOOST_TEST(cl.parse({"--every", "2x", "--exec", "x"}).message ==
             "--every: invalid duration \"2x\": unknown unit \"x\" (use ms, s, m or h)");
  BOOST_TEST(cl.parse({"--every", "2m", "--exec", "x"}).message == "too slow");
  BOOST_TEST(cl.parse({"--exec"}).message == "option --exec needs a value");
  BOOST_TEST(cl.parse({"--exec", "a", "--exec", "b"}).message == "option --exec is given twice");
  BOOST_TEST(cl.parse({"--nope=3"}).message == "unknown option \"--nope\"");
  BOOST_TEST(cl.parse({"stray"}).message == "unexpected argument \"stray\"");
  BOOST_TEST((cl.parse({"-h"}).outcome == Outcome::help));
  std::string help = cl.help();
  BOOST_TEST(help.starts_with("Usage: tool [options]\n\nDoes a thing.\n"));
  BOOST_TEST(contains(help, "  --every DUR               how often (default: 1s)\n"));
  BOOST_TEST(std::get<0>(one_of<int>({{"a", 1}, {"b", 2}})("b")) == 2);
  BOOST_TEST(std::get<1>(one_of<int>({{"a", 1}, {"b", 2}})("c")) == "expected one of a, b, not \"c\"");
  BOOST_TEST(std::get<1>(whole_number(0, 20)("21")) ==
             "expected a whole number from 0 to 20, not \"21\"");
}

BOOST_AUTO_TEST_CASE(every_help_of_the_tool_fits_100_columns_and_exits_0) {
  TempDir dir;
  std::vector<std::vector<std::string>> asks{{"help"},           {"--help"},
                                             {"watch", "--help"}, {"probe", "--help"},
                                             {"harness", "--help"}, {"help", "watch"},
                                             {"help", "probe"},   {"help", "harness"}};
  for (const auto& args : asks) {
    auto r = run_to_exit(kCli, args, dir / "stderr");
    BOOST_TEST(r.exit_status == 0, args.back());
    BOOST_TEST(r.out.starts_with("Usage: hotreload"), args.back());
    BOOST_TEST(widest_line(r.out) <= kHelpColumns, args.front() << " " << args.back() << ":\n" << r.out);
  }
  BOOST_TEST(run_to_exit(kCli, {"help", "watch"}, dir / "stderr").out ==
             run_to_exit(kCli, {"watch", "--help"}, dir / "stderr").out);
  auto unknown = run_to_exit(kCli, {"help", "frobnicate"}, dir / "stderr");
  BOOST_TEST(unknown.exit_status == 2);
  BOOST_TEST(contains(unknown.err, "unknown command \"frobnicate\""));
}

BOOST_AUTO_TEST_SUITE_END()

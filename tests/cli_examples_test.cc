// The example programs (environment mappings, feature flags, a rule file) as their users
// run them: --check on good and bad files, and as the sidecar's --validate-cmd.
#include <boost/test/unit_test.hpp>

#include "cli_test_support.h"

using namespace hotreload;
using namespace hotreload::test;

BOOST_AUTO_TEST_SUITE(cli_examples)

BOOST_AUTO_TEST_CASE(example_programs_accept_valid_and_refuse_invalid_configs) {
  const std::string bin = HOTRELOAD_EXAMPLES_DIR;
  TempDir dir;
  struct Case {
    std::string program, good, bad, reason;
  };
  std::vector<Case> cases{
      {"environment_mappings", "production:\n  db: postgres://db\ntest:\n  db: sqlite\n",
       "prod:\n  db: x\n", "unknown environment \"prod\""},
      {"feature_flags", "{\"flags\": {\"dark\": {\"enabled\": true, \"rollout_percent\": 10}}}",
       "{\"flags\": {\"dark\": {\"enabled\": true, \"rollout_percent\": 150}}}",
       "rollout_percent must be 0..100"},
      {"rule_file", "allow /api/public/\ndeny /api/\n", "allow /x\npermit /y\n", "line 2"},
  };
  for (const Case& c : cases) {
    write_file(dir / "good", c.good);
    write_file(dir / "bad", c.bad);
    auto good = run_to_exit(bin + "/" + c.program, {"--check", dir / "good"}, dir / "stderr");
    BOOST_TEST(good.exit_status == 0, c.program << ": " << good.err);
    auto bad = run_to_exit(bin + "/" + c.program, {"--check", dir / "bad"}, dir / "stderr");
    BOOST_TEST(bad.exit_status == 3, c.program);
    BOOST_TEST(contains(bad.err, c.reason), c.program << ": " << bad.err);
  }
  // An example as the sidecar's validator: the service's own parser guards the reload.
  KubeletVolume vol({{"flags.json", "{\"flags\": {\"a\": {\"enabled\": true}}}"}});
  CliProcess cli(kCli,
                 {"watch", "--log-format", "json", "--validate-cmd",
                  "f=$(mktemp) && cat > \"$f\" && " + bin + "/feature_flags --check \"$f\" >/dev/null; rc=$?; rm -f \"$f\"; exit $rc",
                  vol.key("flags.json")},
                 vol.scratch("stderr"));
  BOOST_REQUIRE(cli.wait_event("loaded"));
  vol.publish({{"flags.json", "{\"flags\": {\"a\": {}}}"}});
  auto rejected = cli.wait_event("rejected");
  BOOST_REQUIRE(rejected);
  BOOST_TEST(contains((*rejected)["error"], "needs \"enabled\""));
  BOOST_TEST(cli.stop() == 0);
}

BOOST_AUTO_TEST_SUITE_END()

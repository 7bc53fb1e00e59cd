#define BOOST_TEST_MODULE hotreload_cli
#include <signal.h>

#include <boost/test/unit_test.hpp>

// The CLI's command runner writes to pipes whose reader may be gone; like the CLI's own
// main, the tests take EPIPE as an error rather than die of SIGPIPE.
struct IgnoreSigpipe {
  IgnoreSigpipe() { ::signal(SIGPIPE, SIG_IGN); }
};
BOOST_TEST_GLOBAL_FIXTURE(IgnoreSigpipe);

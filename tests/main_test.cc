#define BOOST_TEST_MODULE hotreload
#include <boost/test/unit_test.hpp>

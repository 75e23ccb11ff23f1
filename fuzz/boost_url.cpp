// Boost.URL compiled into the relay target's fuzz library, so that its parser is instrumented
// too and the fuzzer learns the URL grammar on the way to our code.
#include <boost/url/src.hpp>

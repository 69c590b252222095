// Boost's assertion handler: every target is built with BOOST_ENABLE_ASSERT_DEBUG_HANDLER
// (CMakeLists.txt), so in builds without NDEBUG a failed BOOST_ASSERT lands here and aborts
// like assert() (with NDEBUG, BOOST_ASSERT checks nothing, as before).
// One exception: Boost 1.74's HTTP parser asserts n >= 5 when it resumes a chunked body
// whose final chunk it has already seen, but an empty body ("0\r\n" then "\r\n") can get
// there with 4 bytes when the peer sends "0\r\n" and the next byte in separate reads; the
// parser then correctly asks for more. A policy host or report endpoint could abort a
// debug build that way (found by tests/fuzz/policy_response_fuzz; fixed in Boost 1.86,
// boostorg/beast#2861), so that one assertion is ignored.
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <boost/assert.hpp>

namespace {

bool is_wrong_beast_chunk_assertion(std::string_view expr, std::string_view file) {
  return expr == "n >= 5" && file.ends_with("boost/beast/http/impl/basic_parser.ipp");
}

[[noreturn]] void fail(char const* expr, char const* msg, char const* function, char const* file, long line) {
  std::fprintf(stderr, "%s:%ld: %s: Assertion `%s'%s%s failed.\n", file, line, function, expr, msg ? ": " : "",
               msg ? msg : "");
  std::abort();
}

}  // namespace

namespace boost {

void assertion_failed(char const* expr, char const* function, char const* file, long line) {
  if (is_wrong_beast_chunk_assertion(expr, file)) return;
  fail(expr, nullptr, function, file, line);
}

void assertion_failed_msg(char const* expr, char const* msg, char const* function, char const* file, long line) {
  fail(expr, msg, function, file, line);
}

}  // namespace boost

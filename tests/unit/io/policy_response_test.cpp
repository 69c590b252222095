// RFC 8461 sec. 3.3 response rules: status, redirects, media type, and the
// sanitising of server-supplied text; Beast's response parser with the fetcher's limits.
#include "io/policy_response.hpp"

#include <utility>  // before Asio (Boost 1.74)
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <gtest/gtest.h>
#include "io/policy_fetcher.hpp"

namespace mtastsd::io {
namespace policy_response_test {

using core::FailureType;

TEST(IsTextPlain, ExactAndCaseInsensitive) {
  EXPECT_TRUE(is_text_plain("text/plain"));
  EXPECT_TRUE(is_text_plain("TEXT/Plain"));
}

TEST(IsTextPlain, ParametersAllowed) {
  EXPECT_TRUE(is_text_plain("text/plain; charset=utf-8"));
  EXPECT_TRUE(is_text_plain("text/plain;charset=UTF-8"));
  EXPECT_TRUE(is_text_plain("text/plain ; charset=utf-8"));
  EXPECT_TRUE(is_text_plain(" text/plain\t"));
}

TEST(IsTextPlain, OtherMediaTypesRejected) {
  EXPECT_FALSE(is_text_plain("text/html"));
  EXPECT_FALSE(is_text_plain("text/plainx"));
  EXPECT_FALSE(is_text_plain("text/plain-policy"));
  EXPECT_FALSE(is_text_plain("application/octet-stream"));
  EXPECT_FALSE(is_text_plain("text"));
  EXPECT_FALSE(is_text_plain(""));
  EXPECT_FALSE(is_text_plain(" ; charset=utf-8"));
  EXPECT_FALSE(is_text_plain("text/ plain"));
}

TEST(CheckPolicyResponse, OkIs200WithTextPlain) {
  EXPECT_EQ(check_policy_response(200, "", "text/plain; charset=utf-8"), std::nullopt);
}

TEST(CheckPolicyResponse, RedirectsAreNotFollowed) {
  for (unsigned status : {300u, 301u, 302u, 307u, 308u, 399u}) {
    auto failure = check_policy_response(status, "https://elsewhere.example/p", "text/plain");
    ASSERT_TRUE(failure) << status;
    EXPECT_EQ(failure->type, FailureType::sts_policy_fetch_error);
    EXPECT_NE(failure->detail.find("redirect to https://elsewhere.example/p"), std::string::npos) << failure->detail;
  }
}

TEST(CheckPolicyResponse, OtherStatusesFail) {
  for (unsigned status : {201u, 204u, 206u, 400u, 404u, 500u, 503u}) {
    auto failure = check_policy_response(status, "", "text/plain");
    ASSERT_TRUE(failure) << status;
    EXPECT_EQ(failure->type, FailureType::sts_policy_fetch_error);
    EXPECT_EQ(failure->detail, "HTTP status " + std::to_string(status));
  }
}

TEST(CheckPolicyResponse, StatusIsCheckedBeforeMediaType) {
  auto failure = check_policy_response(404, "", "text/html");
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->type, FailureType::sts_policy_fetch_error);
}

TEST(CheckPolicyResponse, WrongOrMissingMediaTypeIsPolicyInvalid) {
  auto html = check_policy_response(200, "", "text/html");
  ASSERT_TRUE(html);
  EXPECT_EQ(html->type, FailureType::sts_policy_invalid);
  EXPECT_EQ(html->detail, "Content-Type text/html is not text/plain");
  auto none = check_policy_response(200, "", "");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->type, FailureType::sts_policy_invalid);
}

TEST(Printable, ControlAndNonAsciiOctetsReplaced) {
  EXPECT_EQ(printable("a\tb\x01\x7f\xc3\xa9z"), "a?b????z");
}

TEST(Printable, CappedAtLimit) {
  const std::string longer(kPrintableLimit + 10, 'x');
  EXPECT_EQ(printable(longer), std::string(kPrintableLimit, 'x') + "...");
  const std::string exact(kPrintableLimit, 'y');
  EXPECT_EQ(printable(exact), exact);
}

// Regression (tests/fuzz/policy_response_fuzz): the bytes reach the parser as Beast's read
// loop hands them over, all that is buffered after each read; here one byte per read. The
// empty chunked body's "0\r\n" and its closing CRLF in separate reads tripped a wrong
// assertion of Boost 1.74 (util/boost_assert.cpp) and aborted builds without NDEBUG.
TEST(PolicyResponseParser, EmptyChunkedBodyArrivingByteByByte) {
  namespace http = boost::beast::http;
  http::response_parser<http::string_body> parser;
  parser.header_limit(kMaxPolicyHeaderBytes);
  parser.body_limit(FetchSettings{}.max_body);
  const std::string response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
  std::string buffered;
  for (const char byte : response) {
    ASSERT_FALSE(parser.is_done());
    buffered += byte;
    boost::system::error_code ec;
    buffered.erase(0, parser.put(boost::asio::buffer(buffered), ec));
    if (ec == http::error::need_more) continue;
    ASSERT_FALSE(ec) << ec.message();
  }
  ASSERT_TRUE(parser.is_done());
  EXPECT_EQ(parser.get().result_int(), 200u);
  EXPECT_EQ(parser.get().body(), "");
}

}  // namespace policy_response_test
}  // namespace mtastsd::io

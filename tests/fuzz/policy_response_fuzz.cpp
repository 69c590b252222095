// A policy host's HTTP response (RFC 8461 sec. 3.3) as io/policy_fetcher reads
// it, without the socket: Boost.Beast's response_parser with mtastsd's limits
// (kMaxPolicyHeaderBytes, FetchSettings::max_body) fed the bytes in reads of
// varying size, the header judged by check_policy_response, then the body read
// and parsed as a policy. Properties: the parser stops at its limits (a body
// never exceeds max_body); a response that passes the checks has status 200 and
// a text/plain type; what the checks quote from the server is printable and
// bounded; io::printable keeps its promise for any text.
#include <algorithm>
#include <utility>  // before Asio (Boost 1.74)
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include "core/sts_policy.hpp"
#include "fuzz_support.hpp"
#include "io/policy_fetcher.hpp"
#include "io/policy_response.hpp"

namespace {

namespace http = boost::beast::http;
using mtastsd::fuzz::is_printable;
using mtastsd::io::kPrintableLimit;

constexpr std::size_t kMaxQuote = kPrintableLimit + 3;  // printable(): then "..."

// The bytes of one connection as reads of at most read_size bytes, and what
// the parser has not taken yet (Beast's flat_buffer in the fetcher).
struct Connection {
  std::string_view unread;
  std::size_t read_size;
  std::string buffered;
};

// Reads until the header (async_read_header) or the whole message (async_read)
// is in; false on an error, left in `ec`.
bool read(http::response_parser<http::string_body>& parser, Connection& c, bool header_only,
          boost::system::error_code& ec) {
  while (!(header_only ? parser.is_header_done() : parser.is_done())) {
    std::size_t used = 0;
    if (!c.buffered.empty()) {
      used = parser.put(boost::asio::buffer(c.buffered), ec);
      c.buffered.erase(0, used);
      if (ec == http::error::need_more) ec = {};
      if (ec) return false;
    }
    if (used > 0) continue;
    if (c.unread.empty()) {  // the server closed the connection: what Beast's read does then
      if (!parser.got_some()) {
        ec = http::error::end_of_stream;
        return false;
      }
      parser.put_eof(ec);
      return !ec;
    }
    const std::size_t n = std::min(c.read_size, c.unread.size());
    c.buffered.append(c.unread.substr(0, n));
    c.unread.remove_prefix(n);
  }
  return true;
}

void check_response(std::string_view bytes, std::size_t read_size) {
  const std::size_t max_body = mtastsd::io::FetchSettings{}.max_body;
  http::response_parser<http::string_body> parser;
  parser.header_limit(mtastsd::io::kMaxPolicyHeaderBytes);
  parser.body_limit(max_body);
  Connection connection{bytes, read_size, {}};
  boost::system::error_code ec;
  const bool header_read = read(parser, connection, true, ec);
  const bool body_too_large = ec == http::error::body_limit;  // a Content-Length over the limit
  if (!header_read && !body_too_large) return;

  const auto& response = parser.get();
  const std::string content_type(response[http::field::content_type]);
  const auto rejected =
      mtastsd::io::check_policy_response(response.result_int(), response[http::field::location], content_type);
  if (rejected) {
    FUZZ_CHECK(is_printable(rejected->detail));
    return;
  }
  FUZZ_CHECK(response.result_int() == 200 && mtastsd::io::is_text_plain(content_type));
  if (body_too_large || !read(parser, connection, false, ec)) return;
  const std::string& body = parser.get().body();
  FUZZ_CHECK(body.size() <= max_body);
  (void)mtastsd::core::parse_sts_policy(body);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes = mtastsd::fuzz::as_text(data, size);
  const std::string quoted = mtastsd::io::printable(bytes);
  FUZZ_CHECK(is_printable(quoted) && quoted.size() <= kMaxQuote);
  // 1: every boundary; 4096: about what one TLS record delivers.
  for (const std::size_t read_size : {std::size_t{1}, std::size_t{4096}}) check_response(bytes, read_size);
  return 0;
}

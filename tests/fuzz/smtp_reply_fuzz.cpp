// SMTP replies (core/smtp_reply) as the MX prober reads them from a server: the
// input cut at each LF, each line added to one SmtpReplyReader in order, and
// every completed reply asked for its EHLO keywords and greeting host.
// Properties: a completed reply has a code in 200..559 and 1 to kMaxReplyLines
// lines, none holding an LF; over-long lines are refused; the summary and the
// greeting host are printable and bounded (they go into logs and reports).
#include <string>
#include "core/host_name.hpp"
#include "core/smtp_reply.hpp"
#include "fuzz_support.hpp"

namespace {

using namespace mtastsd::core;
using mtastsd::fuzz::is_printable;

constexpr std::size_t kMaxSummary = 300 + 3;  // smtp_reply.cpp kMaxSummary, then "..."

void check_reply(const SmtpReply& reply) {
  FUZZ_CHECK(reply.code >= 200 && reply.code <= 559);
  FUZZ_CHECK(!reply.lines.empty() && reply.lines.size() <= kMaxReplyLines);
  for (const std::string& line : reply.lines) {
    FUZZ_CHECK(line.find('\n') == std::string::npos);
    FUZZ_CHECK(line.size() + 4 <= kMaxReplyLineOctets);  // after "NNN-"
  }
  const std::string summary = reply.summary();
  FUZZ_CHECK(is_printable(summary) && summary.size() <= kMaxSummary);
  const std::string host = greeting_host(reply);
  FUZZ_CHECK(is_printable(host) && host.size() <= kMaxHostNameLength + 3);
  (void)ehlo_offers(reply, "STARTTLS");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  SmtpReplyReader reader;
  for (const std::string_view line : mtastsd::fuzz::lines_of(mtastsd::fuzz::as_text(data, size))) {
    const auto added = reader.add_line(line);
    if (line.size() > kMaxReplyLineOctets) FUZZ_CHECK(!added && added.error() == SmtpReplyError::line_too_long);
    if (added && *added) check_reply(**added);
  }
  return 0;
}

// Postfix <= 3.9 mail log lines (core/postfix_tls_log) as the log follower
// reads them: the input cut at each LF, every line fed in order to one
// correlator. It tracks only 4 processes here (the default is 4096), so
// forgetting the least recently seen one is exercised too. Properties: the
// process limit holds; an over-long line is refused whole; every event names a
// lowercase host-name report domain, leaves the policy to the aggregator and
// quotes Postfix's reason printable and bounded; failure details are printable.
#include "core/host_name.hpp"
#include "core/postfix_tls_log.hpp"
#include "fuzz_support.hpp"

namespace {

using namespace mtastsd::core;
using mtastsd::fuzz::is_printable;

constexpr std::size_t kTrackedProcesses = 4;
constexpr std::size_t kMaxReasonQuote = 200 + 3;  // postfix_tls_log.cpp kMaxReasonLength, then "..."

void check_event(const SessionEvent& event) {
  FUZZ_CHECK(is_host_name(event.report_domain) && event.report_domain == ascii_lowercase(event.report_domain));
  FUZZ_CHECK(event.policy.type == PolicyType::unknown && event.policy.domain == event.report_domain);
  FUZZ_CHECK(event.tlsrpt_record.empty());
  FUZZ_CHECK(event.failed == !event.failure_details.empty() && event.failure_details.size() <= 1);
  for (const FailureDetail& detail : event.failure_details) {
    FUZZ_CHECK(is_printable(detail.failure_reason_code) && detail.failure_reason_code.size() <= kMaxReasonQuote);
    FUZZ_CHECK(detail.receiving_mx_hostname == event.mx_hostname);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  PostfixTlsLogCorrelator correlator(kTrackedProcesses);
  for (std::string_view line : mtastsd::fuzz::lines_of(mtastsd::fuzz::as_text(data, size))) {
    if (line.ends_with('\n')) line.remove_suffix(1);
    const auto events = correlator.feed(line);
    FUZZ_CHECK(correlator.tracked_processes() <= kTrackedProcesses);
    if (line.size() > kMaxLogLineLength) FUZZ_CHECK(!events && events.error().error == LogLineError::too_long);
    if (!events) {
      FUZZ_CHECK(is_printable(events.error().detail));
      continue;
    }
    for (const SessionEvent& event : *events) check_event(event);
  }
  return 0;
}

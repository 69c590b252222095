// One libtlsrpt datagram (core/tlsrpt_datagram), as the TLS-RPT collector
// receives it from Postfix >= 3.10 on its datagram socket. Properties: beyond
// kMaxDatagramSize nothing is parsed; an accepted datagram yields one event per
// policy, each with a lowercase host-name domain, a known policy type and a
// domain of its own or the report domain; failure details are printable.
#include "core/host_name.hpp"
#include "core/tlsrpt_datagram.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mtastsd::core;
  const auto events = parse_tlsrpt_datagram(mtastsd::fuzz::as_text(data, size));
  if (size > kMaxDatagramSize) FUZZ_CHECK(!events && events.error().error == DatagramError::too_large);
  if (!events) {
    FUZZ_CHECK(mtastsd::fuzz::is_printable(events.error().detail));
    return 0;
  }
  FUZZ_CHECK(!events->empty());
  for (const SessionEvent& event : *events) {
    FUZZ_CHECK(is_host_name(event.report_domain) && event.report_domain == ascii_lowercase(event.report_domain));
    FUZZ_CHECK(event.policy.type != PolicyType::unknown);
    FUZZ_CHECK(is_host_name(event.policy.domain) && event.policy.domain == ascii_lowercase(event.policy.domain));
    FUZZ_CHECK(event.report_domain == events->front().report_domain);
    FUZZ_CHECK(event.tlsrpt_record == events->front().tlsrpt_record);
  }
  return 0;
}

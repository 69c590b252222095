// DANE discovery as a coroutine over the io layer; see the header.
#include "daemon/dane_discovery.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include "daemon/discovery_trace.hpp"
#include "io/dns_rdata.hpp"

namespace mtastsd::daemon {
namespace {

using Outcome = std::expected<io::DnsAnswer, io::DnsError>;

core::DaneDnsAnswer dane_answer(const Outcome& outcome) {
  core::DaneDnsAnswer a;
  if (!outcome) {
    const bool bogus = outcome.error().kind == io::DnsErrorKind::bogus;
    a.status = bogus ? core::DaneDnsStatus::bogus : core::DaneDnsStatus::failed;
    a.detail = fmt::format("{} ({})", io::to_string(outcome.error().kind), outcome.error().detail);
    return a;
  }
  a.secure = outcome->secure;
  a.ttl = util::Seconds(outcome->ttl);
  a.records = outcome->records;
  if (outcome->rcode == io::DnsRcode::nxdomain)
    a.status = core::DaneDnsStatus::nxdomain;
  else if (outcome->rcode == io::DnsRcode::nodata || a.records.empty())
    a.status = core::DaneDnsStatus::nodata;
  else
    a.status = core::DaneDnsStatus::records;
  return a;
}

// "secure, 2 record(s) ttl=300", "insecure, NXDOMAIN ttl=60", "bogus (why)".
std::string describe(const core::DaneDnsAnswer& a) {
  switch (a.status) {
    case core::DaneDnsStatus::failed:
    case core::DaneDnsStatus::bogus: return a.detail;
    case core::DaneDnsStatus::nxdomain:
    case core::DaneDnsStatus::nodata:
      return fmt::format("{}, {} ttl={}", a.secure ? "secure" : "insecure",
                         a.status == core::DaneDnsStatus::nxdomain ? "NXDOMAIN" : "no records", a.ttl.count());
    case core::DaneDnsStatus::records: break;
  }
  return fmt::format("{}, {} record(s) ttl={}", a.secure ? "secure" : "insecure", a.records.size(), a.ttl.count());
}

}  // namespace

boost::asio::awaitable<core::DaneDecision> discover_dane(io::DnsResolver& dns, const std::string& domain,
                                                         std::vector<std::string>* trace) {
  const core::DaneDnsAnswer mx = dane_answer(co_await dns.query(domain, io::rrtype::mx));
  add_trace_line(trace, fmt::format("MX {}: {}{}{}", domain, describe(mx), mx.records.empty() ? "" : ": ",
                                    fmt::join(mx.records, " ")));

  std::vector<core::HostTlsa> tlsa;
  if (const auto candidates = core::dane_candidates(domain, mx)) {
    std::vector<std::string> names;
    for (const auto& host : candidates->hosts) names.push_back("_25._tcp." + host);  // RFC 7672 sec. 2.2.3
    const auto answers = co_await dns.query_all(names, io::rrtype::tlsa);
    for (std::size_t i = 0; i < answers.size(); ++i) {
      core::DaneDnsAnswer answer = dane_answer(answers[i]);
      add_trace_line(trace, fmt::format("TLSA {}: {}", names[i], describe(answer)));
      for (const auto& record : answer.records)
        add_trace_line(trace, fmt::format("TLSA {}: {} ({})", names[i], record,
                                          core::tlsa_usable(record) ? "usable" : "unusable"));
      tlsa.push_back({candidates->hosts[i], std::move(answer)});
    }
    if (candidates->truncated)
      add_trace_line(trace, fmt::format("only the first {} MX hosts were checked", core::kMaxDaneHosts));
  }
  core::DaneDecision decision = core::decide_dane(domain, mx, tlsa);
  add_trace_line(trace, fmt::format("DANE {}: {}: {}", domain, core::to_string(decision.verdict), decision.reason));
  co_return decision;
}

}  // namespace mtastsd::daemon

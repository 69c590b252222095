// RFC 8461 discovery steps as coroutines over the io layer; see the header.
#include "daemon/policy_discovery.hpp"

#include <fmt/format.h>
#include "core/sts_policy.hpp"
#include "core/sts_record.hpp"
#include "daemon/discovery_trace.hpp"
#include "io/dns_rdata.hpp"

namespace mtastsd::daemon {

boost::asio::awaitable<core::TxtOutcome> discover_sts_record(io::DnsResolver& dns, const std::string& domain,
                                                             std::vector<std::string>* trace) {
  const std::string name = "_mta-sts." + domain;
  auto answer = co_await dns.query(name, io::rrtype::txt);
  core::TxtOutcome out;
  if (!answer) {
    out.status = core::TxtStatus::dns_error;
    out.detail = fmt::format("TXT {}: {} ({})", name, io::to_string(answer.error().kind), answer.error().detail);
    add_trace_line(trace, out.detail);
    co_return out;
  }
  out.ttl = util::Seconds(answer->ttl);
  if (answer->rcode != io::DnsRcode::noerror || answer->records.empty()) {
    out.status = core::TxtStatus::absent;
    out.detail = fmt::format("TXT {}: {}", name, answer->rcode == io::DnsRcode::nxdomain ? "NXDOMAIN" : "no records");
    add_trace_line(trace, out.detail);
    co_return out;
  }
  for (const auto& r : answer->records) add_trace_line(trace, fmt::format("TXT {}: \"{}\"", name, r));
  auto record = core::select_sts_record(answer->records);
  if (!record) {
    out.status = core::TxtStatus::absent;
    out.detail = fmt::format("TXT {}: {}{}{}", name, core::to_string(record.error().error),
                             record.error().detail.empty() ? "" : ": ", record.error().detail);
    add_trace_line(trace, out.detail);
    co_return out;
  }
  out.status = core::TxtStatus::found;
  out.id = record->id;
  out.detail = fmt::format("TXT {}: id={}", name, out.id);
  add_trace_line(trace, out.detail);
  co_return out;
}

boost::asio::awaitable<std::expected<core::FetchSuccess, core::FetchFailed>> fetch_sts_policy(
    io::PolicyFetcher& fetcher, const std::string& domain, std::vector<std::string>* trace) {
  io::FetchTrace fetch_trace;
  auto fetched = co_await fetcher.fetch(domain, trace ? &fetch_trace : nullptr);
  if (trace) trace->insert(trace->end(), fetch_trace.steps.begin(), fetch_trace.steps.end());
  if (!fetched) {
    add_trace_line(trace,
                   fmt::format("fetch failed: {}: {}", core::to_string(fetched.error().type), fetched.error().detail));
    co_return std::unexpected(fetched.error());
  }
  auto policy = core::parse_sts_policy(fetched->body);
  if (!policy) {
    core::FetchFailed failure{core::FailureType::sts_policy_invalid,
                              fmt::format("{}: {}", core::to_string(policy.error().error), policy.error().detail)};
    add_trace_line(trace, fmt::format("policy rejected: {}", failure.detail));
    co_return std::unexpected(failure);
  }
  add_trace_line(trace, fmt::format("policy ok: mode {}, max_age {}, {} mx pattern(s)", core::to_string(policy->mode),
                                    policy->max_age, policy->mx.size()));
  co_return core::FetchSuccess{std::move(fetched->body), std::move(*policy)};
}

}  // namespace mtastsd::daemon

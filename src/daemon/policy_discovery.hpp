// The two network steps of RFC 8461 policy discovery, shared by the daemon's
// resolutions and `mtastsctl query`: the _mta-sts TXT lookup (sec. 3.1) and the
// HTTPS fetch plus strict parse of the policy (sec. 3.2, 3.3).
#pragma once
#include <expected>
#include <string>
#include <vector>
#include <boost/asio/awaitable.hpp>
#include "core/cache_rules.hpp"
#include "io/dns_resolver.hpp"
#include "io/policy_fetcher.hpp"

namespace mtastsd::daemon {

// TXT _mta-sts.<domain>: exactly one valid v=STSv1 record -> found with its id.
boost::asio::awaitable<core::TxtOutcome> discover_sts_record(io::DnsResolver& dns, const std::string& domain,
                                                             std::vector<std::string>* trace = nullptr);

// Fetch and parse; a body that does not parse is sts-policy-invalid (RFC 8460 sec. 4.3).
boost::asio::awaitable<std::expected<core::FetchSuccess, core::FetchFailed>> fetch_sts_policy(
    io::PolicyFetcher& fetcher, const std::string& domain, std::vector<std::string>* trace = nullptr);

}  // namespace mtastsd::daemon

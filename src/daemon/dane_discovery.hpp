// The DNS steps of the DANE decision (RFC 7672 sec. 2.2), shared by the daemon's
// DANE resolutions and `mtastsctl query`: the MX lookup, then the TLSA lookups of
// the candidate hosts, all in flight at once; core/dane decides. Each query is
// bounded by the resolver's timeout, so a resolution takes at most two of them.
#pragma once
#include <string>
#include <vector>
#include <boost/asio/awaitable.hpp>
#include "core/dane.hpp"
#include "io/dns_resolver.hpp"

namespace mtastsd::daemon {

// trace (optional) receives one line per answer seen and one for the verdict.
boost::asio::awaitable<core::DaneDecision> discover_dane(io::DnsResolver& dns, const std::string& domain,
                                                         std::vector<std::string>* trace = nullptr);

}  // namespace mtastsd::daemon

// The TCP part of the HTTPS clients (policy fetches, report uploads): resolve a
// host's addresses through our own DnsResolver (the configured DNS path, not
// getaddrinfo) and connect to the first address that accepts, all within the
// caller's deadline (already set on the stream with expires_at). With
// AddressFilter.global_only, every resolved address is checked before it is tried and
// special-purpose ones (util/special_address: loopback, private, link-local, ...) are
// skipped, so a name in public DNS cannot point a client at the local network.
// endpoint_text is how every network client shows an endpoint.
#pragma once
#include <cstdint>
#include <expected>
#include <functional>
#include <string>
#include <string_view>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include "io/dns_resolver.hpp"

namespace mtastsd::io {

struct ConnectFailure {
  bool timed_out = false;  // the deadline passed; detail says during what ("connecting to 192.0.2.1:443")
  std::string detail;      // otherwise the whole reason ("no A or AAAA record for x", ...)
};

// Which resolved addresses may be connected to: any, or only those that are not special-purpose
// (util::special_purpose_range); the setting that asked for that is named when no address is left.
struct AddressFilter {
  bool global_only = false;
  std::string_view setting;  // e.g. "fetch.refuse_special_addresses"
};

// Hears each step ("resolved x to ...", "connect ... failed: ...", "connected to ...").
using ConnectStep = std::function<void(std::string)>;

struct Connected {
  std::string address;   // "192.0.2.1"
  std::string endpoint;  // "192.0.2.1:443", "[2001:db8::1]:443"
};

// "192.0.2.1:25", "[2001:db8::1]:25": an endpoint as logs and details show it.
std::string endpoint_text(const boost::asio::ip::tcp::endpoint& ep);

boost::asio::awaitable<std::expected<Connected, ConnectFailure>> connect_to_host(
    DnsResolver& dns, boost::beast::tcp_stream& tcp, const std::string& host, std::uint16_t port,
    DnsResolver::Deadline deadline, const ConnectStep& step, AddressFilter filter = {});

}  // namespace mtastsd::io

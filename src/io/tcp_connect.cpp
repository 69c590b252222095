// Resolve and connect for the HTTPS clients; see the header.
#include "io/tcp_connect.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include "util/special_address.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;

namespace mtastsd::io {

namespace {

std::optional<util::SpecialPurposeRange> special_purpose_range(const asio::ip::address& address) {
  return address.is_v4() ? util::special_purpose_range(address.to_v4().to_bytes())
                         : util::special_purpose_range(address.to_v6().to_bytes());
}

}  // namespace

std::string endpoint_text(const asio::ip::tcp::endpoint& ep) {
  const auto address = ep.address().to_string();
  return ep.address().is_v6() ? fmt::format("[{}]:{}", address, ep.port()) : fmt::format("{}:{}", address, ep.port());
}

asio::awaitable<std::expected<Connected, ConnectFailure>> connect_to_host(DnsResolver& dns, beast::tcp_stream& tcp,
                                                                            const std::string& host,
                                                                            std::uint16_t port,
                                                                            DnsResolver::Deadline deadline,
                                                                            const ConnectStep& step,
                                                                            AddressFilter filter) {
  auto addresses = co_await dns.query_addresses(host, deadline);
  if (!addresses)
    co_return std::unexpected(ConnectFailure{
        false, fmt::format("resolving {}: {} ({})", host, to_string(addresses.error().kind), addresses.error().detail)});
  if (addresses->empty())
    co_return std::unexpected(ConnectFailure{false, fmt::format("no A or AAAA record for {}", host)});
  step(fmt::format("resolved {} to {}", host, fmt::join(*addresses, ", ")));

  boost::system::error_code ec;
  auto capture = asio::redirect_error(asio::use_awaitable, ec);  // non-const: Boost 1.74 needs an lvalue token
  boost::system::error_code connect_error;
  std::vector<std::string> refused;  // "127.0.0.1 (loopback, RFC 1122 sec. 3.2.1.3)"
  for (const auto& text : *addresses) {
    const asio::ip::tcp::endpoint ep(asio::ip::make_address(text, ec), port);
    if (ec) continue;  // cannot happen: the resolver writes inet_ntop text
    const std::string endpoint = endpoint_text(ep);
    if (filter.global_only) {
      if (const auto range = special_purpose_range(ep.address())) {
        refused.push_back(fmt::format("{} ({})", text, util::to_string(*range)));
        step(fmt::format("not connecting to {}: special-purpose address ({})", endpoint, util::to_string(*range)));
        continue;
      }
    }
    tcp.close();  // a failed connect leaves its socket open, and the next address may be of another family
    co_await tcp.async_connect(ep, capture);
    if (!ec) {
      step(fmt::format("connected to {}", endpoint));
      co_return Connected{text, endpoint};
    }
    if (ec == beast::error::timeout)
      co_return std::unexpected(ConnectFailure{true, fmt::format("connecting to {}", endpoint)});
    step(fmt::format("connect {} failed: {}", endpoint, ec.message()));
    connect_error = ec;
  }
  if (refused.size() == addresses->size())
    co_return std::unexpected(ConnectFailure{
        false, fmt::format("{} resolves only to special-purpose addresses, not connected to: {} (refused by {})",
                           host, fmt::join(refused, ", "), filter.setting)});
  const std::string also_refused =
      refused.empty() ? "" : fmt::format("; special-purpose addresses not tried: {}", fmt::join(refused, ", "));
  co_return std::unexpected(ConnectFailure{
      false, fmt::format("no address of {} accepted a connection ({}){}", host, connect_error.message(), also_refused)});
}

}  // namespace mtastsd::io

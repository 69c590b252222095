// Resolve and connect for the HTTPS clients; see the header.
#include "io/tcp_connect.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

namespace asio = boost::asio;
namespace beast = boost::beast;

namespace mtastsd::io {

std::string endpoint_text(const asio::ip::tcp::endpoint& ep) {
  const auto address = ep.address().to_string();
  return ep.address().is_v6() ? fmt::format("[{}]:{}", address, ep.port()) : fmt::format("{}:{}", address, ep.port());
}

asio::awaitable<std::expected<Connected, ConnectFailure>> connect_to_host(DnsResolver& dns, beast::tcp_stream& tcp,
                                                                            const std::string& host,
                                                                            std::uint16_t port,
                                                                            DnsResolver::Deadline deadline,
                                                                            const ConnectStep& step) {
  auto addresses = co_await dns.query_addresses(host, deadline);
  if (!addresses)
    co_return std::unexpected(ConnectFailure{
        false, fmt::format("resolving {}: {} ({})", host, to_string(addresses.error().kind), addresses.error().detail)});
  if (addresses->empty())
    co_return std::unexpected(ConnectFailure{false, fmt::format("no A or AAAA record for {}", host)});
  step(fmt::format("resolved {} to {}", host, fmt::join(*addresses, ", ")));

  boost::system::error_code ec;
  auto capture = asio::redirect_error(asio::use_awaitable, ec);  // non-const: Boost 1.74 needs an lvalue token
  for (const auto& text : *addresses) {
    const asio::ip::tcp::endpoint ep(asio::ip::make_address(text, ec), port);
    if (ec) continue;  // cannot happen: the resolver writes inet_ntop text
    const std::string endpoint = endpoint_text(ep);
    tcp.close();  // a failed connect leaves its socket open, and the next address may be of another family
    co_await tcp.async_connect(ep, capture);
    if (!ec) {
      step(fmt::format("connected to {}", endpoint));
      co_return Connected{text, endpoint};
    }
    if (ec == beast::error::timeout)
      co_return std::unexpected(ConnectFailure{true, fmt::format("connecting to {}", endpoint)});
    step(fmt::format("connect {} failed: {}", endpoint, ec.message()));
  }
  co_return std::unexpected(
      ConnectFailure{false, fmt::format("no address of {} accepted a connection ({})", host, ec.message())});
}

}  // namespace mtastsd::io

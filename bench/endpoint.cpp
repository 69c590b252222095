// Parsing "unix:/path" and "inet:HOST:PORT"; see the header.
#include "endpoint.hpp"

#include <fmt/format.h>

#include <charconv>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>

namespace mtastsd::bench {

std::expected<Endpoint, std::string> parse_endpoint(std::string_view spec) {
  namespace asio = boost::asio;
  if (spec.starts_with("unix:")) {
    const std::string path(spec.substr(5));
    // sockaddr_un's sun_path: 108 bytes with the terminating NUL (unix(7)).
    if (path.empty() || path.size() >= 108) return std::unexpected(fmt::format("bad unix socket path in '{}'", spec));
    return Endpoint{asio::local::stream_protocol::endpoint(path), false, path};
  }
  if (!spec.starts_with("inet:")) return std::unexpected(fmt::format("'{}' is neither unix:/path nor inet:HOST:PORT", spec));
  const std::string_view host_port = spec.substr(5);
  const std::size_t colon = host_port.rfind(':');
  if (colon == std::string_view::npos) return std::unexpected(fmt::format("no port in '{}'", spec));
  std::string_view host = host_port.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string_view port_text = host_port.substr(colon + 1);
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535)
    return std::unexpected(fmt::format("bad port in '{}'", spec));
  boost::system::error_code bad;
  const auto address = asio::ip::make_address(std::string(host), bad);
  if (bad) return std::unexpected(fmt::format("'{}' is not an IP address", host));
  if (!address.is_loopback()) return std::unexpected(fmt::format("'{}' is not a loopback address; refused", spec));
  return Endpoint{asio::ip::tcp::endpoint(address, static_cast<unsigned short>(port)), true, ""};
}

}  // namespace mtastsd::bench

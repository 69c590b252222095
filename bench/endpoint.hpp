// Socket addresses of the benchmark tools in Postfix's socketmap syntax
// (socketmap_table(5)): "unix:/path" or "inet:127.0.0.1:PORT" ("inet:[::1]:PORT"
// for IPv6). Loopback addresses only: a load generator must never be pointed at
// another machine.
#pragma once
#include <expected>
#include <string>
#include <string_view>
#include <boost/asio/generic/stream_protocol.hpp>

namespace mtastsd::bench {

struct Endpoint {
  boost::asio::generic::stream_protocol::endpoint address;
  bool tcp = false;       // TCP (TCP_NODELAY wanted) rather than a unix socket
  std::string unix_path;  // for unix: the socket's path
};

// The endpoint `spec` names, or why it is not one we accept.
std::expected<Endpoint, std::string> parse_endpoint(std::string_view spec);

}  // namespace mtastsd::bench

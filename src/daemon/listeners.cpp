// Listening sockets kept across reloads; see the header.
#include "daemon/listeners.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/datagram_protocol.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include "daemon/unix_socket_path.hpp"

namespace asio = boost::asio;
using boost::system::error_code;

namespace mtastsd::daemon {
namespace {

std::string where_of(const ListenEndpoint& ep) {
  if (!ep.unix_path.empty()) return "unix:" + ep.unix_path;
  return fmt::format("inet:{}:{}", ep.tcp_address, ep.tcp_port);
}

// Opens, binds and (for stream sockets) listens with Asio on a scratch context, then
// takes the descriptor out of Asio's hands: the services assign duplicates to their own.
template <class Socket>
std::expected<int, std::string> bind_with(Socket&& socket, const typename std::decay_t<Socket>::endpoint_type& where,
                                          bool listen, bool reuse_address) {
  error_code ec;
  socket.open(where.protocol(), ec);
  if (!ec && reuse_address) socket.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) socket.bind(where, ec);
  if constexpr (requires { socket.listen(asio::socket_base::max_listen_connections, ec); }) {
    if (!ec && listen) socket.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) return std::unexpected(ec.message());
  const int fd = socket.release(ec);
  if (ec) return std::unexpected(ec.message());
  return fd;
}

std::expected<int, std::string> bind_endpoint(const WantedListener& wanted) {
  asio::io_context scratch;
  const ListenEndpoint& ep = wanted.endpoint;
  if (!ep.unix_path.empty()) {
    if (auto ok = prepare_unix_path(ep); !ok) return std::unexpected(ok.error());
    if (wanted.id.role == SocketRole::tlsrpt)
      return bind_with(asio::local::datagram_protocol::socket(scratch),
                       asio::local::datagram_protocol::endpoint(ep.unix_path), false, false);
    return bind_with(asio::local::stream_protocol::acceptor(scratch),
                     asio::local::stream_protocol::endpoint(ep.unix_path), true, false);
  }
  error_code ec;
  const auto address = asio::ip::make_address(ep.tcp_address, ec);
  if (ec) return std::unexpected(ec.message());
  return bind_with(asio::ip::tcp::acceptor(scratch), asio::ip::tcp::endpoint(address, ep.tcp_port), true, true);
}

}  // namespace

std::string_view to_string(SocketRole role) {
  switch (role) {
    case SocketRole::socketmap: return "socketmap";
    case SocketRole::tlsrpt: return "TLS-RPT";
    case SocketRole::control: return "control";
    case SocketRole::metrics: return "metrics";
  }
  return "?";
}

std::vector<WantedListener> wanted_listeners(const Config& config) {
  std::vector<WantedListener> wanted;
  for (const ListenEndpoint& ep : config.listen) wanted.push_back({{SocketRole::socketmap, where_of(ep)}, ep});
  if (config.tlsrpt.enabled)
    wanted.push_back({{SocketRole::tlsrpt, where_of(config.tlsrpt.socket)}, config.tlsrpt.socket});
  if (!config.control.unix_path.empty())
    wanted.push_back({{SocketRole::control, where_of(config.control)}, config.control});
  if (config.metrics.tcp_port != 0)
    wanted.push_back({{SocketRole::metrics, where_of(config.metrics)}, config.metrics});
  return wanted;
}

ListenerSet::~ListenerSet() {
  for (const Bound& b : bound_) ::close(b.fd);
}

std::expected<void, std::string> ListenerSet::update(const Config& config, const std::string& default_owner,
                                                     const std::string& default_group) {
  std::vector<Bound> added;
  auto undo = [&added] {
    for (const Bound& b : added) {
      ::close(b.fd);
      if (!b.endpoint.unix_path.empty()) ::unlink(b.endpoint.unix_path.c_str());
    }
  };
  for (WantedListener wanted : wanted_listeners(config)) {
    const bool unix_socket = wanted.id.is_unix();
    if (unix_socket) {
      if (wanted.endpoint.owner.empty()) wanted.endpoint.owner = default_owner;
      if (wanted.endpoint.group.empty()) wanted.endpoint.group = default_group;
    }
    const bool known = std::ranges::any_of(bound_, [&](const Bound& b) { return b.id == wanted.id; }) ||
                       std::ranges::any_of(added, [&](const Bound& b) { return b.id == wanted.id; });
    if (!known) {
      auto fd = bind_endpoint(wanted);
      if (!fd) {
        undo();
        return std::unexpected(fmt::format("{} socket {}: {}", to_string(wanted.id.role), wanted.id.where, fd.error()));
      }
      added.push_back({wanted.id, wanted.endpoint, *fd});
      spdlog::info("{} socket: listening on {}", to_string(wanted.id.role), wanted.id.where);
    }
    if (unix_socket) {
      if (auto ok = apply_unix_permissions(wanted.endpoint); !ok) {
        undo();
        return std::unexpected(fmt::format("{} socket {}", to_string(wanted.id.role), ok.error()));
      }
    }
  }
  bound_.insert(bound_.end(), added.begin(), added.end());
  return {};
}

void ListenerSet::retire_unused(const Config& config) {
  const std::vector<WantedListener> wanted = wanted_listeners(config);
  std::erase_if(bound_, [&](const Bound& b) {
    if (std::ranges::any_of(wanted, [&](const WantedListener& w) { return w.id == b.id; })) return false;
    ::close(b.fd);
    if (!b.endpoint.unix_path.empty()) ::unlink(b.endpoint.unix_path.c_str());
    spdlog::info("{} socket: no longer listening on {}", to_string(b.id.role), b.id.where);
    return true;
  });
}

std::vector<ListenerSet::Duplicate> ListenerSet::duplicates(SocketRole role) const {
  std::vector<Duplicate> found;
  for (const Bound& b : bound_) {
    if (b.id.role != role) continue;
    const int fd = ::fcntl(b.fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "dup of a listening socket");
    found.push_back({b.id, b.endpoint, fd});
  }
  return found;
}

std::vector<ListenerId> ListenerSet::bound() const {
  std::vector<ListenerId> ids;
  for (const Bound& b : bound_) ids.push_back(b.id);
  return ids;
}

}  // namespace mtastsd::daemon

// Socketmap listeners and connections; see the header.
#include "daemon/socketmap_server.hpp"

#include <list>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>
#include "core/socketmap_request.hpp"
#include "daemon/accept_next.hpp"
#include "util/netstring.hpp"
#include "util/printable.hpp"

namespace asio = boost::asio;
using asio::use_awaitable;
using boost::system::error_code;

namespace mtastsd::daemon {
namespace {
// The one line per lookup (debug): domain (or the key that is none), profile, what Postfix
// was told (a TEMP with its reason), where it came from, and how long it took.
void log_lookup(const core::SocketmapRequest& request, const Answered& answered, std::string_view encoded,
                std::chrono::steady_clock::duration took) {
  if (!spdlog::should_log(spdlog::level::debug)) return;
  const std::string_view kind = core::reply_kind(encoded);
  const bool has_reason = kind == "temp" || kind == "timeout" || kind == "perm";
  spdlog::debug("lookup {} profile {}: {}{}{} ({}, {} us)",
                answered.domain.empty() ? util::printable_excerpt(request.key) : answered.domain, answered.profile,
                kind, has_reason ? " " : "",
                has_reason ? util::printable_excerpt(encoded.substr(encoded.find(' ') + 1)) : std::string(),
                to_string(answered.source), std::chrono::duration_cast<std::chrono::microseconds>(took).count());
}
}  // namespace

struct SocketmapServer::Impl : std::enable_shared_from_this<SocketmapServer::Impl> {
  asio::any_io_executor ex;
  const Config& config;
  LookupService& service;
  Metrics& metrics;
  std::list<asio::local::stream_protocol::acceptor> unix_acceptors;
  std::list<asio::ip::tcp::acceptor> tcp_acceptors;
  std::size_t open_connections = 0;
  bool stopping = false;
  std::chrono::steady_clock::time_point last_full_log{};
  // Sockets of live connections, so stop() can close idle ones.
  std::list<std::function<void()>> closers;

  Impl(asio::any_io_executor e, const Config& c, LookupService& s, Metrics& m)
      : ex(std::move(e)), config(c), service(s), metrics(m) {}

  template <class Acceptor>
  asio::awaitable<void> accept_loop(Acceptor& acceptor) {
    auto self = shared_from_this();
    while (!stopping) {
      auto accepted = co_await accept_next(acceptor, "socketmap");
      if (!accepted || stopping) break;
      auto& socket = *accepted;
      error_code ec;
      if (open_connections >= config.max_connections) {
        const auto now = std::chrono::steady_clock::now();
        if (now - last_full_log > std::chrono::seconds(10)) {
          spdlog::warn("connection limit {} reached; closing new connections", config.max_connections);
          last_full_log = now;
        }
        socket.close(ec);
        continue;
      }
      asio::co_spawn(ex, serve(std::move(socket)), asio::detached);
    }
  }

  template <class Socket>
  asio::awaitable<void> serve(Socket socket) {
    auto self = shared_from_this();
    ++open_connections;
    metrics.connection_opened();
    bool busy = false;
    auto closer = closers.insert(closers.end(), [&socket, &busy] {
      error_code ignored;
      if (!busy) socket.close(ignored);
    });
    util::NetstringDecoder decoder(kMaxQueryBytes);
    asio::steady_timer idle(ex);
    std::array<char, 4096> buf;
    // Idle watchdog: closes the socket when no whole request has arrived idle_timeout after the
    // accept or the previous reply. It is not re-armed by a partial request, so a client trickling
    // one byte at a time (slowloris) cannot hold the connection longer than one that sends nothing.
    auto arm_idle = [&] {
      idle.expires_after(config.idle_timeout);
      idle.async_wait([&socket](error_code ec) {
        if (!ec) {
          error_code ignored;
          socket.close(ignored);
        }
      });
    };
    try {
      bool open = true;
      bool idle_armed = false;
      while (open && !stopping) {
        if (!idle_armed) arm_idle();
        idle_armed = true;
        error_code ec;
        std::size_t n = co_await socket.async_read_some(asio::buffer(buf), asio::redirect_error(use_awaitable, ec));
        if (ec) break;  // EOF, reset, idle close
        decoder.feed(std::string_view(buf.data(), n));
        for (;;) {
          auto next = decoder.next();
          if (!next) {
            spdlog::warn("socketmap client sent a malformed netstring ({}); closing the connection",
                         util::to_string(next.error()));
            open = false;
            break;
          }
          if (!*next) break;  // need more bytes
          idle.cancel();
          idle_armed = false;
          busy = true;
          const std::string reply = co_await handle(**next);
          co_await asio::async_write(socket, asio::buffer(reply), asio::redirect_error(use_awaitable, ec));
          busy = false;
          if (ec) {
            open = false;
            break;
          }
        }
      }
    } catch (const std::exception& e) {
      spdlog::error("socketmap connection failed: {}", e.what());
    }
    idle.cancel();
    error_code ignored;
    socket.close(ignored);
    closers.erase(closer);
    --open_connections;
    metrics.connection_closed();
  }

  asio::awaitable<std::string> handle(const std::string& payload) {
    auto request = core::parse_socketmap_request(payload);
    if (!request) {
      spdlog::warn("malformed socketmap request ({})", core::to_string(request.error()));
      co_return util::encode_netstring(
          core::encode_reply({core::ReplyStatus::perm, std::string("malformed request: ") +
                                                           std::string(core::to_string(request.error()))}));
    }
    const auto started = std::chrono::steady_clock::now();
    const Answered answered = co_await service.answer(*request);
    std::string encoded = core::encode_reply(answered.reply);
    if (encoded.size() > kMaxReplyBytes) {
      spdlog::error("reply for {} exceeds Postfix's {} byte limit; answering TEMP", answered.domain, kMaxReplyBytes);
      encoded = core::encode_reply({core::ReplyStatus::temp, "policy too large"});
    }
    log_lookup(*request, answered, encoded, std::chrono::steady_clock::now() - started);
    co_return util::encode_netstring(encoded);
  }
};

SocketmapServer::SocketmapServer(asio::any_io_executor ex, const Config& config, LookupService& service,
                                 Metrics& metrics, std::vector<ListenerSet::Duplicate> sockets)
    : impl_(std::make_shared<Impl>(std::move(ex), config, service, metrics)) {
  for (const ListenerSet::Duplicate& socket : sockets) {
    if (socket.id.is_unix()) {
      impl_->unix_acceptors.emplace_back(impl_->ex, asio::local::stream_protocol(), socket.fd);
    } else {
      const auto address = asio::ip::make_address(socket.endpoint.tcp_address);
      impl_->tcp_acceptors.emplace_back(impl_->ex, address.is_v6() ? asio::ip::tcp::v6() : asio::ip::tcp::v4(),
                                        socket.fd);
    }
  }
}

SocketmapServer::~SocketmapServer() = default;

void SocketmapServer::start() {
  for (auto& acc : impl_->unix_acceptors) asio::co_spawn(impl_->ex, impl_->accept_loop(acc), asio::detached);
  for (auto& acc : impl_->tcp_acceptors) asio::co_spawn(impl_->ex, impl_->accept_loop(acc), asio::detached);
}

void SocketmapServer::stop() {
  impl_->stopping = true;
  error_code ignored;
  for (auto& acc : impl_->unix_acceptors) acc.close(ignored);
  for (auto& acc : impl_->tcp_acceptors) acc.close(ignored);
  for (auto& close : impl_->closers) close();
}

std::size_t SocketmapServer::connections() const { return impl_->open_connections; }

}  // namespace mtastsd::daemon

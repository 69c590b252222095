// The control socket's connections; see the header.
#include "daemon/control_server.hpp"

#include <array>
#include <list>
#include <optional>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>
#include "core/control_protocol.hpp"
#include "daemon/accept_next.hpp"
#include "util/netstring.hpp"

namespace asio = boost::asio;
using asio::use_awaitable;
using boost::system::error_code;
using stream = asio::local::stream_protocol;

namespace mtastsd::daemon {
namespace {

// One client. Shared with the deadline's and a refresh's completion handlers, which
// may run after the connection's coroutine has ended.
struct Connection {
  stream::socket socket;
  asio::steady_timer deadline;  // the read's, then the write's: closes the socket when it fires
  asio::steady_timer wake;      // parks the coroutine while a refresh runs
  std::optional<std::string> reply;
  bool closed = false;
  bool timed_out = false;

  Connection(stream::socket s, const asio::any_io_executor& ex) : socket(std::move(s)), deadline(ex), wake(ex) {}

  void close() {
    closed = true;
    error_code ignored;
    socket.close(ignored);
    deadline.cancel();
    wake.cancel();
  }
  void arm_deadline(std::chrono::seconds within, const std::shared_ptr<Connection>& self) {
    deadline.expires_after(within);
    deadline.async_wait([self](error_code ec) {
      if (ec) return;
      self->timed_out = true;
      self->close();
    });
  }
};

// Payload of the one request netstring, or the error to answer with.
asio::awaitable<std::expected<std::string, std::string>> read_request(Connection& c) {
  util::NetstringDecoder decoder(core::kMaxControlRequestBytes);
  std::array<char, 4096> buf;
  for (;;) {
    auto next = decoder.next();
    if (!next) {
      if (next.error() == util::NetstringError::too_long)
        co_return std::unexpected(fmt::format("request longer than {} bytes", core::kMaxControlRequestBytes));
      co_return std::unexpected(std::string(util::to_string(next.error())));
    }
    if (*next) co_return std::move(**next);
    error_code ec;
    const std::size_t n = co_await c.socket.async_read_some(asio::buffer(buf), asio::redirect_error(use_awaitable, ec));
    if (c.timed_out)
      co_return std::unexpected(fmt::format("no complete request within {} s", kControlReadDeadline.count()));
    if (ec) co_return std::unexpected("no complete request: " + ec.message());
    decoder.feed(std::string_view(buf.data(), n));
  }
}

}  // namespace

struct ControlServer::Impl : std::enable_shared_from_this<ControlServer::Impl> {
  asio::any_io_executor ex;
  stream::acceptor acceptor;
  ControlHandlers handlers;
  std::size_t open_connections = 0;
  bool stopping = false;
  std::chrono::steady_clock::time_point last_full_log{};
  std::list<std::shared_ptr<Connection>> live;  // for stop()

  Impl(asio::any_io_executor e, int fd, ControlHandlers h)
      : ex(e), acceptor(e, stream(), fd), handlers(std::move(h)) {}

  asio::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    while (!stopping) {
      auto accepted = co_await accept_next(acceptor, "control socket");
      if (!accepted || stopping) break;
      auto& socket = *accepted;
      error_code ec;
      if (open_connections >= kMaxControlConnections) {
        const auto now = std::chrono::steady_clock::now();
        if (now - last_full_log > std::chrono::seconds(10)) {
          spdlog::warn("control socket: {} connections open; closing new ones", kMaxControlConnections);
          last_full_log = now;
        }
        socket.close(ec);
        continue;
      }
      asio::co_spawn(ex, serve(std::make_shared<Connection>(std::move(socket), ex)), asio::detached);
    }
  }

  asio::awaitable<void> serve(std::shared_ptr<Connection> c) {
    auto self = shared_from_this();
    ++open_connections;
    const auto entry = live.insert(live.end(), c);
    try {
      c->arm_deadline(kControlReadDeadline, c);
      auto request = co_await read_request(*c);
      c->deadline.cancel();
      std::string reply;
      if (request) {
        reply = co_await answer(*request, c);
      } else if (!c->closed || c->timed_out) {  // else stop() closed it
        spdlog::warn("control socket: {}", request.error());
        reply = core::control_error_reply(request.error());
      }
      if (!c->closed) {
        c->arm_deadline(kControlWriteDeadline, c);
        const std::string framed = util::encode_netstring(reply);
        error_code ec;
        co_await asio::async_write(c->socket, asio::buffer(framed), asio::redirect_error(use_awaitable, ec));
        if (c->timed_out)
          spdlog::warn("control socket: the reply was not taken within {} s", kControlWriteDeadline.count());
        else if (ec && !c->closed)
          spdlog::warn("control socket: writing the reply failed: {}", ec.message());
      }
    } catch (const std::exception& e) {
      spdlog::error("control connection failed: {}", e.what());
    }
    c->close();
    live.erase(entry);
    --open_connections;
  }

  // The reply payload to one request payload.
  asio::awaitable<std::string> answer(const std::string& payload, const std::shared_ptr<Connection>& c) {
    const auto request = core::parse_control_request(payload);
    if (!request) {
      spdlog::warn("control socket: malformed request: {}", core::to_string(request.error()));
      co_return core::control_error_reply(core::to_string(request.error()));
    }
    spdlog::debug("control socket: {} {}", core::to_string(request->command), request->domain);
    try {
      switch (request->command) {
        case core::ControlCommand::status:
          co_return core::control_ok_reply(handlers.status());
        case core::ControlCommand::stats:
          co_return core::control_ok_reply({{"samples", handlers.stats()}});
        case core::ControlCommand::refresh:
          co_return co_await refresh(request->domain, c);
      }
    } catch (const std::exception& e) {
      spdlog::error("control socket: {} failed internally: {}", core::to_string(request->command), e.what());
    }
    co_return core::control_error_reply("internal error");
  }

  // Runs the refresh on its own, so that stop() can end this connection without waiting for it.
  asio::awaitable<std::string> refresh(const std::string& domain, const std::shared_ptr<Connection>& c) {
    asio::co_spawn(ex, handlers.refresh(domain),
                   [c, domain](std::exception_ptr error, std::expected<nlohmann::json, std::string> result) {
                     if (error) {
                       try {
                         std::rethrow_exception(error);
                       } catch (const std::exception& e) {
                         spdlog::error("control socket: refresh of {} failed internally: {}", domain, e.what());
                       }
                       c->reply = core::control_error_reply("internal error");
                     } else if (result) {
                       c->reply = core::control_ok_reply(std::move(*result));
                     } else {
                       c->reply = core::control_error_reply(domain + ": " + result.error());
                     }
                     c->wake.cancel();
                   });
    if (!c->reply && !c->closed) {
      c->wake.expires_at(asio::steady_timer::time_point::max());
      error_code ec;
      co_await c->wake.async_wait(asio::redirect_error(use_awaitable, ec));
    }
    co_return c->reply.value_or(core::control_error_reply("stopping"));
  }
};

ControlServer::ControlServer(asio::any_io_executor ex, int listening_fd, ControlHandlers handlers)
    : impl_(std::make_shared<Impl>(std::move(ex), listening_fd, std::move(handlers))) {}

ControlServer::~ControlServer() = default;

void ControlServer::start() { asio::co_spawn(impl_->ex, impl_->accept_loop(), asio::detached); }

void ControlServer::stop() {
  impl_->stopping = true;
  error_code ignored;
  impl_->acceptor.close(ignored);
  for (auto& c : impl_->live) c->close();
}

std::size_t ControlServer::connections() const { return impl_->open_connections; }

}  // namespace mtastsd::daemon

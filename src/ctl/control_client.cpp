// One call on the daemon's control socket; see the header.
#include "ctl/control_client.hpp"

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>
#include "util/netstring.hpp"

namespace asio = boost::asio;
using asio::use_awaitable;
using boost::system::error_code;
using stream = asio::local::stream_protocol;

namespace mtastsd::ctl {
namespace {

ControlCallError connect_error(const std::string& path, const error_code& ec) {
  const std::string detail = fmt::format("control socket {}: {}", path, ec.message());
  if (ec == asio::error::connection_refused || ec == boost::system::errc::no_such_file_or_directory)
    return {ControlCallFailure::not_running, detail};
  if (ec == asio::error::access_denied || ec == boost::system::errc::operation_not_permitted)
    return {ControlCallFailure::denied, detail};
  return {ControlCallFailure::io_error, detail};
}

}  // namespace

std::expected<core::ControlReply, ControlCallError> call_daemon(const std::string& socket_path,
                                                                const core::ControlRequest& request,
                                                                std::chrono::milliseconds deadline) {
  asio::io_context io(1);
  stream::socket socket(io);
  asio::steady_timer timer(io, deadline);
  bool timed_out = false;
  timer.async_wait([&](error_code ec) {
    if (ec) return;
    timed_out = true;
    error_code ignored;
    socket.close(ignored);
  });
  std::expected<core::ControlReply, ControlCallError> result =
      std::unexpected(ControlCallError{ControlCallFailure::io_error, "no reply"});
  const auto fail = [&](ControlCallFailure kind, std::string detail) {
    result = std::unexpected(ControlCallError{kind, fmt::format("control socket {}: {}", socket_path, detail)});
  };

  auto call = [&]() -> asio::awaitable<void> {
    error_code ec;
    co_await socket.async_connect(stream::endpoint(socket_path), asio::redirect_error(use_awaitable, ec));
    if (ec) {
      result = std::unexpected(connect_error(socket_path, ec));
      co_return;
    }
    const std::string framed = util::encode_netstring(core::encode_control_request(request));
    co_await asio::async_write(socket, asio::buffer(framed), asio::redirect_error(use_awaitable, ec));
    if (ec) {
      fail(ControlCallFailure::io_error, "sending the request: " + ec.message());
      co_return;
    }
    util::NetstringDecoder decoder(core::kMaxControlReplyBytes);
    std::array<char, 16384> buf;
    for (;;) {
      auto next = decoder.next();
      if (!next) {
        fail(ControlCallFailure::bad_reply, std::string(util::to_string(next.error())));
        co_return;
      }
      if (*next) {
        auto reply = core::parse_control_reply(**next);
        if (reply)
          result = std::move(*reply);
        else
          fail(ControlCallFailure::bad_reply, std::string(core::to_string(reply.error())));
        co_return;
      }
      const std::size_t n =
          co_await socket.async_read_some(asio::buffer(buf), asio::redirect_error(use_awaitable, ec));
      if (ec == asio::error::eof) {
        fail(ControlCallFailure::bad_reply, "the daemon closed the connection without a complete reply");
        co_return;
      }
      if (ec) {
        fail(ControlCallFailure::io_error, "reading the reply: " + ec.message());
        co_return;
      }
      decoder.feed(std::string_view(buf.data(), n));
    }
  };
  asio::co_spawn(io, call, [&](std::exception_ptr error) {
    timer.cancel();
    if (!error) return;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      fail(ControlCallFailure::io_error, e.what());
    }
  });
  io.run();
  if (timed_out)
    return std::unexpected(ControlCallError{
        ControlCallFailure::timed_out,
        fmt::format("control socket {}: no reply within {} s", socket_path,
                    std::chrono::duration_cast<std::chrono::seconds>(deadline).count())});
  return result;
}

}  // namespace mtastsd::ctl

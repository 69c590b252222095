// The accept step shared by mtastsd's stream servers (socketmap, control,
// metrics): a failed accept (EMFILE/ENFILE: out of descriptors, ECONNABORTED) is
// retried every kAcceptRetry, so that a listener survives resource exhaustion
// instead of ending its loop; a closed acceptor (stop()) ends it. A run of
// failures is logged twice, when it starts and when accepting works again, not
// once per retry.
#pragma once
#include <chrono>
#include <cstddef>
#include <optional>
#include <string_view>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

namespace mtastsd::daemon {

// Ours: long enough not to spin while descriptors are short, short next to a lookup's deadline.
inline constexpr std::chrono::milliseconds kAcceptRetry{100};

// The next connection, or nullopt once the acceptor is closed. `server` names the
// listener in the log line.
template <class Acceptor>
boost::asio::awaitable<std::optional<typename Acceptor::protocol_type::socket>> accept_next(Acceptor& acceptor,
                                                                                          std::string_view server) {
  namespace asio = boost::asio;
  std::size_t failures = 0;
  for (;;) {
    boost::system::error_code ec;
    auto socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (!ec) {
      if (failures > 0) spdlog::info("{}: accepting again after {} failed attempt(s)", server, failures);
      co_return std::move(socket);
    }
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return std::nullopt;
    if (failures++ == 0)
      spdlog::warn("{}: accept failed: {}; retrying every {} ms until it works", server, ec.message(),
                   kAcceptRetry.count());
    asio::steady_timer retry(acceptor.get_executor(), kAcceptRetry);
    co_await retry.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

}  // namespace mtastsd::daemon

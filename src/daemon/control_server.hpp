// The daemon's control socket, for mtastsctl (status, stats, cache refresh): a unix
// stream server on a socket the caller has bound and set listening (its path mode
// 0600 by default: root and the daemon's user). One request per connection, read
// within kControlReadDeadline and at most core::kMaxControlRequestBytes; the reply
// (core/control_protocol) written within kControlWriteDeadline, then the connection is
// closed. At most kMaxControlConnections at once; more are closed at once.
// One thread: the daemon's io_context.
#pragma once
#include <chrono>
#include <cstddef>
#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

namespace mtastsd::daemon {

// mtastsctl writes its request at once after connecting: a peer that takes longer is
// stuck or not mtastsctl. The reply is small next to a socket buffer.
inline constexpr std::chrono::seconds kControlReadDeadline{5};
inline constexpr std::chrono::seconds kControlWriteDeadline{5};
// Operators and scripts, not mail traffic: a few at a time.
inline constexpr std::size_t kMaxControlConnections = 16;

// What the server answers with. status: the members of the ok reply (a JSON object);
// stats: the samples (core::samples_json); refresh: the members of the ok reply
// (core::refresh_reply_members) or the error text, for a normalised domain. A handler
// that throws is answered {"ok":false,"error":"internal error"} (and logged).
struct ControlHandlers {
  std::function<nlohmann::json()> status;
  std::function<nlohmann::json()> stats;
  std::function<boost::asio::awaitable<std::expected<nlohmann::json, std::string>>(std::string domain)> refresh;
};

class ControlServer {
 public:
  // Takes ownership of listening_fd: a unix stream socket, bound and listening.
  ControlServer(boost::asio::any_io_executor ex, int listening_fd, ControlHandlers handlers);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Start accepting.
  void start();
  // Stop accepting and close every connection, also one awaiting a refresh (the
  // refresh goes on in the lookup service; its client sees the connection closed).
  // connections() reaches 0 once the closed connections have unwound on the loop.
  void stop();
  std::size_t connections() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mtastsd::daemon

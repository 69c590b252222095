// The socketmap server Postfix talks to (socketmap_table(5)): unix stream and
// loopback TCP listeners, one coroutine per connection, netstring framing with
// Postfix's limits, requests answered strictly in order (Postfix sends one at a
// time; pipelined ones are queued in the read buffer), a connection closed when no whole
// request has come idle_timeout after the accept or the previous reply (idle or trickling).
// Open connections are the mtastsd_connections gauge.
#pragma once
#include <cstddef>
#include <expected>
#include <memory>
#include <string>
#include <vector>
#include <boost/asio/any_io_executor.hpp>
#include "daemon/config.hpp"
#include "daemon/listeners.hpp"
#include "daemon/lookup_service.hpp"
#include "daemon/metrics.hpp"

namespace mtastsd::daemon {

// dict_sockmap.c: queries are at most 10000 bytes, replies at most 100000.
inline constexpr std::size_t kMaxQueryBytes = 10000;
inline constexpr std::size_t kMaxReplyBytes = 100000;

class SocketmapServer {
 public:
  // Serves on `sockets` (listening; the server owns and closes these descriptors).
  SocketmapServer(boost::asio::any_io_executor ex, const Config& config, LookupService& service, Metrics& metrics,
                  std::vector<ListenerSet::Duplicate> sockets);
  ~SocketmapServer();

  // Start accepting.
  void start();
  // Stop accepting and close idle connections; busy ones finish their reply first.
  void stop();
  std::size_t connections() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mtastsd::daemon

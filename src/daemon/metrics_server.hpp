// The Prometheus scrape endpoint: a small HTTP/1.1 server (Boost.Beast) on a listening
// TCP socket it is handed (loopback, [metrics] listen; the caller binds it). GET and
// HEAD of /metrics answer 200 with Metrics::text() as `text/plain; version=0.0.4`
// (the text exposition format); any other path is 404, any other method on /metrics
// 405. One request per connection (the reply says Connection: close), so that one
// deadline bounds each connection whole: reading the request and writing the reply.
// Limits (MetricsServerLimits): the request header size, no request body at all (413),
// one deadline per connection, a number of connections at once (more are closed on
// accept). stop() ends the accept loop and every connection.
// One thread: the daemon's io_context.
#pragma once
#include <chrono>
#include <cstddef>
#include <memory>
#include <boost/asio/any_io_executor.hpp>
#include "daemon/metrics.hpp"

namespace mtastsd::daemon {

struct MetricsServerLimits {
  // Ours: a Prometheus server keeps one scrape per target at a time; the rest is room for
  // people with curl. More would only tie up descriptors.
  std::size_t max_connections = 16;
  // Ours: Prometheus' default scrape_timeout (10 s); its scrape has given up by then. A
  // loopback scrape of a few kilobytes takes well under a millisecond.
  std::chrono::milliseconds deadline{10000};
  // Beast's default header limit, 8 KiB; a scraper's request header is a few hundred bytes.
  // Beast holds the request line and the header fields to it apart (give or take the few
  // bytes its search for the header's end looks ahead); above it the answer is 431.
  std::size_t max_header_bytes = 8 * 1024;
};

class MetricsServer {
 public:
  // listening_fd: a listening TCP socket, owned from here on (closed by stop() or the
  // destructor). Throws std::system_error if it is no usable TCP socket (start-up).
  MetricsServer(boost::asio::any_io_executor ex, int listening_fd, const Metrics& metrics,
                MetricsServerLimits limits = {});
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  void start();
  // Close the listening socket and every open connection; each coroutine ends at its next step.
  void stop();
  std::size_t connections() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mtastsd::daemon

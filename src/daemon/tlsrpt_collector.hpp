// The libtlsrpt datagram socket (interfaces: protocol "dpv" 1): Postfix >= 3.10
// with smtp_tlsrpt_enable = yes sends one datagram per TLS handshake result to
// smtp_tlsrpt_socket_name, fire and forget (non-blocking; nobody listening or a
// full queue loses it). That UNIX datagram socket at tlsrpt.socket is bound by
// daemon/listeners with the configured owner, group and mode (Postfix's smtp runs
// as user postfix and must be allowed to send); the collector reads
// each datagram into a buffer of core::kMaxDatagramSize + 1 bytes (a longer one
// arrives cut and is rejected as too_large), parses it (core/tlsrpt_datagram)
// and hands its sessions to the aggregator. Malformed datagrams are counted and
// logged rate-limited (ThrottledWarning), never fatal. Each datagram is counted as
// accepted or rejected (mtastsd_tlsrpt_datagrams_total).
#pragma once
#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <boost/asio/any_io_executor.hpp>
#include "daemon/config.hpp"
#include "daemon/metrics.hpp"
#include "daemon/tlsrpt_aggregator.hpp"

namespace mtastsd::daemon {

class TlsrptCollector {
 public:
  // Receives on `socket_fd`, a bound datagram socket (daemon/listeners) the collector
  // owns and closes.
  TlsrptCollector(boost::asio::any_io_executor ex, const TlsRptSettings& settings, TlsrptAggregator& aggregator,
                  Metrics& metrics, int socket_fd);
  ~TlsrptCollector();

  void start();
  void stop();

  std::uint64_t received() const;   // datagrams read
  std::uint64_t malformed() const;  // of those, rejected

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mtastsd::daemon

// The MX probe (issue 5): validates one MX host the way an MTA-STS sender must before
// delivering (RFC 8461 sec. 4.1-4.2), from the sending side, without sending mail. One SMTP
// session per call, to one address of the host:
//   connect (deadline), read the 220 greeting, EHLO <helo_name>, STARTTLS if offered,
//   TLS >= 1.2 with SNI = MX host name, chain verified against the CA file (WebPKI, as
//   io/tls_client), certificate valid for the MX host name (one whole left-most label for a
//   wildcard, RFC 6125) and not expired, then EHLO again over TLS and QUIT. Never MAIL FROM.
// Outcome: ok, or the RFC 8460 sec. 4.3 result type of the failure
//   starttls-not-supported    EHLO reply without STARTTLS, or STARTTLS refused (not 220)
//   certificate-host-mismatch the certificate does not name the MX host
//   certificate-expired       not yet valid or expired
//   certificate-not-trusted   chain does not lead to a trusted CA (incl. self-signed)
//   validation-failure        anything else in the TLS handshake (protocol version, alert,
//                             a handshake cut off or past its deadline)
// (a certificate that fails several checks: the first OpenSSL meets, trust before the name
// before the dates; core/tls_verdict), or, when no TLS question was ever asked (connection
// refused/timed out, no 220 greeting, EHLO refused, the connection lost or a reply malformed
// or over-long before the reply to STARTTLS), `unreachable`: not a TLS failure, nothing to
// report (RFC 8460 sec. 4.3 lists no result type for it).
// Once the certificate verified, the verdict is ok whatever the EHLO over TLS gets (a failure
// there goes into `detail`). After a certificate failure only QUIT is sent.
// Deadlines: the connect, the greeting, each SMTP command with its whole reply and the TLS
// handshake each within `step_timeout` (RFC 5321 sec. 4.5.3.2 asks for 5 min for the
// greeting; a probe does not hold a slot that long: ours 30 s), the whole session within
// `session_timeout`. Reply lines are capped at 512 octets (RFC 5321 sec.
// 4.5.3.1.5) and multi-line replies at 100 lines (ours).
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include "core/failure_type.hpp"

namespace mtastsd::io {

struct MxProbeSettings {
  std::string helo_name;  // EHLO argument: this host's name (config); never "localhost"
  std::string ca_file;    // "" = the system store
  std::uint16_t port = 25;
  std::chrono::milliseconds step_timeout{30000};
  std::chrono::milliseconds session_timeout{120000};
};

struct MxProbeResult {
  bool unreachable = false;                   // no TLS verdict: connection or SMTP failed first
  std::optional<core::FailureType> failure;   // nullopt and !unreachable = validated
  std::string detail;                         // what happened, for logs and `mtastsctl check`: the SMTP
                                              // reply, "certificate of X at A:25: certificate has expired
                                              // (CN=... issued by ..., valid from ... to ...)", the TLS version
  std::string helo;                           // the server's 220 greeting host (first word), for receiving-mx-helo
  bool ok() const { return !unreachable && !failure; }
};

class MxProbe {
 public:
  // Throws std::runtime_error when the CA file is unusable, helo_name is no host name, or a
  // timeout is not positive (fatal at start-up). The probe must outlive every probe() it
  // started; probes may run side by side.
  MxProbe(boost::asio::any_io_executor ex, MxProbeSettings settings);
  ~MxProbe();

  // Validates `mx_host` (a lowercase host name, the SNI and the name checked) at `address`.
  boost::asio::awaitable<MxProbeResult> probe(std::string mx_host, boost::asio::ip::address address);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mtastsd::io

// Hands a finished report e-mail to the local mail system, which then delivers it to the
// rua mailbox: SMTP to a relay (default the local Postfix on 127.0.0.1:25), or a
// sendmail-compatible command. Both calls BLOCK until the deadline at most; ReportSender
// runs them on its worker thread, never on the event loop.
//
// SMTP uses libcurl (EHLO, optional STARTTLS, MAIL FROM, RCPT TO, DATA with dot-stuffing,
// QUIT): a well-kept implementation of the protocol details instead of our own. Its easy
// interface blocks, hence the worker thread; libcurl's multi-socket interface could share
// the Asio loop, but its glue (socket and timer callbacks, socket ownership) would be more
// code than the submission itself, for a few messages a day off the hot path. The SMTP
// stage a failure happened in (core::SmtpStage) is read from libcurl's protocol trace
// (CURLOPT_DEBUGFUNCTION), the reply code from CURLINFO_RESPONSE_CODE.
// The relay's host name is resolved by libcurl (getaddrinfo), not by our DnsResolver: it is
// a local name or address from the configuration. No SMTP AUTH: a relay we may use.
//
// The sendmail command is run as `PATH -oi -f FROM -- TO` with the message on stdin in
// local (LF) line ends, without a shell; stdin is a socket so that a command exiting early
// cannot raise SIGPIPE in the daemon; its output (at most kMaxCommandOutput bytes kept) goes
// into the failure detail. It is killed when the deadline passes.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include "core/report_delivery.hpp"

namespace mtastsd::io {

using SubmissionDeadline = std::chrono::steady_clock::time_point;

inline constexpr std::size_t kMaxCommandOutput = 1024;  // ours: enough for a diagnostic line or two

struct SmtpRelaySettings {
  std::string host = "127.0.0.1";  // name or IP address
  std::uint16_t port = 25;
  std::string helo_name;           // EHLO argument; "" = this host's name
  bool require_starttls = false;   // STARTTLS or fail, certificate verified against `host`
  std::string ca_file;             // for STARTTLS; "" = the system store
};

struct Envelope {
  std::string from;  // MAIL FROM, also the return path for bounces
  std::string to;    // RCPT TO: the rua mailbox
};

core::DeliveryResult submit_smtp(const SmtpRelaySettings& relay, const Envelope& envelope, std::string_view message,
                                 SubmissionDeadline deadline);

core::DeliveryResult submit_sendmail(const std::string& command, const Envelope& envelope, std::string_view message,
                                     SubmissionDeadline deadline);

}  // namespace mtastsd::io

// mtastsctl's end of the daemon's control socket (core/control_protocol): connect,
// send one request, read the one reply netstring (at most core::kMaxControlReplyBytes),
// all within one deadline; the daemon closes the connection after its reply.
#pragma once
#include <chrono>
#include <expected>
#include <string>
#include "core/control_protocol.hpp"

namespace mtastsd::ctl {

// The daemon answers status and stats from memory at once.
inline constexpr std::chrono::seconds kQuickCallDeadline{10};

enum class ControlCallFailure {
  not_running,  // no socket at the path, or nobody listening on it (ENOENT, ECONNREFUSED)
  denied,       // no permission to connect (the socket is 0600: root and the daemon's user)
  io_error,     // any other failure to connect, send or receive
  timed_out,    // no complete reply within the deadline
  bad_reply,    // a reply that is no netstring, too long, or not the protocol's JSON
};
struct ControlCallError {
  ControlCallFailure kind;
  std::string detail;  // names the socket and what failed
};

// The daemon's reply (ok or its error) to one request.
std::expected<core::ControlReply, ControlCallError> call_daemon(const std::string& socket_path,
                                                                const core::ControlRequest& request,
                                                                std::chrono::milliseconds deadline);

}  // namespace mtastsd::ctl

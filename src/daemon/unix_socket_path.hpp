// The file-system side of a UNIX socket mtastsd listens on (socketmap listener,
// TLS-RPT datagram socket): its directory, a stale socket left by an earlier run,
// and owner, group and mode, so that Postfix's processes (user postfix) may connect
// or send. Errors name the path and what failed.
#pragma once
#include <expected>
#include <string>
#include "daemon/config.hpp"

namespace mtastsd::daemon {

// Creates the parent directory and removes a stale socket at the path; anything
// else at the path is an error (never deleted).
std::expected<void, std::string> prepare_unix_path(const ListenEndpoint& ep);

// chown to ep.owner/ep.group (when given) and chmod to ep.mode, after bind().
std::expected<void, std::string> apply_unix_permissions(const ListenEndpoint& ep);

}  // namespace mtastsd::daemon

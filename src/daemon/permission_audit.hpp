// The start-up check of who may touch mtastsd's configuration file, DKIM private key
// and UNIX sockets (the rules are core/permission_audit's): the stat() calls, the
// account the daemon will run as, and the findings. Run by the daemon before it
// gives up root (warnings are logged, an error stops the start) and by
// `mtastsd --check-config` (printed on standard error; an error fails the check).
// Limits: the DKIM key is checked only when report sending will load it; the files
// are checked once, at start-up and by --check-config, not at each reload.
#pragma once
#include <expected>
#include <string>
#include <vector>
#include "core/permission_audit.hpp"
#include "daemon/config.hpp"

namespace mtastsd::daemon {

// The account the daemon runs as once start-up is over: `user`/`group` after a root
// start that names them, else the process's own (root stays root).
std::expected<core::RunAccount, std::string> account_after_start_up(const Config& config);

// The findings for the configuration file (when one was read), the DKIM key (when
// report sending will load it) and every UNIX socket's configured mode.
std::vector<core::PermissionFinding> audit_permissions(const Config& config, const core::RunAccount& account);

// The daemon's start-up: logs each finding (warning, or critical for an error); false
// when the start must stop (an error, or the account cannot be found).
bool permissions_allow_start(const Config& config);

}  // namespace mtastsd::daemon

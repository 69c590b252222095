// Running as the configured user after a root start: the sockets are bound and
// the state directory prepared while still root, then the process takes the
// user's uid, its group (or the configured one) and the user's supplementary
// groups (initgroups: e.g. adm, to read /var/log/mail.log), and checks that
// root cannot be regained. Under systemd (User=mtastsd) the daemon never is
// root and none of this applies. Every thread (the resolver's, the report
// sender's) starts after the drop. The umask is narrowed in any case.
#pragma once
#include <sys/types.h>

#include <expected>
#include <optional>
#include <string>
#include "daemon/config.hpp"

namespace mtastsd::daemon {

struct RunAs {
  std::string user;
  std::string group;
  uid_t uid = 0;
  gid_t gid = 0;
};

// The account to switch to: nullopt when the process is not root (nothing to drop:
// a configured user that is not the current one is logged as ignored) or when no
// user is configured (a root start then warns that it keeps running as root).
// An unknown user or group is an error.
std::expected<std::optional<RunAs>, std::string> account_to_run_as(const Config& config);

// The account of `user` and `group` ("" = the user's primary group) in the passwd and
// group databases, without logging; root is refused.
std::expected<RunAs, std::string> look_up_account(const std::string& user, const std::string& group);

// Adds group and other write to the process's umask when it lacks them (logged): the
// directories mtastsd creates (runtime_dir, state_dir) are then never writable by
// others, and a UNIX socket is not writable by others between bind() and its chmod.
void restrict_umask();

// Creates state_dir and state_dir/cache when missing and gives them, with the files
// in cache/, to the account (a cache written by an earlier root run stays usable).
std::expected<void, std::string> hand_over_state_dir(const std::string& state_dir, const RunAs& account);

// setgroups/initgroups, setgid, setuid; then verifies that setuid(0) fails.
std::expected<void, std::string> drop_privileges(const RunAs& account);

}  // namespace mtastsd::daemon

// The rules on who may touch mtastsd's configuration file, its DKIM private key and
// its UNIX sockets, as findings for the start-up log and `mtastsd --check-config`.
// Pure: the caller stat()s the files and says which account the daemon runs as once
// start-up is over (daemon/permission_audit). The rules:
// - configuration file: whoever may write it steers the daemon (which keys it signs
//   with, where it sends reports): a warning if its group or others may write it, or
//   if it belongs to anyone but root or the daemon's user;
// - DKIM private key (RFC 8460 sec. 5.3 report signatures): anyone who reads it can
//   sign mail as the reporting domain. An error if others may read or write it or its
//   group may write it (opendkim's RequireSafeKeys rule, which io/dkim_signer enforces
//   at load), or if the daemon's account cannot read it or reach it through its
//   directories; a warning if a group other than the daemon's (or root's) may read it,
//   or if it belongs to anyone but root or the daemon's user;
// - UNIX sockets: a warning if others may write to (connect to, send to) one.
// Limits: plain POSIX mode bits: ACLs, capabilities other than root's DAC override,
// and mandatory access control (AppArmor, SELinux) are not modelled; the group list
// is the account's as given (the kernel decides with the process's groups).
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mtastsd::core {

// What stat(2) says about a file or a directory, with names for the messages.
struct FileFacts {
  std::string path;
  std::uint32_t mode = 0;  // permission bits (07777 of st_mode)
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::string owner;  // user name of uid, or the number as text
  std::string group;  // group name of gid, or the number as text
};

// The account the daemon runs as once start-up is over (after a root start has
// dropped to `user`, or the one it was started as).
struct RunAccount {
  std::string user;
  std::string group;  // primary group's name
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::vector<std::uint32_t> groups;  // supplementary groups
};

enum class Permission : std::uint32_t { read = 4, write = 2, search = 1 };  // the bit within a class

// The POSIX check: the owner class for the file's owner, else the group class for a
// member of its group, else the other class. uid 0 may read and write anything and
// search any directory (CAP_DAC_OVERRIDE).
bool may(const RunAccount& account, const FileFacts& file, Permission permission);

enum class PermissionSeverity { warning, error };  // error: the daemon cannot run as configured
std::string_view to_string(PermissionSeverity s);  // "warning", "error"

struct PermissionFinding {
  PermissionSeverity severity = PermissionSeverity::warning;
  std::string code;  // stable per rule, e.g. "config-others-write" (tests, tools)
  std::string text;  // plain words: the file, what is wrong, what to change
};

std::vector<PermissionFinding> check_config_file(const FileFacts& file, const RunAccount& account);

// `directories`: the directories above the key, outermost first.
std::vector<PermissionFinding> check_private_key(const FileFacts& key, std::span<const FileFacts> directories,
                                                 const RunAccount& account);

// `what`: e.g. "TLS-RPT socket"; `mode` as configured.
std::optional<PermissionFinding> check_socket_mode(std::string_view what, std::string_view path, std::uint32_t mode);

}  // namespace mtastsd::core

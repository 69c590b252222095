// Permission rules for mtastsd's files and sockets; see the header.
#include "core/permission_audit.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace mtastsd::core {
namespace {

// The mode bits of sys/stat.h, spelled out so that this file stays free of system headers.
constexpr std::uint32_t kGroupRead = 0040;
constexpr std::uint32_t kGroupWrite = 0020;
constexpr std::uint32_t kOthersWrite = 0002;
constexpr std::uint32_t kOthersAll = 0007;
constexpr std::uint32_t kRootUid = 0;
constexpr std::uint32_t kRootGid = 0;

PermissionFinding warning(std::string code, std::string text) {
  return {PermissionSeverity::warning, std::move(code), std::move(text)};
}

PermissionFinding error(std::string code, std::string text) {
  return {PermissionSeverity::error, std::move(code), std::move(text)};
}

bool in_group(const RunAccount& account, std::uint32_t gid) {
  return account.gid == gid || std::ranges::find(account.groups, gid) != account.groups.end();
}

std::string account_text(const RunAccount& account) {
  return fmt::format("user {} (uid {})", account.user, account.uid);
}

std::string ownership_text(const FileFacts& file) {
  return fmt::format("owner {}, group {}, mode {:04o}", file.owner, file.group, file.mode);
}

// Whoever owns a file may chmod and rewrite it: only root and the daemon itself are expected.
bool foreign_owner(const FileFacts& file, const RunAccount& account) {
  return file.uid != kRootUid && file.uid != account.uid;
}

}  // namespace

bool may(const RunAccount& account, const FileFacts& file, Permission permission) {
  const auto bit = static_cast<std::uint32_t>(permission);
  if (account.uid == kRootUid) return true;
  if (account.uid == file.uid) return (file.mode & (bit << 6)) != 0;
  if (in_group(account, file.gid)) return (file.mode & (bit << 3)) != 0;
  return (file.mode & bit) != 0;
}

std::string_view to_string(PermissionSeverity s) {
  return s == PermissionSeverity::error ? "error" : "warning";
}

std::vector<PermissionFinding> check_config_file(const FileFacts& file, const RunAccount& account) {
  std::vector<PermissionFinding> found;
  if (file.mode & kOthersWrite)
    found.push_back(warning("config-others-write",
                            fmt::format("configuration file {} has mode {:04o}: every local user may rewrite it and "
                                        "so steer mtastsd (chmod o-w {})",
                                        file.path, file.mode, file.path)));
  if (file.mode & kGroupWrite)
    found.push_back(warning("config-group-write",
                            fmt::format("configuration file {} has mode {:04o}: members of group {} may rewrite it "
                                        "and so steer mtastsd (chmod g-w {})",
                                        file.path, file.mode, file.group, file.path)));
  if (foreign_owner(file, account))
    found.push_back(warning("config-owner",
                            fmt::format("configuration file {} belongs to {}, who may rewrite it and so steer "
                                        "mtastsd; it should belong to root (chown root {})",
                                        file.path, file.owner, file.path)));
  return found;
}

std::vector<PermissionFinding> check_private_key(const FileFacts& key, std::span<const FileFacts> directories,
                                                 const RunAccount& account) {
  std::vector<PermissionFinding> found;
  if (key.mode & (kOthersAll | kGroupWrite))
    found.push_back(error("key-mode", fmt::format("DKIM key file {} has mode {:04o}: others may read or write it, "
                                                  "or its group may write it; mtastsd refuses such a key "
                                                  "(chmod o-rwx,g-w {})",
                                                  key.path, key.mode, key.path)));
  if ((key.mode & kGroupRead) && key.gid != kRootGid && key.gid != account.gid)
    found.push_back(warning("key-group",
                            fmt::format("DKIM key file {} is readable by the members of group {}, who could sign "
                                        "mail as the reporting domain (chgrp {} {} or chmod g-r {})",
                                        key.path, key.group, account.group, key.path, key.path)));
  if (foreign_owner(key, account))
    found.push_back(warning("key-owner",
                            fmt::format("DKIM key file {} belongs to {}, who may read and replace it; it should "
                                        "belong to root (chown root {})",
                                        key.path, key.owner, key.path)));
  const auto closed = std::ranges::find_if(
      directories, [&](const FileFacts& dir) { return !may(account, dir, Permission::search); });
  if (closed != directories.end())
    found.push_back(error("key-unreachable",
                          fmt::format("{}, which mtastsd runs as after start-up, cannot reach the DKIM key file {}: "
                                      "it may not enter the directory {} ({})",
                                      account_text(account), key.path, closed->path, ownership_text(*closed))));
  else if (!may(account, key, Permission::read))
    found.push_back(error("key-unreadable",
                          fmt::format("{}, which mtastsd runs as after start-up, cannot read the DKIM key file {} "
                                      "({}); e.g. chgrp {} {} && chmod 0640 {}",
                                      account_text(account), key.path, ownership_text(key), account.group, key.path,
                                      key.path)));
  return found;
}

std::optional<PermissionFinding> check_socket_mode(std::string_view what, std::string_view path, std::uint32_t mode) {
  if (!(mode & kOthersWrite)) return std::nullopt;
  return warning("socket-others-write",
                 fmt::format("{} {} has mode {:04o}: every local user may connect or send to it; leave o-w off "
                             "unless that is meant",
                             what, path, mode));
}

}  // namespace mtastsd::core

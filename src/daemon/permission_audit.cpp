// The permission check at start-up; see the header.
#include "daemon/permission_audit.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include "daemon/listeners.hpp"
#include "daemon/privileges.hpp"
#include "daemon/report_dispatch.hpp"

namespace mtastsd::daemon {
namespace {

std::string user_name(uid_t uid) {
  const passwd* pw = ::getpwuid(uid);
  return pw ? pw->pw_name : std::to_string(uid);
}

std::string group_name(gid_t gid) {
  const group* gr = ::getgrgid(gid);
  return gr ? gr->gr_name : std::to_string(gid);
}

std::expected<core::FileFacts, std::string> stat_facts(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::unexpected(std::string(std::strerror(errno)));
  return core::FileFacts{.path = path, .mode = static_cast<std::uint32_t>(st.st_mode & 07777),
                         .uid = st.st_uid, .gid = st.st_gid, .owner = user_name(st.st_uid),
                         .group = group_name(st.st_gid)};
}

std::vector<std::uint32_t> supplementary_groups_of(const std::string& user, gid_t primary) {
  int count = 32;
  std::vector<gid_t> groups(static_cast<std::size_t>(count));
  if (::getgrouplist(user.c_str(), primary, groups.data(), &count) < 0) {  // too small: count is the size needed
    groups.resize(static_cast<std::size_t>(count));
    if (::getgrouplist(user.c_str(), primary, groups.data(), &count) < 0) return {};
  }
  return {groups.begin(), groups.begin() + count};
}

std::vector<std::uint32_t> own_supplementary_groups() {
  const int count = ::getgroups(0, nullptr);
  if (count <= 0) return {};
  std::vector<gid_t> groups(static_cast<std::size_t>(count));
  const int got = ::getgroups(count, groups.data());
  return got < 0 ? std::vector<std::uint32_t>{} : std::vector<std::uint32_t>(groups.begin(), groups.begin() + got);
}

bool from_file(const Config& config) { return config.source != default_config().source; }

// The report sender (io/report_sender) loads the key only when it is built: see Services.
bool key_will_be_loaded(const Config& config) {
  const TlsRptSettings& t = config.tlsrpt;
  return t.enabled && t.send_reports && has_report_origin(t) && !t.sender.dkim.key_file.empty();
}

void audit_key(const std::string& key_file, const core::RunAccount& account,
               std::vector<core::PermissionFinding>& found) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path key = fs::absolute(key_file, ec);
  auto facts = stat_facts(key.string());
  if (!facts) {
    found.push_back({core::PermissionSeverity::error, "key-missing",
                     fmt::format("DKIM key file {}: {}", key_file, facts.error())});
    return;
  }
  std::vector<core::FileFacts> directories;
  for (fs::path dir = key.parent_path();; dir = dir.parent_path()) {
    if (auto d = stat_facts(dir.string())) directories.insert(directories.begin(), std::move(*d));
    if (dir == dir.parent_path()) break;
  }
  for (core::PermissionFinding& f : core::check_private_key(*facts, directories, account)) found.push_back(std::move(f));
}

}  // namespace

std::expected<core::RunAccount, std::string> account_after_start_up(const Config& config) {
  if (::geteuid() == 0 && !config.user.empty()) {
    auto run_as = look_up_account(config.user, config.group);
    if (!run_as) return std::unexpected(run_as.error());
    return core::RunAccount{.user = run_as->user, .group = run_as->group, .uid = run_as->uid, .gid = run_as->gid,
                            .groups = supplementary_groups_of(run_as->user, run_as->gid)};
  }
  return core::RunAccount{.user = user_name(::geteuid()), .group = group_name(::getegid()), .uid = ::geteuid(),
                          .gid = ::getegid(), .groups = own_supplementary_groups()};
}

std::vector<core::PermissionFinding> audit_permissions(const Config& config, const core::RunAccount& account) {
  std::vector<core::PermissionFinding> found;
  if (from_file(config)) {
    if (auto facts = stat_facts(config.source))
      for (core::PermissionFinding& f : core::check_config_file(*facts, account)) found.push_back(std::move(f));
  }
  if (key_will_be_loaded(config)) audit_key(config.tlsrpt.sender.dkim.key_file, account, found);
  for (const WantedListener& wanted : wanted_listeners(config)) {
    if (!wanted.id.is_unix()) continue;
    const std::string what = fmt::format("{} socket", to_string(wanted.id.role));
    if (auto f = core::check_socket_mode(what, wanted.endpoint.unix_path, wanted.endpoint.mode))
      found.push_back(std::move(*f));
  }
  return found;
}

bool permissions_allow_start(const Config& config) {
  auto account = account_after_start_up(config);
  if (!account) {
    spdlog::critical("{}", account.error());
    return false;
  }
  bool allowed = true;
  for (const core::PermissionFinding& f : audit_permissions(config, *account)) {
    if (f.severity == core::PermissionSeverity::error) {
      spdlog::critical("{}", f.text);
      allowed = false;
    } else {
      spdlog::warn("{}", f.text);
    }
  }
  return allowed;
}

}  // namespace mtastsd::daemon

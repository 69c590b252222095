// Dropping root; see the header.
#include "daemon/privileges.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace mtastsd::daemon {
namespace {

// Group and others never get write access to what mtastsd creates: a writable
// runtime directory would let them replace a socket, and a socket bound under a
// umask of 0 is world-writable until its mode is set.
constexpr mode_t kNoSharedWrite = S_IWGRP | S_IWOTH;

std::string errno_text() { return std::strerror(errno); }

std::expected<void, std::string> give(const std::filesystem::path& path, const RunAs& account) {
  if (::lchown(path.c_str(), account.uid, account.gid) != 0)
    return std::unexpected(fmt::format("{}: chown to {}:{}: {}", path.string(), account.user, account.group,
                                       errno_text()));
  return {};
}

}  // namespace

std::expected<std::optional<RunAs>, std::string> account_to_run_as(const Config& config) {
  if (::geteuid() != 0) {
    if (!config.user.empty()) {
      const passwd* self = ::getpwuid(::geteuid());
      if (!self || config.user != self->pw_name)
        spdlog::warn("user = \"{}\" is ignored: mtastsd was not started as root (it runs as uid {})", config.user,
                     ::geteuid());
    }
    return std::nullopt;
  }
  if (config.user.empty()) {
    spdlog::warn("running as root: set user = \"mtastsd\" (or run it under systemd with User=) so that a flaw in "
                 "mtastsd cannot act as root");
    return std::nullopt;
  }
  return look_up_account(config.user, config.group);
}

std::expected<RunAs, std::string> look_up_account(const std::string& user, const std::string& group_name) {
  const passwd* pw = ::getpwnam(user.c_str());
  if (!pw) return std::unexpected(fmt::format("user = \"{}\": no such user", user));
  RunAs account{.user = user, .uid = pw->pw_uid, .gid = pw->pw_gid};
  if (!group_name.empty()) {
    const group* gr = ::getgrnam(group_name.c_str());
    if (!gr) return std::unexpected(fmt::format("group = \"{}\": no such group", group_name));
    account.gid = gr->gr_gid;
    account.group = group_name;
  } else {
    const group* gr = ::getgrgid(pw->pw_gid);
    account.group = gr ? gr->gr_name : std::to_string(pw->pw_gid);
  }
  if (account.uid == 0) return std::unexpected(fmt::format("user = \"{}\" is root", user));
  return account;
}

void restrict_umask() {
  const mode_t inherited = ::umask(0);
  const mode_t restricted = inherited | kNoSharedWrite;
  ::umask(restricted);
  if (restricted != inherited)
    spdlog::info("umask {:04o} widened to {:04o}: directories mtastsd creates must not be writable by others",
                 inherited, restricted);
}

std::expected<void, std::string> hand_over_state_dir(const std::string& state_dir, const RunAs& account) {
  namespace fs = std::filesystem;
  const fs::path dir(state_dir);
  const fs::path cache = dir / "cache";
  std::error_code ec;
  fs::create_directories(cache, ec);
  if (ec) return std::unexpected(fmt::format("{}: {}", cache.string(), ec.message()));
  for (const fs::path& path : {dir, cache})
    if (auto ok = give(path, account); !ok) return ok;
  for (const fs::directory_entry& entry : fs::directory_iterator(cache, ec))
    if (auto ok = give(entry.path(), account); !ok) return ok;
  if (ec) return std::unexpected(fmt::format("{}: {}", cache.string(), ec.message()));
  return {};
}

std::expected<void, std::string> drop_privileges(const RunAs& account) {
  if (::initgroups(account.user.c_str(), account.gid) != 0)
    return std::unexpected(fmt::format("initgroups({}): {}", account.user, errno_text()));
  if (::setgid(account.gid) != 0) return std::unexpected(fmt::format("setgid({}): {}", account.gid, errno_text()));
  if (::setuid(account.uid) != 0) return std::unexpected(fmt::format("setuid({}): {}", account.uid, errno_text()));
  if (::setuid(0) == 0 || ::geteuid() == 0) return std::unexpected(std::string("root could be regained"));
#if defined(__SANITIZE_ADDRESS__)
  // Only in the AddressSanitizer test build (scripts/test): its leak check at exit stops our
  // threads with ptrace, which the kernel refuses in a process made non-dumpable by setuid.
  ::prctl(PR_SET_DUMPABLE, 1);
#endif
  spdlog::info("running as user {} (uid {}), group {} (gid {})", account.user, account.uid, account.group,
               account.gid);
  return {};
}

}  // namespace mtastsd::daemon

// UNIX socket paths and permissions; see the header.
#include "daemon/unix_socket_path.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace mtastsd::daemon {

std::expected<void, std::string> prepare_unix_path(const ListenEndpoint& ep) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(fs::path(ep.unix_path).parent_path(), ec);
  struct stat st {};
  if (::lstat(ep.unix_path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return std::unexpected(ep.unix_path + ": exists and is not a socket");
    ::unlink(ep.unix_path.c_str());  // stale socket from an earlier run
  }
  return {};
}

std::expected<void, std::string> apply_unix_permissions(const ListenEndpoint& ep) {
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
  if (!ep.owner.empty()) {
    const passwd* pw = ::getpwnam(ep.owner.c_str());
    if (!pw) return std::unexpected(ep.unix_path + ": unknown owner '" + ep.owner + "'");
    uid = pw->pw_uid;
  }
  if (!ep.group.empty()) {
    const group* gr = ::getgrnam(ep.group.c_str());
    if (!gr) return std::unexpected(ep.unix_path + ": unknown group '" + ep.group + "'");
    gid = gr->gr_gid;
  }
  // Only when something changes: after a root start has dropped privileges, a reload
  // re-applies the settings of sockets bound as root, which the run user cannot chown.
  struct stat st {};
  if (::stat(ep.unix_path.c_str(), &st) != 0) return std::unexpected(ep.unix_path + ": " + std::strerror(errno));
  if (uid == st.st_uid) uid = static_cast<uid_t>(-1);
  if (gid == st.st_gid) gid = static_cast<gid_t>(-1);
  if ((uid != static_cast<uid_t>(-1) || gid != static_cast<gid_t>(-1)) && ::chown(ep.unix_path.c_str(), uid, gid) != 0)
    return std::unexpected(ep.unix_path + ": chown: " + std::strerror(errno));
  if (::chmod(ep.unix_path.c_str(), ep.mode) != 0)
    return std::unexpected(ep.unix_path + ": chmod: " + std::strerror(errno));
  return {};
}

}  // namespace mtastsd::daemon

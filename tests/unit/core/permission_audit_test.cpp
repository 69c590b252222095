// The permission rules of core/permission_audit: the POSIX class a check uses, and each
// finding of the configuration file, DKIM key and socket rules with its edges.
#include "core/permission_audit.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mtastsd::core {
namespace permission_audit_test {

constexpr std::uint32_t kDaemonUid = 110;
constexpr std::uint32_t kDaemonGid = 120;
constexpr std::uint32_t kPostfixGid = 130;
constexpr std::uint32_t kAliceUid = 1000;
constexpr std::uint32_t kAliceGid = 1000;

const RunAccount kDaemon{.user = "mtastsd", .group = "mtastsd", .uid = kDaemonUid, .gid = kDaemonGid,
                         .groups = {kPostfixGid}};
const RunAccount kRoot{.user = "root", .group = "root", .uid = 0, .gid = 0, .groups = {}};

FileFacts file(std::uint32_t mode, std::uint32_t uid = 0, std::uint32_t gid = 0, std::string path = "/etc/x") {
  auto name = [](std::uint32_t id) {
    switch (id) {
      case 0: return std::string("root");
      case kDaemonUid:
      case kDaemonGid: return std::string("mtastsd");
      case kPostfixGid: return std::string("postfix");
      default: return std::to_string(id);
    }
  };
  return FileFacts{.path = std::move(path), .mode = mode, .uid = uid, .gid = gid, .owner = name(uid),
                   .group = name(gid)};
}

std::vector<std::string> codes(const std::vector<PermissionFinding>& findings) {
  std::vector<std::string> out;
  for (const auto& f : findings) out.push_back(f.code);
  return out;
}

using Codes = std::vector<std::string>;

// ---- may ----

TEST(PermissionAudit, OwnerClassDecidesForTheOwnerEvenWhenGroupOrOthersWouldAllow) {
  EXPECT_TRUE(may(kDaemon, file(0400, kDaemonUid), Permission::read));
  EXPECT_FALSE(may(kDaemon, file(0044, kDaemonUid, kDaemonGid), Permission::read));
}

TEST(PermissionAudit, GroupClassForThePrimaryAndSupplementaryGroups) {
  EXPECT_TRUE(may(kDaemon, file(0040, 0, kDaemonGid), Permission::read));
  EXPECT_TRUE(may(kDaemon, file(0040, 0, kPostfixGid), Permission::read));
  EXPECT_FALSE(may(kDaemon, file(0004, 0, kPostfixGid), Permission::read));  // group class applies, has no r
  EXPECT_FALSE(may(kDaemon, file(0040, 0, kAliceGid), Permission::read));
}

TEST(PermissionAudit, OthersClassForEveryoneElse) {
  EXPECT_TRUE(may(kDaemon, file(0004, kAliceUid, kAliceGid), Permission::read));
  EXPECT_FALSE(may(kDaemon, file(0770, kAliceUid, kAliceGid), Permission::read));
}

TEST(PermissionAudit, EachPermissionIsItsOwnBit) {
  const FileFacts dir = file(0510, kDaemonUid);
  EXPECT_TRUE(may(kDaemon, dir, Permission::read));
  EXPECT_FALSE(may(kDaemon, dir, Permission::write));
  EXPECT_TRUE(may(kDaemon, dir, Permission::search));
  EXPECT_FALSE(may(kDaemon, file(0601, kDaemonUid), Permission::search));
}

TEST(PermissionAudit, RootMayDoAnything) {
  EXPECT_TRUE(may(kRoot, file(0000, kAliceUid, kAliceGid), Permission::read));
  EXPECT_TRUE(may(kRoot, file(0000, kAliceUid, kAliceGid), Permission::search));
}

// ---- configuration file ----

TEST(PermissionAudit, ConfigOwnedByRootNotWritableByOthersIsFine) {
  EXPECT_TRUE(check_config_file(file(0644), kDaemon).empty());
  EXPECT_TRUE(check_config_file(file(0640, 0, kDaemonGid), kDaemon).empty());
}

TEST(PermissionAudit, ConfigOwnedByTheDaemonUserIsFine) {
  EXPECT_TRUE(check_config_file(file(0600, kDaemonUid, kDaemonGid), kDaemon).empty());
}

TEST(PermissionAudit, ConfigWritableByOthersOrGroupWarns) {
  const auto others = check_config_file(file(0646, 0, 0, "/etc/mtastsd/mtastsd.conf"), kDaemon);
  ASSERT_EQ(codes(others), Codes{"config-others-write"});
  EXPECT_EQ(others[0].severity, PermissionSeverity::warning);
  EXPECT_NE(others[0].text.find("/etc/mtastsd/mtastsd.conf has mode 0646"), std::string::npos) << others[0].text;
  EXPECT_NE(others[0].text.find("chmod o-w /etc/mtastsd/mtastsd.conf"), std::string::npos) << others[0].text;

  const auto group = check_config_file(file(0664, 0, kPostfixGid), kDaemon);
  ASSERT_EQ(codes(group), Codes{"config-group-write"});
  EXPECT_NE(group[0].text.find("group postfix"), std::string::npos) << group[0].text;

  EXPECT_EQ(codes(check_config_file(file(0666), kDaemon)), (Codes{"config-others-write", "config-group-write"}));
}

TEST(PermissionAudit, ConfigOwnedBySomeoneElseWarns) {
  const auto found = check_config_file(file(0644, kAliceUid, kAliceGid), kDaemon);
  ASSERT_EQ(codes(found), Codes{"config-owner"});
  EXPECT_NE(found[0].text.find("belongs to 1000"), std::string::npos) << found[0].text;
  // The same file is the daemon's own when the daemon runs as that user.
  const RunAccount alice{.user = "alice", .group = "alice", .uid = kAliceUid, .gid = kAliceGid, .groups = {}};
  EXPECT_TRUE(check_config_file(file(0644, kAliceUid, kAliceGid), alice).empty());
}

// ---- DKIM private key ----

const std::vector<FileFacts> kOpenDirs = {file(0755, 0, 0, "/etc"), file(0755, 0, 0, "/etc/mtastsd")};

TEST(PermissionAudit, KeyOfRootReadableByTheDaemonGroupIsFine) {
  EXPECT_TRUE(check_private_key(file(0640, 0, kDaemonGid), kOpenDirs, kDaemon).empty());
}

TEST(PermissionAudit, KeyOwnedByTheDaemonUserIsFine) {
  EXPECT_TRUE(check_private_key(file(0400, kDaemonUid, kDaemonGid), kOpenDirs, kDaemon).empty());
}

TEST(PermissionAudit, KeyOfRootOnlyIsFineWhenTheDaemonStaysRoot) {
  EXPECT_TRUE(check_private_key(file(0600), kOpenDirs, kRoot).empty());
}

TEST(PermissionAudit, KeyReadableOrWritableByOthersOrWritableByGroupIsAnError) {
  for (std::uint32_t mode : {0644u, 0602u, 0601u, 0660u}) {
    const auto found = check_private_key(file(mode, kDaemonUid, kDaemonGid), kOpenDirs, kDaemon);
    ASSERT_EQ(codes(found), Codes{"key-mode"}) << std::oct << mode;
    EXPECT_EQ(found[0].severity, PermissionSeverity::error);
    EXPECT_NE(found[0].text.find("chmod o-rwx,g-w"), std::string::npos) << found[0].text;
  }
}

TEST(PermissionAudit, KeyReadableByAnotherGroupWarns) {
  // The daemon is in group postfix and can read it, but so can every postfix process.
  const auto found = check_private_key(file(0640, 0, kPostfixGid), kOpenDirs, kDaemon);
  ASSERT_EQ(codes(found), Codes{"key-group"});
  EXPECT_EQ(found[0].severity, PermissionSeverity::warning);
  EXPECT_NE(found[0].text.find("group postfix"), std::string::npos) << found[0].text;
  EXPECT_NE(found[0].text.find("chgrp mtastsd"), std::string::npos) << found[0].text;
  // Group root is root's.
  EXPECT_EQ(codes(check_private_key(file(0640, 0, 0), kOpenDirs, kRoot)), Codes{});
  // Group without read: no warning.
  EXPECT_EQ(codes(check_private_key(file(0600, kDaemonUid, kPostfixGid), kOpenDirs, kDaemon)), Codes{});
}

TEST(PermissionAudit, KeyOwnedBySomeoneElseWarns) {
  const auto found = check_private_key(file(0640, kAliceUid, kDaemonGid), kOpenDirs, kDaemon);
  ASSERT_EQ(codes(found), Codes{"key-owner"});
  EXPECT_NE(found[0].text.find("belongs to 1000"), std::string::npos) << found[0].text;
}

TEST(PermissionAudit, KeyTheDaemonCannotReadIsAnErrorNamingTheAccount) {
  const auto found = check_private_key(file(0600, 0, 0, "/etc/mtastsd/dkim.pem"), kOpenDirs, kDaemon);
  ASSERT_EQ(codes(found), Codes{"key-unreadable"});
  EXPECT_EQ(found[0].severity, PermissionSeverity::error);
  EXPECT_NE(found[0].text.find("user mtastsd (uid 110)"), std::string::npos) << found[0].text;
  EXPECT_NE(found[0].text.find("owner root, group root, mode 0600"), std::string::npos) << found[0].text;
  EXPECT_NE(found[0].text.find("chgrp mtastsd /etc/mtastsd/dkim.pem"), std::string::npos) << found[0].text;
  // The owner class has no read bit for the daemon even though the group has it.
  EXPECT_EQ(codes(check_private_key(file(0040, kDaemonUid, kDaemonGid), kOpenDirs, kDaemon)),
            Codes{"key-unreadable"});
}

TEST(PermissionAudit, KeyInADirectoryTheDaemonCannotEnterIsAnErrorNamingTheDirectory) {
  const std::vector<FileFacts> dirs = {file(0755, 0, 0, "/etc"), file(0700, 0, 0, "/etc/dkim")};
  const auto found = check_private_key(file(0640, 0, kDaemonGid, "/etc/dkim/key.pem"), dirs, kDaemon);
  ASSERT_EQ(codes(found), Codes{"key-unreachable"});
  EXPECT_NE(found[0].text.find("directory /etc/dkim (owner root, group root, mode 0700)"), std::string::npos)
      << found[0].text;
  // Search (x) is what is needed, not read.
  const std::vector<FileFacts> search_only = {file(0711, 0, 0, "/etc/dkim")};
  EXPECT_TRUE(check_private_key(file(0640, 0, kDaemonGid), search_only, kDaemon).empty());
}

// ---- sockets ----

TEST(PermissionAudit, SocketWritableByOthersWarns) {
  const auto found = check_socket_mode("TLS-RPT socket", "/run/mtastsd/tlsrpt.sock", 0666);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->code, "socket-others-write");
  EXPECT_NE(found->text.find("TLS-RPT socket /run/mtastsd/tlsrpt.sock has mode 0666"), std::string::npos)
      << found->text;
  EXPECT_TRUE(check_socket_mode("socketmap socket", "/x", 0002));
}

TEST(PermissionAudit, SocketReadableByOthersOrWritableByGroupIsFine) {
  EXPECT_FALSE(check_socket_mode("socketmap socket", "/x", 0660));
  EXPECT_FALSE(check_socket_mode("socketmap socket", "/x", 0775));
  EXPECT_FALSE(check_socket_mode("control socket", "/x", 0600));
}

}  // namespace permission_audit_test
}  // namespace mtastsd::core

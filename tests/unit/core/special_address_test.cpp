// Special-purpose address classification (util/special_address.hpp): every range at
// its first and last address, and the ordinary addresses just outside it.
#include "util/special_address.hpp"

#include <arpa/inet.h>
#include <string>
#include <gtest/gtest.h>

namespace mtastsd::util {
namespace special_address_test {

struct Case {
  const char* address;
  const char* expected;  // the range's name, "" for an ordinary (globally reachable) address
};

std::string name_of(const char* text) {
  std::optional<SpecialPurposeRange> range;
  if (Ipv4Bytes v4; inet_pton(AF_INET, text, v4.data()) == 1) {
    range = special_purpose_range(v4);
  } else if (Ipv6Bytes v6; inet_pton(AF_INET6, text, v6.data()) == 1) {
    range = special_purpose_range(v6);
  } else {
    ADD_FAILURE() << "not an address: " << text;
  }
  return range ? std::string(range->name) : "";
}

void expect_all(std::initializer_list<Case> cases) {
  for (const Case& c : cases) EXPECT_EQ(name_of(c.address), c.expected) << c.address;
}

TEST(SpecialAddressV4, EveryRangeAtBothEnds) {
  expect_all({
      {"0.0.0.0", "unspecified"},
      {"0.0.0.1", "this network"},
      {"0.255.255.255", "this network"},
      {"1.0.0.0", ""},
      {"9.255.255.255", ""},
      {"10.0.0.0", "private-use"},
      {"10.255.255.255", "private-use"},
      {"11.0.0.0", ""},
      {"100.63.255.255", ""},
      {"100.64.0.0", "shared address space"},
      {"100.127.255.255", "shared address space"},
      {"100.128.0.0", ""},
      {"126.255.255.255", ""},
      {"127.0.0.0", "loopback"},
      {"127.0.1.1", "loopback"},
      {"127.255.255.255", "loopback"},
      {"128.0.0.0", ""},
      {"169.253.255.255", ""},
      {"169.254.0.0", "link-local"},
      {"169.254.169.254", "link-local"},  // cloud metadata services
      {"169.254.255.255", "link-local"},
      {"169.255.0.0", ""},
      {"172.15.255.255", ""},
      {"172.16.0.0", "private-use"},
      {"172.31.255.255", "private-use"},
      {"172.32.0.0", ""},
      {"191.255.255.255", ""},
      {"192.0.0.0", "IETF protocol assignments"},
      {"192.0.0.8", "IETF protocol assignments"},
      {"192.0.0.11", "IETF protocol assignments"},
      {"192.0.0.255", "IETF protocol assignments"},
      {"192.0.1.0", ""},
      {"192.0.1.255", ""},
      {"192.0.2.0", "documentation (TEST-NET-1)"},
      {"192.0.2.255", "documentation (TEST-NET-1)"},
      {"192.0.3.0", ""},
      {"192.88.98.255", ""},
      {"192.88.99.0", "6to4 relay anycast (deprecated)"},
      {"192.88.99.255", "6to4 relay anycast (deprecated)"},
      {"192.88.100.0", ""},
      {"192.167.255.255", ""},
      {"192.168.0.0", "private-use"},
      {"192.168.255.255", "private-use"},
      {"192.169.0.0", ""},
      {"198.17.255.255", ""},
      {"198.18.0.0", "benchmarking"},
      {"198.19.255.255", "benchmarking"},
      {"198.20.0.0", ""},
      {"198.51.99.255", ""},
      {"198.51.100.0", "documentation (TEST-NET-2)"},
      {"198.51.100.255", "documentation (TEST-NET-2)"},
      {"198.51.101.0", ""},
      {"203.0.112.255", ""},
      {"203.0.113.0", "documentation (TEST-NET-3)"},
      {"203.0.113.255", "documentation (TEST-NET-3)"},
      {"203.0.114.0", ""},
      {"223.255.255.255", ""},
      {"224.0.0.0", "multicast"},
      {"239.255.255.255", "multicast"},
      {"240.0.0.0", "reserved"},
      {"255.255.255.254", "reserved"},
      {"255.255.255.255", "limited broadcast"},
  });
}

TEST(SpecialAddressV4, GloballyReachableExceptionsInsideSpecialBlocks) {
  expect_all({{"192.0.0.9", ""}, {"192.0.0.10", ""}});
  // Globally reachable registry entries outside any special block.
  expect_all({{"192.31.196.1", ""}, {"192.52.193.1", ""}, {"192.175.48.1", ""}});
}

TEST(SpecialAddressV6, EveryRangeAtBothEnds) {
  expect_all({
      {"::", "unspecified"},
      {"::1", "loopback"},
      {"::2", "IPv4-compatible (deprecated)"},
      {"::ffff:ffff", "IPv4-compatible (deprecated)"},
      {"::1:0:0", ""},
      {"::fffe:ffff:ffff", ""},
      {"::ffff:0.0.0.0", "IPv4-mapped"},
      {"::ffff:8.8.8.8", "IPv4-mapped"},
      {"::ffff:255.255.255.255", "IPv4-mapped"},
      {"::1:0:0:0", ""},
      {"64:ff9a:ffff:ffff:ffff:ffff:ffff:ffff", ""},
      {"64:ff9b::1:0:0", ""},  // past 64:ff9b::/96
      {"64:ff9b:0:ffff:ffff:ffff:ffff:ffff", ""},
      {"64:ff9b:1::", "local-use IPv4/IPv6 translation"},
      {"64:ff9b:1:ffff:ffff:ffff:ffff:ffff", "local-use IPv4/IPv6 translation"},
      {"64:ff9b:2::", ""},
      {"ff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ""},
      {"100::", "discard-only"},
      {"100::ffff:ffff:ffff:ffff", "discard-only"},
      {"100:0:0:1::", ""},
      {"2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ""},
      {"2001::", "Teredo"},
      {"2001:0:ffff:ffff:ffff:ffff:ffff:ffff", "Teredo"},
      {"2001:1::", "IETF protocol assignments"},
      {"2001:2::", "benchmarking"},
      {"2001:2:0:ffff:ffff:ffff:ffff:ffff", "benchmarking"},
      {"2001:2:1::", "IETF protocol assignments"},
      {"2001:10::", "IETF protocol assignments"},  // deprecated ORCHID
      {"2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", "IETF protocol assignments"},
      {"2001:200::", ""},
      {"2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", ""},
      {"2001:db8::", "documentation"},
      {"2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "documentation"},
      {"2001:db9::", ""},
      {"2001:4860:4860::8888", ""},
      {"3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ""},
      {"3fff::", "documentation"},
      {"3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", "documentation"},
      {"3fff:1000::", ""},
      {"5eff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ""},
      {"5f00::", "segment routing (SRv6) SIDs"},
      {"5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "segment routing (SRv6) SIDs"},
      {"5f01::", ""},
      {"fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ""},
      {"fc00::", "unique local"},
      {"fd00::1", "unique local"},
      {"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "unique local"},
      {"fe00::", ""},
      {"fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ""},
      {"fe80::", "link-local"},
      {"febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "link-local"},
      {"fec0::", "site-local (deprecated)"},
      {"feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "site-local (deprecated)"},
      {"ff00::", "multicast"},
      {"ff02::1", "multicast"},
      {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "multicast"},
  });
}

TEST(SpecialAddressV6, GloballyReachableExceptionsInsideSpecialBlocks) {
  expect_all({
      {"2001:1::1", ""},
      {"2001:1::2", ""},
      {"2001:3::", ""},
      {"2001:3:ffff:ffff:ffff:ffff:ffff:ffff", ""},
      {"2001:4:112::", ""},
      {"2001:4:112:ffff:ffff:ffff:ffff:ffff", ""},
      {"2001:4:113::", "IETF protocol assignments"},
      {"2001:20::", ""},
      {"2001:2f:ffff:ffff:ffff:ffff:ffff:ffff", ""},
      {"2001:30::", ""},
      {"2001:3f:ffff:ffff:ffff:ffff:ffff:ffff", ""},
      {"2001:40::", "IETF protocol assignments"},
  });
}

TEST(SpecialAddressV6, EmbeddedIpv4AddressesAreJudgedByThatAddress) {
  expect_all({
      {"64:ff9b::8.8.8.8", ""},
      {"64:ff9b::127.0.0.1", "NAT64 of a non-global IPv4 address"},
      {"64:ff9b::10.1.2.3", "NAT64 of a non-global IPv4 address"},
      {"64:ff9b::169.254.169.254", "NAT64 of a non-global IPv4 address"},
      {"2002:808:808::1", ""},
      {"2002:7f00:1::1", "6to4 of a non-global IPv4 address"},
      {"2002:c0a8:101::", "6to4 of a non-global IPv4 address"},
      {"2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "6to4 of a non-global IPv4 address"},
      {"2003::", ""},
  });
}

TEST(SpecialAddress, DescribedWithItsSource) {
  const Ipv4Bytes loopback{127, 0, 0, 1};
  ASSERT_TRUE(special_purpose_range(loopback));
  EXPECT_EQ(to_string(*special_purpose_range(loopback)), "loopback, RFC 1122 sec. 3.2.1.3");
}

}  // namespace special_address_test
}  // namespace mtastsd::util

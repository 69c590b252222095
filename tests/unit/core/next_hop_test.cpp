// Socketmap keys reduced to MTA-STS policy domains (core/next_hop.hpp).
#include "core/next_hop.hpp"

#include <gtest/gtest.h>

#include <string>

namespace mtastsd::core {
namespace next_hop_test {

void expect_domain(std::string_view key, std::string_view want) {
  const NextHop h = normalize_next_hop(key);
  EXPECT_EQ(h.kind, NextHopKind::domain) << key;
  EXPECT_EQ(h.domain, want) << key;
}
void expect_kind(std::string_view key, NextHopKind want) {
  const NextHop h = normalize_next_hop(key);
  EXPECT_EQ(h.kind, want) << key;
  EXPECT_TRUE(h.domain.empty()) << key << " -> " << h.domain;
}

TEST(NormalizeNextHop, PlainDomain) {
  expect_domain("example.com", "example.com");
  expect_domain("mail.example.co.uk", "mail.example.co.uk");
  expect_domain("localhost", "localhost");
}

TEST(NormalizeNextHop, Lowercased) { expect_domain("Example.COM", "example.com"); }

TEST(NormalizeNextHop, OneTrailingDotStripped) {
  expect_domain("example.com.", "example.com");
  expect_kind("example.com..", NextHopKind::invalid);
  expect_kind(".", NextHopKind::parent_probe);
}

TEST(NormalizeNextHop, BracketedRelay) {
  expect_domain("[mx.example.com]", "mx.example.com");
  expect_domain("[MX.Example.com.]:587", "mx.example.com");
  expect_domain("[mx.example.com]:submission", "mx.example.com");
}

TEST(NormalizeNextHop, HostWithPort) {
  expect_domain("mx.example.com:25", "mx.example.com");
  expect_domain("Relay.Example.com.:smtp", "relay.example.com");
}

TEST(NormalizeNextHop, OnlyADomainAloneIsBare) {
  EXPECT_TRUE(normalize_next_hop("example.com").bare);
  EXPECT_TRUE(normalize_next_hop("Example.COM.").bare);
  EXPECT_FALSE(normalize_next_hop("[mx.example.com]").bare);
  EXPECT_FALSE(normalize_next_hop("[mx.example.com]:587").bare);
  EXPECT_FALSE(normalize_next_hop("mx.example.com:25").bare);
}

TEST(NormalizeNextHop, BadBracketsAndPorts) {
  for (const char* key : {"[mx.example.com", "[mx.example.com]x", "[mx.example.com]:", "[]", "[]:25", "[[a.com]]",
                          "mx.example.com:", "mx.example.com:25:26", "mx.example.com:2 5", "[a.com]:25]",
                          "[.example.com]", "mx.example.com:p_rt"}) {
    expect_kind(key, NextHopKind::invalid);
  }
}

TEST(NormalizeNextHop, ParentProbe) {
  expect_kind(".example.com", NextHopKind::parent_probe);
  expect_kind(".com", NextHopKind::parent_probe);
}

TEST(NormalizeNextHop, IpLiterals) {
  for (const char* key : {"[192.0.2.1]", "[192.0.2.1]:25", "[ipv6:2001:db8::1]", "[IPv6:2001:db8::1]:587",
                          "[2001:db8::1]", "192.0.2.1", "192.0.2.1:25", "2001:db8::1", "::1", "ipv6:::1"}) {
    expect_kind(key, NextHopKind::ip_literal);
  }
}

TEST(NormalizeNextHop, BadIpLiteralsAreInvalid) {
  for (const char* key : {"[ipv6:zzz]", "[ipv6:192.0.2.1]", "[192.0.2.256]", "192.0.2", "[1.2.3]"}) {
    expect_kind(key, NextHopKind::invalid);
  }
}

TEST(NormalizeNextHop, UnicodeToALabels) {
  expect_domain("b\xc3\xbc" "cher.example", "xn--bcher-kva.example");
  expect_domain("M\xc3\x9cNCHEN.DE.", "xn--mnchen-3ya.de");            // uppercase U-label, trailing dot
  expect_domain("[b\xc3\xbc" "cher.example]:25", "xn--bcher-kva.example");
  expect_domain("fa\xc3\x9f.de", "xn--fa-hia.de");                     // IDNA2008: sharp s is kept
  expect_domain("\xcf\x82.gr", "xn--3xa.gr");                          // final sigma is kept
  expect_domain("\xe2\x98\x83.net", "xn--n3h.net");                    // symbol: transitional fallback
}

TEST(NormalizeNextHop, ALabelsPassThrough) { expect_domain("XN--Bcher-KVA.example", "xn--bcher-kva.example"); }

TEST(NormalizeNextHop, BadUnicodeIsInvalid) {
  expect_kind("ab--c\xc3\xbc.de", NextHopKind::invalid);  // "--" in positions 3-4
  expect_kind("-\xc3\xbc.de", NextHopKind::invalid);
  expect_kind("\xff\xfe.de", NextHopKind::invalid);      // not UTF-8
  expect_kind("a_b.\xc3\xbc.de", NextHopKind::invalid);  // libidn2 allows "_", host names do not
}

TEST(NormalizeNextHop, InvalidCharactersAndShapes) {
  for (std::string_view key : {"", "exa mple.com", "example.com ", " example.com", "exa\tmple.com", "a_b.example.com",
                               "user@example.com", "-a.example.com", "a..b", "example.123", "*.example.com",
                               "a/b.example.com"}) {
    expect_kind(key, NextHopKind::invalid);
  }
  expect_kind(std::string_view("exa\0mple.com", 12), NextHopKind::invalid);
}

TEST(NormalizeNextHop, LengthLimits) {
  const std::string l63(63, 'a');
  expect_domain(l63 + ".com", l63 + ".com");
  expect_kind(l63 + "a.com", NextHopKind::invalid);
  const std::string name253 = l63 + "." + l63 + "." + l63 + "." + std::string(61, 'b');
  expect_domain(name253, name253);
  expect_domain(name253 + ".", name253);
  expect_kind(name253 + "b", NextHopKind::invalid);
  expect_kind(std::string(5000, 'a'), NextHopKind::invalid);
}

}  // namespace next_hop_test
}  // namespace mtastsd::core

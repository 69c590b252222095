// Host-name syntax (core/host_name.hpp).
#include "core/host_name.hpp"

#include <gtest/gtest.h>

#include <string>

namespace mtastsd::core {
namespace host_name_test {

TEST(IsHostName, AcceptsLdhNames) {
  EXPECT_TRUE(is_host_name("example.com"));
  EXPECT_TRUE(is_host_name("mx1.Example.COM"));
  EXPECT_TRUE(is_host_name("a-b.c0.example"));
  EXPECT_TRUE(is_host_name("xn--mnchen-3ya.de"));
  EXPECT_TRUE(is_host_name("localhost"));
  EXPECT_TRUE(is_host_name("3com.com"));
  EXPECT_TRUE(is_host_name("123.example"));
}

TEST(IsHostName, RejectsEmptyLabels) {
  EXPECT_FALSE(is_host_name(""));
  EXPECT_FALSE(is_host_name("example.com."));
  EXPECT_FALSE(is_host_name(".example.com"));
  EXPECT_FALSE(is_host_name("a..example.com"));
  EXPECT_FALSE(is_host_name("."));
}

TEST(IsHostName, RejectsHyphenAtLabelEdges) {
  EXPECT_FALSE(is_host_name("-a.example.com"));
  EXPECT_FALSE(is_host_name("a-.example.com"));
  EXPECT_FALSE(is_host_name("a.example.com-"));
}

TEST(IsHostName, RejectsOtherCharacters) {
  for (const char* bad : {"a_b.example.com", "a b.example.com", "*.example.com", "a*.example.com", "user@example.com",
                          "m\xc3\xbcnchen.de", "a.example.com:25", "[a.example.com]", "a\tb.com"}) {
    EXPECT_FALSE(is_host_name(bad)) << bad;
  }
}

TEST(IsHostName, RejectsAllNumericLastLabel) {
  EXPECT_FALSE(is_host_name("192.0.2.1"));
  EXPECT_FALSE(is_host_name("example.123"));
  EXPECT_FALSE(is_host_name("42"));
}

TEST(IsHostName, LabelLengthLimit) {
  const std::string label63(63, 'a');
  EXPECT_TRUE(is_host_name(label63 + ".com"));
  EXPECT_FALSE(is_host_name(label63 + "a.com"));
}

TEST(IsHostName, NameLengthLimit) {
  // 63+1+63+1+63+1+61 = 253 characters.
  const std::string l63(63, 'a');
  const std::string name253 = l63 + "." + l63 + "." + l63 + "." + std::string(61, 'b');
  ASSERT_EQ(name253.size(), 253u);
  EXPECT_TRUE(is_host_name(name253));
  EXPECT_FALSE(is_host_name(name253 + "b"));
}

TEST(AsciiLowercase, LowersOnlyAscii) {
  EXPECT_EQ(ascii_lowercase("MX1.Example.COM"), "mx1.example.com");
  EXPECT_EQ(ascii_lowercase("\xc3\x9c-A"), "\xc3\x9c-a");
}

}  // namespace host_name_test
}  // namespace mtastsd::core

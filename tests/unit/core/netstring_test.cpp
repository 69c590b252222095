// Netstring encoder and incremental decoder (util/netstring.hpp).
#include "util/netstring.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace mtastsd::util {
namespace netstring_test {

using Next = std::expected<std::optional<std::string>, NetstringError>;

// Drains every complete netstring; stops at "need more" or an error.
std::vector<std::string> drain(NetstringDecoder& d) {
  std::vector<std::string> out;
  for (;;) {
    Next n = d.next();
    if (!n || !*n) return out;
    out.push_back(**n);
  }
}

void expect_payload(const Next& n, std::string_view want) {
  ASSERT_TRUE(n.has_value()) << to_string(n.error());
  ASSERT_TRUE(n->has_value());
  EXPECT_EQ(**n, want);
}
void expect_need_more(const Next& n) {
  ASSERT_TRUE(n.has_value()) << to_string(n.error());
  EXPECT_FALSE(n->has_value());
}
void expect_error(const Next& n, NetstringError e) {
  ASSERT_FALSE(n.has_value());
  EXPECT_EQ(n.error(), e);
}

TEST(EncodeNetstring, FramesPayload) {
  EXPECT_EQ(encode_netstring("hello world!"), "12:hello world!,");
  EXPECT_EQ(encode_netstring(""), "0:,");
  EXPECT_EQ(encode_netstring(std::string(1, '\0')), std::string("1:\0,", 4));
}

TEST(NetstringDecoder, DecodesOne) {
  NetstringDecoder d(100);
  d.feed("19:postfix example.com,");
  expect_payload(d.next(), "postfix example.com");
  expect_need_more(d.next());
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(NetstringDecoder, EmptyBufferNeedsMore) {
  NetstringDecoder d(100);
  expect_need_more(d.next());
}

TEST(NetstringDecoder, EmptyPayload) {
  NetstringDecoder d(100);
  d.feed("0:,");
  expect_payload(d.next(), "");
  expect_need_more(d.next());
}

TEST(NetstringDecoder, ByteByByte) {
  const std::string wire = encode_netstring("postfix [mx.example.com]:587");
  NetstringDecoder d(100);
  for (std::size_t i = 0; i + 1 < wire.size(); ++i) {
    d.feed(wire.substr(i, 1));
    expect_need_more(d.next());
  }
  d.feed(wire.substr(wire.size() - 1));
  expect_payload(d.next(), "postfix [mx.example.com]:587");
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(NetstringDecoder, PipelinedInOneFeed) {
  NetstringDecoder d(100);
  d.feed("3:abc,0:,5:hello,2:x");
  EXPECT_EQ(drain(d), (std::vector<std::string>{"abc", "", "hello"}));
  EXPECT_EQ(d.buffered(), 3u);  // "2:x" waits for the rest
  d.feed("y,");
  expect_payload(d.next(), "xy");
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(NetstringDecoder, AnyChunkingGivesTheSamePayloads) {
  const std::vector<std::string> payloads{"postfix example.com", "", "tlsrpt [mx.example.com]:587", std::string(300, 'z')};
  std::string wire;
  for (const auto& p : payloads) wire += encode_netstring(p);
  std::mt19937 rng(8461);  // fixed seed: the same chunkings on every run
  for (int round = 0; round < 200; ++round) {
    NetstringDecoder d(1000);
    std::vector<std::string> got;
    for (std::size_t pos = 0; pos < wire.size();) {
      const std::size_t n = std::min<std::size_t>(1 + rng() % 40, wire.size() - pos);
      d.feed(std::string_view(wire).substr(pos, n));
      pos += n;
      for (const auto& p : drain(d)) got.push_back(p);
    }
    ASSERT_EQ(got, payloads) << "round " << round;
    EXPECT_EQ(d.buffered(), 0u);
  }
}

TEST(NetstringDecoder, PayloadMayHoldAnyByte) {
  const std::string payload("a,b:c\n\0d", 8);
  NetstringDecoder d(100);
  d.feed(encode_netstring(payload));
  expect_payload(d.next(), payload);
}

TEST(NetstringDecoder, LengthAtCapAccepted) {
  NetstringDecoder d(5);
  d.feed("5:abcde,");
  expect_payload(d.next(), "abcde");
}

TEST(NetstringDecoder, LengthAboveCapRejectedBeforeData) {
  NetstringDecoder d(5);
  d.feed("6");  // no ':' and no data yet: the length alone is too big
  expect_error(d.next(), NetstringError::too_long);
}

TEST(NetstringDecoder, LengthDigitsRejectedAsSoonAsTheyExceedCap) {
  NetstringDecoder d(100000);
  d.feed("10000");
  expect_need_more(d.next());  // 10000 still fits, more digits may follow
  d.feed("0");
  expect_need_more(d.next());  // 100000 == cap
  d.feed("0");
  expect_error(d.next(), NetstringError::too_long);
}

TEST(NetstringDecoder, HugeLengthPrefix) {
  NetstringDecoder d(100000);
  d.feed("100000000:");
  expect_error(d.next(), NetstringError::too_long);
}

TEST(NetstringDecoder, EndlessDigitsDoNotOverflow) {
  NetstringDecoder d(SIZE_MAX);
  d.feed(std::string(40, '9'));
  expect_error(d.next(), NetstringError::too_long);
}

TEST(NetstringDecoder, LeadingZeroRejected) {
  NetstringDecoder d(100);
  d.feed("03:abc,");
  expect_error(d.next(), NetstringError::bad_length);
}

TEST(NetstringDecoder, LeadingZeroRejectedBeforeColon) {
  NetstringDecoder d(100);
  d.feed("00");
  expect_error(d.next(), NetstringError::bad_length);
}

TEST(NetstringDecoder, NonDigitInLength) {
  for (const char* wire : {"x:abc,", "1x:a,", "-1:a,", " 1:a,", "+1:a,"}) {
    NetstringDecoder d(100);
    d.feed(wire);
    expect_error(d.next(), NetstringError::bad_length);
  }
}

TEST(NetstringDecoder, MissingLength) {
  NetstringDecoder d(100);
  d.feed(":abc,");
  expect_error(d.next(), NetstringError::bad_length);
}

TEST(NetstringDecoder, MissingComma) {
  NetstringDecoder d(100);
  d.feed("3:abcd");
  expect_error(d.next(), NetstringError::missing_comma);
}

TEST(NetstringDecoder, MissingCommaNotReportedBeforeByteArrives) {
  NetstringDecoder d(100);
  d.feed("3:abc");
  expect_need_more(d.next());
  d.feed(";");
  expect_error(d.next(), NetstringError::missing_comma);
}

TEST(NetstringDecoder, ErrorIsSticky) {
  NetstringDecoder d(100);
  d.feed("3:abcX0:,");
  expect_error(d.next(), NetstringError::missing_comma);
  d.feed("0:,");
  expect_error(d.next(), NetstringError::missing_comma);
}

TEST(NetstringDecoder, GoodFrameBeforeBadOneIsDelivered) {
  NetstringDecoder d(100);
  d.feed("1:a,zz");
  expect_payload(d.next(), "a");
  expect_error(d.next(), NetstringError::bad_length);
}

TEST(NetstringDecoder, ErrorNamesAreDistinct) {
  EXPECT_NE(to_string(NetstringError::bad_length), to_string(NetstringError::too_long));
  EXPECT_NE(to_string(NetstringError::too_long), to_string(NetstringError::missing_comma));
}

}  // namespace netstring_test
}  // namespace mtastsd::util

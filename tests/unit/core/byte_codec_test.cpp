// util/byte_codec: varints and length-prefixed strings round-trip, and the reader
// refuses truncated, overlong and oversized input instead of reading past it.
#include "util/byte_codec.hpp"

#include <cstdint>
#include <gtest/gtest.h>

namespace mtastsd::util {
namespace byte_codec_test {

TEST(ByteCodec, VarintsRoundTripAtEveryBoundary) {
  for (std::uint64_t v : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{127}, std::uint64_t{128},
                          std::uint64_t{16383}, std::uint64_t{16384}, std::uint64_t{1} << 35, UINT64_MAX}) {
    ByteWriter w;
    w.varint(v);
    const std::string bytes = w.take();
    ByteReader r(bytes);
    EXPECT_EQ(r.varint(), v);
    EXPECT_TRUE(r.at_end());
  }
}

TEST(ByteCodec, VarintIsLeb128) {
  ByteWriter w;
  w.varint(300);
  EXPECT_EQ(w.take(), std::string("\xac\x02"));
}

TEST(ByteCodec, BadVarintsAreRefused) {
  EXPECT_EQ(ByteReader("").varint(), std::nullopt);
  EXPECT_EQ(ByteReader("\x80").varint(), std::nullopt);                       // truncated
  EXPECT_EQ(ByteReader(std::string(10, '\x80') + '\x01').varint(), std::nullopt);  // 11 bytes
  EXPECT_EQ(ByteReader(std::string(9, '\xff') + '\x02').varint(), std::nullopt);   // 65 bits
  EXPECT_EQ(ByteReader(std::string(9, '\xff') + '\x01').varint(), UINT64_MAX);
}

TEST(ByteCodec, StringsRoundTripAndAreBoundedByTheInput) {
  ByteWriter w;
  w.bytes("");
  w.bytes(std::string("a\0b", 3));
  w.u8(7);
  const std::string bytes = w.take();
  ByteReader r(bytes);
  EXPECT_EQ(r.bytes(), "");
  EXPECT_EQ(r.bytes(), std::string_view("a\0b", 3));
  EXPECT_EQ(r.u8(), 7);
  EXPECT_TRUE(r.at_end());
  EXPECT_EQ(r.u8(), std::nullopt);

  EXPECT_EQ(ByteReader("\x04" "abc").bytes(), std::nullopt);  // one byte short
}

TEST(ByteCodec, CountsAreBoundedByTheInput) {
  EXPECT_EQ(ByteReader("\x03" "abc").count(), 3u);
  EXPECT_EQ(ByteReader("\x04" "abc").count(), std::nullopt);
  EXPECT_EQ(ByteReader("\x02" "abc").count(2), std::nullopt);  // two items of 2+ bytes do not fit in 3
  EXPECT_EQ(ByteReader("\xff\xff\xff\xff\x0f").count(), std::nullopt);
}

}  // namespace byte_codec_test
}  // namespace mtastsd::util

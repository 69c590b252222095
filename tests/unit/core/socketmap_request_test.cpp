// Socketmap request payloads (core/socketmap_request.hpp).
#include "core/socketmap_request.hpp"

#include <gtest/gtest.h>

namespace mtastsd::core {
namespace socketmap_request_test {

TEST(ParseSocketmapRequest, NameAndKey) {
  auto r = parse_socketmap_request("postfix example.com");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->name, "postfix");
  EXPECT_EQ(r->key, "example.com");
}

TEST(ParseSocketmapRequest, SplitsAtFirstSpaceOnly) {
  auto r = parse_socketmap_request("tlsrpt [mx.example.com]:587 more  words ");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->name, "tlsrpt");
  EXPECT_EQ(r->key, "[mx.example.com]:587 more  words ");
}

TEST(ParseSocketmapRequest, KeyMayStartWithSpace) {
  auto r = parse_socketmap_request("p  x");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->name, "p");
  EXPECT_EQ(r->key, " x");
}

TEST(ParseSocketmapRequest, NoSpace) {
  EXPECT_EQ(parse_socketmap_request("postfix").error(), SocketmapRequestError::no_space);
  EXPECT_EQ(parse_socketmap_request("").error(), SocketmapRequestError::no_space);
  EXPECT_EQ(parse_socketmap_request("postfix\texample.com").error(), SocketmapRequestError::no_space);
}

TEST(ParseSocketmapRequest, EmptyName) {
  EXPECT_EQ(parse_socketmap_request(" example.com").error(), SocketmapRequestError::empty_name);
  EXPECT_EQ(parse_socketmap_request(" ").error(), SocketmapRequestError::empty_name);
}

TEST(ParseSocketmapRequest, EmptyKey) {
  EXPECT_EQ(parse_socketmap_request("postfix ").error(), SocketmapRequestError::empty_key);
}

TEST(ParseSocketmapRequest, ErrorNamesAreDistinct) {
  EXPECT_NE(to_string(SocketmapRequestError::no_space), to_string(SocketmapRequestError::empty_name));
  EXPECT_NE(to_string(SocketmapRequestError::empty_name), to_string(SocketmapRequestError::empty_key));
}

}  // namespace socketmap_request_test
}  // namespace mtastsd::core

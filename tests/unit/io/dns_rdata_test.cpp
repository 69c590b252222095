// Rdata decoding: each record type's wire format, its text form and the bounds checks.
#include "io/dns_rdata.hpp"

#include <gtest/gtest.h>

namespace mtastsd::io {
namespace dns_rdata_test {

using Bytes = std::vector<std::uint8_t>;

Bytes bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Bytes wire_name(std::initializer_list<std::string_view> labels) {
  Bytes out;
  for (auto l : labels) {
    out.push_back(static_cast<std::uint8_t>(l.size()));
    out.insert(out.end(), l.begin(), l.end());
  }
  out.push_back(0);
  return out;
}

Bytes mx(std::uint16_t pref, std::initializer_list<std::string_view> labels) {
  return concat({{static_cast<std::uint8_t>(pref >> 8), static_cast<std::uint8_t>(pref & 0xff)}, wire_name(labels)});
}

// ---- TXT ----
TEST(TxtRdata, SingleString) {
  auto rd = concat({{8}, bytes("v=STSv1;")});
  EXPECT_EQ(txt_from_rdata(rd), "v=STSv1;");
}

TEST(TxtRdata, StringsConcatenatedWithoutSpaces) {  // RFC 8461 sec. 3.1
  auto rd = concat({{8}, bytes("v=STSv1;"), {7}, bytes(" id=123")});
  EXPECT_EQ(txt_from_rdata(rd), "v=STSv1; id=123");
}

TEST(TxtRdata, EmptyCharacterStringIsAllowed) {
  auto rd = concat({{0}, {2}, bytes("ab"), {0}});
  EXPECT_EQ(txt_from_rdata(rd), "ab");
}

TEST(TxtRdata, NoCharacterStringIsMalformed) { EXPECT_EQ(txt_from_rdata(Bytes{}), std::nullopt); }

TEST(TxtRdata, LengthPastEndIsMalformed) {
  auto rd = concat({{9}, bytes("v=STSv1;")});
  EXPECT_EQ(txt_from_rdata(rd), std::nullopt);
  auto second = concat({{2}, bytes("ab"), {5}, bytes("cd")});
  EXPECT_EQ(txt_from_rdata(second), std::nullopt);
}

TEST(TxtRdata, MaximalCharacterString) {
  Bytes rd{255};
  rd.insert(rd.end(), 255, 'x');
  EXPECT_EQ(txt_from_rdata(rd), std::string(255, 'x'));
}

// ---- A / AAAA ----
TEST(AddressRdata, A) {
  EXPECT_EQ(a_from_rdata(Bytes{192, 0, 2, 1}), "192.0.2.1");
  EXPECT_EQ(a_from_rdata(Bytes{192, 0, 2}), std::nullopt);
  EXPECT_EQ(a_from_rdata(Bytes{192, 0, 2, 1, 0}), std::nullopt);
}

TEST(AddressRdata, Aaaa) {
  Bytes v6{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  EXPECT_EQ(aaaa_from_rdata(v6), "2001:db8::1");
  EXPECT_EQ(aaaa_from_rdata(Bytes{192, 0, 2, 1}), std::nullopt);
}

// ---- MX ----
TEST(MxRdata, PreferenceAndLowercasedExchange) {
  auto rec = mx_from_rdata(mx(10, {"MX1", "Example", "COM"}));
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->preference, 10);
  EXPECT_EQ(rec->exchange, "mx1.example.com");
}

TEST(MxRdata, HighPreferenceByteOrder) {
  auto rec = mx_from_rdata(mx(0x1234, {"a"}));
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->preference, 0x1234);
}

TEST(MxRdata, NullMxIsRoot) {  // RFC 7505
  auto rec = mx_from_rdata(mx(0, {}));
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->exchange, ".");
}

TEST(MxRdata, SpecialOctetsAreEscapedSoNoLabelGainsADot) {
  auto rec = mx_from_rdata(mx(5, {"a.b", "c d", "_x-1"}));
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->exchange, "a\\046b.c\\032d._x-1");
}

TEST(MxRdata, CompressionPointerIsMalformed) {
  EXPECT_EQ(mx_from_rdata(Bytes{0, 10, 0xc0, 0x0c}), std::nullopt);
}

TEST(MxRdata, TruncatedNameIsMalformed) {
  EXPECT_EQ(mx_from_rdata(Bytes{0, 10, 3, 'm', 'x'}), std::nullopt);
  EXPECT_EQ(mx_from_rdata(Bytes{0, 10, 2, 'm', 'x'}), std::nullopt);  // no root label
  EXPECT_EQ(mx_from_rdata(Bytes{0, 10}), std::nullopt);
}

TEST(MxRdata, TrailingOctetsAreMalformed) {
  auto rd = mx(10, {"mx"});
  rd.push_back(0);
  EXPECT_EQ(mx_from_rdata(rd), std::nullopt);
}

TEST(MxRdata, NameLengthLimit) {  // RFC 1035 sec. 2.3.4: 255 octets on the wire
  const std::string label63(63, 'a');
  // 3 * 64 + 62 + 1 (root) = 255 octets: allowed.
  auto at_limit = mx(1, {label63, label63, label63, std::string(61, 'b')});
  ASSERT_TRUE(mx_from_rdata(at_limit));
  auto over_limit = mx(1, {label63, label63, label63, std::string(62, 'b')});
  EXPECT_EQ(mx_from_rdata(over_limit), std::nullopt);
}

TEST(MxRdata, LabelLengthLimit) {
  EXPECT_EQ(mx_from_rdata(mx(1, {std::string(64, 'a')})), std::nullopt);
}

// ---- TLSA ----
TEST(TlsaRdata, FieldsAndLowercaseHex) {
  EXPECT_EQ(tlsa_from_rdata(Bytes{3, 1, 1, 0xAB, 0x01, 0xff}), "3 1 1 ab01ff");
}

TEST(TlsaRdata, NoAssociationDataIsMalformed) {
  EXPECT_EQ(tlsa_from_rdata(Bytes{3, 1, 1}), std::nullopt);
  EXPECT_EQ(tlsa_from_rdata(Bytes{3}), std::nullopt);
}

// ---- decode_records ----
TEST(DecodeRecords, MxSortedByPreferenceStably) {
  std::vector<Bytes> storage{mx(20, {"c"}), mx(10, {"a"}), mx(20, {"d"}), mx(10, {"b"})};
  std::vector<Rdata> rdatas(storage.begin(), storage.end());
  auto out = decode_records(rrtype::mx, rdatas);
  EXPECT_EQ(out.records, (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(out.mx_preferences, (std::vector<std::uint16_t>{10, 10, 20, 20}));
  EXPECT_EQ(out.malformed, 0u);
}

TEST(DecodeRecords, MalformedRecordsAreSkippedAndCounted) {
  std::vector<Bytes> storage{concat({{3}, bytes("abc")}), concat({{4}, bytes("ab")}), concat({{1}, bytes("z")})};
  std::vector<Rdata> rdatas(storage.begin(), storage.end());
  auto out = decode_records(rrtype::txt, rdatas);
  EXPECT_EQ(out.records, (std::vector<std::string>{"abc", "z"}));
  EXPECT_TRUE(out.mx_preferences.empty());
  EXPECT_EQ(out.malformed, 1u);
}

TEST(DecodeRecords, MalformedMxKeepsPreferencesParallel) {
  std::vector<Bytes> storage{mx(30, {"late"}), Bytes{0, 1, 0xc0, 0}, mx(5, {"early"})};
  std::vector<Rdata> rdatas(storage.begin(), storage.end());
  auto out = decode_records(rrtype::mx, rdatas);
  EXPECT_EQ(out.records, (std::vector<std::string>{"early", "late"}));
  EXPECT_EQ(out.mx_preferences, (std::vector<std::uint16_t>{5, 30}));
  EXPECT_EQ(out.malformed, 1u);
}

TEST(DecodeRecords, AddressTypes) {
  std::vector<Bytes> v4{{127, 0, 0, 1}};
  auto a = decode_records(rrtype::a, std::vector<Rdata>(v4.begin(), v4.end()));
  EXPECT_EQ(a.records, (std::vector<std::string>{"127.0.0.1"}));
  std::vector<Bytes> v6{Bytes(15, 0), Bytes{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
  auto aaaa = decode_records(rrtype::aaaa, std::vector<Rdata>(v6.begin(), v6.end()));
  EXPECT_EQ(aaaa.records, (std::vector<std::string>{"::1"}));
  EXPECT_EQ(aaaa.malformed, 1u);
}

TEST(DecodeRecords, UnknownTypeReturnsNothing) {
  std::vector<Bytes> storage{{1, 2, 3, 4}};
  auto out = decode_records(99, std::vector<Rdata>(storage.begin(), storage.end()));
  EXPECT_TRUE(out.records.empty());
  EXPECT_EQ(out.malformed, 1u);
}

}  // namespace dns_rdata_test
}  // namespace mtastsd::io

// The _mta-sts TXT record grammar and record selection (RFC 8461 sec. 3.1).
#include "core/sts_record.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mtastsd::core {
namespace sts_record_test {

using Ext = std::vector<std::pair<std::string, std::string>>;

StsRecord parse_ok(std::string_view txt) {
  auto r = parse_sts_record(txt);
  EXPECT_TRUE(r.has_value()) << txt << ": " << (r ? "" : to_string(r.error()));
  return r.value_or(StsRecord{});
}

StsRecordError parse_error(std::string_view txt) {
  auto r = parse_sts_record(txt);
  EXPECT_FALSE(r.has_value()) << txt << " parsed, id=" << (r ? r->id : "");
  return r ? StsRecordError::not_sts : r.error();
}

TEST(ParseStsRecord, MinimalRecord) {
  EXPECT_EQ(parse_ok("v=STSv1; id=20160831085700Z").id, "20160831085700Z");
  EXPECT_EQ(parse_ok("v=STSv1;id=abc").id, "abc");
}

TEST(ParseStsRecord, TrailingSeparator) {
  EXPECT_EQ(parse_ok("v=STSv1; id=20160831085700Z;").id, "20160831085700Z");
  EXPECT_EQ(parse_ok("v=STSv1; id=abc ; ").id, "abc");
}

TEST(ParseStsRecord, WhitespaceAroundSeparators) {
  EXPECT_EQ(parse_ok("v=STSv1 ;id=abc").id, "abc");
  EXPECT_EQ(parse_ok("v=STSv1\t;\t id=abc \t;\tx=y").id, "abc");
}

TEST(ParseStsRecord, ExtensionFieldsKeptInOrder) {
  const StsRecord r = parse_ok("v=STSv1; ext=1; id=abc; Other.Name_x-y=a:b<c>~!");
  EXPECT_EQ(r.id, "abc");
  EXPECT_EQ(r.extensions, (Ext{{"ext", "1"}, {"Other.Name_x-y", "a:b<c>~!"}}));
}

TEST(ParseStsRecord, ExtensionNameLength) {
  const std::string name32 = "a" + std::string(31, 'b');
  EXPECT_EQ(parse_ok("v=STSv1; id=1; " + name32 + "=v").extensions.size(), 1u);
  EXPECT_EQ(parse_error("v=STSv1; id=1; " + name32 + "b=v"), StsRecordError::syntax);
}

TEST(ParseStsRecord, ExtensionNameMustStartWithLetterOrDigit) {
  EXPECT_EQ(parse_error("v=STSv1; id=1; _x=v"), StsRecordError::syntax);
  EXPECT_EQ(parse_error("v=STSv1; id=1; -x=v"), StsRecordError::syntax);
  EXPECT_EQ(parse_ok("v=STSv1; id=1; 9x=v").extensions.size(), 1u);
}

TEST(ParseStsRecord, ExtensionValueRules) {
  EXPECT_EQ(parse_error("v=STSv1; id=1; x="), StsRecordError::syntax);         // 1*: not empty
  EXPECT_EQ(parse_error("v=STSv1; id=1; x=a=b"), StsRecordError::syntax);      // no "="
  EXPECT_EQ(parse_error("v=STSv1; id=1; x=a b"), StsRecordError::syntax);      // no SP
  EXPECT_EQ(parse_error("v=STSv1; id=1; x=\xc3\xbc"), StsRecordError::syntax); // US-ASCII only
  EXPECT_EQ(parse_error("v=STSv1; id=1; x"), StsRecordError::syntax);          // no "="
}

TEST(ParseStsRecord, IdLength) {
  EXPECT_EQ(parse_ok("v=STSv1; id=a").id, "a");
  const std::string id32(32, 'Z');
  EXPECT_EQ(parse_ok("v=STSv1; id=" + id32).id, id32);
  EXPECT_EQ(parse_error("v=STSv1; id=" + id32 + "9"), StsRecordError::bad_id);
  EXPECT_EQ(parse_error("v=STSv1; id="), StsRecordError::bad_id);
  EXPECT_EQ(parse_error("v=STSv1; id=;"), StsRecordError::bad_id);
}

TEST(ParseStsRecord, IdCharacters) {
  for (const char* txt : {"v=STSv1; id=abc-def", "v=STSv1; id=abc_def", "v=STSv1; id=abc.def", "v=STSv1; id=a:b",
                          "v=STSv1; id=2016-08-31T08:57:00Z"}) {
    EXPECT_EQ(parse_error(txt), StsRecordError::bad_id) << txt;
  }
}

TEST(ParseStsRecord, MissingId) {
  EXPECT_EQ(parse_error("v=STSv1"), StsRecordError::missing_id);
  EXPECT_EQ(parse_error("v=STSv1;"), StsRecordError::missing_id);
  EXPECT_EQ(parse_error("v=STSv1; x=1"), StsRecordError::missing_id);
  EXPECT_EQ(parse_error("v=STSv1; ID=abc"), StsRecordError::missing_id);  // %s"id=": case-sensitive
}

TEST(ParseStsRecord, FirstIdWinsLaterIdsIgnored) {
  const StsRecord r = parse_ok("v=STSv1; id=first; id=second-not-alnum; v=STSv2");
  EXPECT_EQ(r.id, "first");
  EXPECT_TRUE(r.extensions.empty());
}

TEST(ParseStsRecord, RepeatedIdMustStillBeGrammatical) {
  EXPECT_EQ(parse_error("v=STSv1; id=first; id="), StsRecordError::syntax);
}

TEST(ParseStsRecord, SyntaxErrors) {
  for (const char* txt : {
           "v=STSv1 id=abc",       // no ";" after version
           "v=STSv1; id=abc x=1",  // no ";" between fields
           "v=STSv1; id=abc ",     // WSP without ";"
           "v=STSv1;; id=abc",     // empty field
           "v=STSv1; =x; id=abc",  // empty name
           "v=STSv1; id = abc",    // no WSP around "="
           "v=STSv1; id=abc;\r\n", // CR LF are not WSP
       }) {
    EXPECT_EQ(parse_error(txt), StsRecordError::syntax) << txt;
  }
}

TEST(ParseStsRecord, NotStsRecords) {
  for (const char* txt : {"", "v=spf1 -all", "v=STSv2; id=1", "v=stsv1; id=1", "V=STSv1; id=1", " v=STSv1; id=1",
                          "id=1; v=STSv1", "v=STSv10; id=1", "v=STSv1x; id=1"}) {
    EXPECT_EQ(parse_error(txt), StsRecordError::not_sts) << txt;
  }
}

TEST(SelectStsRecord, ExactlyOneValid) {
  auto r = select_sts_record({"v=spf1 -all", "v=STSv1; id=abc;", "google-site-verification=xyz"});
  ASSERT_TRUE(r.has_value()) << r.error().detail;
  EXPECT_EQ(r->id, "abc");
}

TEST(SelectStsRecord, NoRecords) {
  auto r = select_sts_record({});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().error, StsDiscoveryError::no_record);
}

TEST(SelectStsRecord, OnlyOtherRecordsAreDiscarded) {
  auto r = select_sts_record({"v=spf1 -all", "v=STSv2; id=1"});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().error, StsDiscoveryError::no_record);
}

TEST(SelectStsRecord, MultipleStsRecords) {
  auto r = select_sts_record({"v=STSv1; id=a", "v=STSv1; id=b"});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().error, StsDiscoveryError::multiple);
}

TEST(SelectStsRecord, MultipleEvenIfOneIsInvalid) {
  auto r = select_sts_record({"v=STSv1; id=a", "v=STSv1; id=bad-id"});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().error, StsDiscoveryError::multiple);
}

TEST(SelectStsRecord, TheOneRecordIsInvalid) {
  auto r = select_sts_record({"v=spf1 -all", "v=STSv1; id=bad-id"});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().error, StsDiscoveryError::invalid);
  EXPECT_NE(r.error().detail.find("id is not"), std::string::npos) << r.error().detail;
  EXPECT_NE(r.error().detail.find("v=STSv1; id=bad-id"), std::string::npos) << r.error().detail;
}

TEST(SelectStsRecord, InvalidDetailIsPrintable) {
  auto r = select_sts_record({std::string("v=STSv1; id=a\nb\x01", 16)});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().error, StsDiscoveryError::invalid);
  EXPECT_EQ(r.error().detail.find_first_of("\n\x01"), std::string::npos);
}

}  // namespace sts_record_test
}  // namespace mtastsd::core

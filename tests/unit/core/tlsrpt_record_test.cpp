// The _smtp._tls TXT record grammar, rua URI checks and record selection (RFC 8460 sec. 3).
#include "core/tlsrpt_record.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mtastsd::core {
namespace tlsrpt_record_test {

TlsRptRecord parse_ok(std::string_view txt) {
  auto r = parse_tlsrpt_record(txt);
  EXPECT_TRUE(r.has_value()) << txt << ": " << (r ? "" : r.error().detail);
  return r.value_or(TlsRptRecord{});
}

TlsRptRecordFailure parse_error(std::string_view txt) {
  auto r = parse_tlsrpt_record(txt);
  EXPECT_FALSE(r.has_value()) << txt << " parsed";
  return r ? TlsRptRecordFailure{TlsRptRecordError::not_tlsrpt, "parsed"} : r.error();
}

std::vector<std::string> uris(const TlsRptRecord& r) {
  std::vector<std::string> out;
  for (const ReportUri& u : r.rua) out.push_back(u.uri);
  return out;
}

// The first URI is usable, the second one is checked: returns its rejection reason ("" if accepted).
std::string rejection_of(std::string_view uri) {
  const TlsRptRecord r = parse_ok("v=TLSRPTv1; rua=mailto:ok@example.com," + std::string(uri));
  return r.rejected.empty() ? "" : r.rejected.front().reason;
}

TEST(ParseTlsRptRecord, MailtoRecord) {
  const TlsRptRecord r = parse_ok("v=TLSRPTv1; rua=mailto:tlsrpt@example.com");
  ASSERT_EQ(r.rua.size(), 1u);
  EXPECT_EQ(r.rua[0].scheme, ReportUriScheme::mailto);
  EXPECT_EQ(r.rua[0].uri, "mailto:tlsrpt@example.com");
  EXPECT_EQ(r.rua[0].mailbox, "tlsrpt@example.com");
  EXPECT_TRUE(r.rejected.empty());
}

TEST(ParseTlsRptRecord, HttpsRecord) {
  const TlsRptRecord r = parse_ok("v=TLSRPTv1;rua=https://reporting.example.com/v1/tlsrpt");
  ASSERT_EQ(r.rua.size(), 1u);
  EXPECT_EQ(r.rua[0].scheme, ReportUriScheme::https);
  EXPECT_EQ(r.rua[0].uri, "https://reporting.example.com/v1/tlsrpt");
  EXPECT_EQ(r.rua[0].mailbox, "");
}

TEST(ParseTlsRptRecord, SeveralUrisWithWhitespaceAroundCommas) {
  const TlsRptRecord r =
      parse_ok("v=TLSRPTv1; rua=mailto:a@example.com , \thttps://r.example.net/x,mailto:b@example.org");
  EXPECT_EQ(uris(r),
            (std::vector<std::string>{"mailto:a@example.com", "https://r.example.net/x", "mailto:b@example.org"}));
}

TEST(ParseTlsRptRecord, DelimiterVariants) {
  EXPECT_EQ(parse_ok("v=TLSRPTv1 ;rua=mailto:a@example.com").rua.size(), 1u);
  EXPECT_EQ(parse_ok("v=TLSRPTv1;\trua=mailto:a@example.com ;").rua.size(), 1u);
  EXPECT_EQ(parse_ok("v=TLSRPTv1; rua=mailto:a@example.com; ").rua.size(), 1u);
}

TEST(ParseTlsRptRecord, ExtensionsKeptAndUnknownFieldsIgnored) {
  const TlsRptRecord r = parse_ok("v=TLSRPTv1; ext=1; rua=mailto:a@example.com; Other.x-y_z=a:b<c>~");
  EXPECT_EQ(uris(r), std::vector<std::string>{"mailto:a@example.com"});
  EXPECT_EQ(r.extensions, (std::vector<std::pair<std::string, std::string>>{{"ext", "1"}, {"Other.x-y_z", "a:b<c>~"}}));
}

TEST(ParseTlsRptRecord, RuaNameIsCaseSensitive) {
  // "RUA=" is an extension, so the record has no rua at all.
  EXPECT_EQ(parse_error("v=TLSRPTv1; RUA=mailto:a@example.com").error, TlsRptRecordError::missing_rua);
}

TEST(ParseTlsRptRecord, SeveralRuaFieldsAreMergedWithoutDuplicates) {
  const TlsRptRecord r =
      parse_ok("v=TLSRPTv1; rua=mailto:a@example.com; rua=https://r.example.net/,mailto:a@EXAMPLE.com");
  EXPECT_EQ(uris(r), (std::vector<std::string>{"mailto:a@example.com", "https://r.example.net/"}));
}

TEST(ParseTlsRptRecord, VersionMustBeCompleteAndFirst) {
  EXPECT_EQ(parse_error("v=TLSRPTv10; rua=mailto:a@example.com").error, TlsRptRecordError::not_tlsrpt);
  EXPECT_EQ(parse_error("v=tlsrptv1; rua=mailto:a@example.com").error, TlsRptRecordError::not_tlsrpt);
  EXPECT_EQ(parse_error(" v=TLSRPTv1; rua=mailto:a@example.com").error, TlsRptRecordError::not_tlsrpt);
  EXPECT_EQ(parse_error("rua=mailto:a@example.com; v=TLSRPTv1").error, TlsRptRecordError::not_tlsrpt);
  EXPECT_EQ(parse_error("v=STSv1; id=1").error, TlsRptRecordError::not_tlsrpt);
}

TEST(ParseTlsRptRecord, GrammarViolations) {
  EXPECT_EQ(parse_error("v=TLSRPTv1").error, TlsRptRecordError::syntax);   // 1*field
  EXPECT_EQ(parse_error("v=TLSRPTv1;").error, TlsRptRecordError::syntax);  // 1*field
  EXPECT_EQ(parse_error("v=TLSRPTv1 rua=mailto:a@example.com").error, TlsRptRecordError::syntax);
  EXPECT_EQ(parse_error("v=TLSRPTv1; rua=").error, TlsRptRecordError::syntax);  // empty URI
  EXPECT_EQ(parse_error("v=TLSRPTv1; rua=mailto:a@example.com,").error, TlsRptRecordError::syntax);
  EXPECT_EQ(parse_error("v=TLSRPTv1; rua=,mailto:a@example.com").error, TlsRptRecordError::syntax);
  EXPECT_EQ(parse_error("v=TLSRPTv1; rua=mailto:a@example.com;; x=1").error, TlsRptRecordError::syntax);
  EXPECT_EQ(parse_error("v=TLSRPTv1; rua=mailto:a@example.com; x").error, TlsRptRecordError::syntax);
  EXPECT_EQ(parse_error("v=TLSRPTv1; rua=mailto:a@example.com; x=").error, TlsRptRecordError::syntax);
  EXPECT_EQ(parse_error("v=TLSRPTv1; rua=mailto:a@example.com; _x=1").error, TlsRptRecordError::syntax);
  EXPECT_EQ(parse_error("v=TLSRPTv1; rua=mailto:a@example.com mailto:b@example.com").error, TlsRptRecordError::syntax);
}

TEST(ParseTlsRptRecord, ExtensionNameLength) {
  const std::string name32 = "a" + std::string(31, 'b');
  EXPECT_EQ(parse_ok("v=TLSRPTv1; rua=mailto:a@example.com; " + name32 + "=v").extensions.size(), 1u);
  EXPECT_EQ(parse_error("v=TLSRPTv1; rua=mailto:a@example.com; " + name32 + "b=v").error, TlsRptRecordError::syntax);
}

TEST(ParseTlsRptRecord, MissingRua) {
  const TlsRptRecordFailure f = parse_error("v=TLSRPTv1; x=1");
  EXPECT_EQ(f.error, TlsRptRecordError::missing_rua);
}

TEST(ParseTlsRptRecord, NoUsableRuaNamesEachRejectedUri) {
  const TlsRptRecordFailure f = parse_error("v=TLSRPTv1; rua=http://r.example.com/,ftp://x.example.com/");
  EXPECT_EQ(f.error, TlsRptRecordError::no_usable_rua);
  EXPECT_NE(f.detail.find("\"http://r.example.com/\": scheme is neither mailto nor https"), std::string::npos);
  EXPECT_NE(f.detail.find("\"ftp://x.example.com/\""), std::string::npos);
}

TEST(ParseTlsRptRecord, InvalidUrisAreDroppedWithAReasonAndTheRestKept) {
  const TlsRptRecord r = parse_ok("v=TLSRPTv1; rua=http://r.example.com/,mailto:a@example.com");
  EXPECT_EQ(uris(r), std::vector<std::string>{"mailto:a@example.com"});
  ASSERT_EQ(r.rejected.size(), 1u);
  EXPECT_EQ(r.rejected[0].uri, "http://r.example.com/");
  EXPECT_EQ(r.rejected[0].reason, "scheme is neither mailto nor https (RFC 8460 sec. 3)");
}

TEST(ReportUriCheck, ExclamationMarkMustBeEncoded) {
  // DMARC's "!size" suffix does not exist in RFC 8460; "!" must be percent-encoded there.
  EXPECT_NE(rejection_of("mailto:b@example.com!10m").find("literal \"!\""), std::string::npos);
  EXPECT_EQ(rejection_of("https://r.example.com/a%21b"), "");
}

TEST(ReportUriCheck, SchemeIsCaseInsensitive) {
  EXPECT_EQ(rejection_of("MAILTO:b@example.com"), "");
  EXPECT_EQ(rejection_of("HTTPS://r.example.com/"), "");
}

TEST(ReportUriCheck, MailtoRules) {
  EXPECT_EQ(rejection_of("mailto:first.last+tag@sub.example.com"), "");
  EXPECT_EQ(rejection_of("mailto:b%40x@example.com"), "mailbox local part is not a plain dot-atom");  // two "@"
  EXPECT_EQ(rejection_of("mailto:b@example.com?subject=x"), "mailto header fields are not supported");
  EXPECT_EQ(rejection_of("mailto:b@example.com%2Cc@example.com"), "several mailto addresses are not supported");
  EXPECT_EQ(rejection_of("mailto:example.com"), "mailto URI without an e-mail address");
  EXPECT_EQ(rejection_of("mailto:@example.com"), "mailbox local part is not a plain dot-atom");
  EXPECT_EQ(rejection_of("mailto:a..b@example.com"), "mailbox local part is not a plain dot-atom");
  EXPECT_EQ(rejection_of("mailto:b@[192.0.2.1]"), "mailbox domain is not a host name");
  EXPECT_EQ(rejection_of("mailto:b@exa_mple.com"), "mailbox domain is not a host name");
  EXPECT_EQ(rejection_of("mailto:b@"), "mailbox domain is not a host name");
}

TEST(ReportUriCheck, MailtoMailboxIsDecodedWithLowercaseDomain) {
  const TlsRptRecord r = parse_ok("v=TLSRPTv1; rua=mailto:Tls%2Brpt@Example.COM");
  ASSERT_EQ(r.rua.size(), 1u);
  EXPECT_EQ(r.rua[0].mailbox, "Tls+rpt@example.com");
  EXPECT_EQ(r.rua[0].uri, "mailto:Tls%2Brpt@Example.COM");
}

TEST(ReportUriCheck, HttpsRules) {
  EXPECT_EQ(rejection_of("https://r.example.com"), "");
  EXPECT_EQ(rejection_of("https://r.example.com:8443/tlsrpt?x=1"), "");
  EXPECT_EQ(rejection_of("https:r.example.com/"), "https URI without an authority");
  EXPECT_EQ(rejection_of("https://user@r.example.com/"), "user information in an https URI is not supported");
  EXPECT_EQ(rejection_of("https://r.example.com:/"), "https URI with a bad port");
  EXPECT_EQ(rejection_of("https://r.example.com:65536/"), "https URI with a bad port");
  EXPECT_EQ(rejection_of("https://r.example.com:80a/"), "https URI with a bad port");
  EXPECT_EQ(rejection_of("https://192.0.2.1/"), "https URI host is not a host name");
  EXPECT_EQ(rejection_of("https:///path"), "https URI host is not a host name");
}

TEST(ReportUriCheck, CharactersAndEncoding) {
  EXPECT_EQ(rejection_of("https://r.example.com/a<b"), "character not allowed in a URI");
  EXPECT_EQ(rejection_of("https://r.example.com/\x7f"), "character not allowed in a URI");
  EXPECT_EQ(rejection_of("https://r.example.com/\xc3\xa9"), "character not allowed in a URI");
  EXPECT_EQ(rejection_of("https://r.example.com/%zz"), "bad percent-encoding");
  EXPECT_EQ(rejection_of("https://r.example.com/%4"), "bad percent-encoding");
  EXPECT_EQ(rejection_of("tlsrpt@example.com"), "scheme is neither mailto nor https (RFC 8460 sec. 3)");
}

TEST(ReportUriCheck, SingleUriAsStoredInAggregates) {
  auto mailto = parse_report_uri("mailto:Reports@Example.com");
  ASSERT_TRUE(mailto.has_value());
  EXPECT_EQ(*mailto, (ReportUri{ReportUriScheme::mailto, "mailto:Reports@Example.com", "Reports@example.com"}));
  auto https = parse_report_uri("https://r.example.com/tlsrpt");
  ASSERT_TRUE(https.has_value());
  EXPECT_EQ(https->scheme, ReportUriScheme::https);
  auto bad = parse_report_uri("http://r.example.com/");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error(), "scheme is neither mailto nor https (RFC 8460 sec. 3)");
  EXPECT_FALSE(parse_report_uri("").has_value());
  // In a record a "," ends the URI; alone it must be rejected as well.
  EXPECT_EQ(parse_report_uri("https://r.example.com/a,b").error(),
            "literal \"!\" or \",\" (RFC 8460 sec. 3: they must be percent-encoded)");
}

TEST(SelectTlsRptRecord, OneRecordAmongOthers) {
  auto r = select_tlsrpt_record({"v=spf1 -all", "v=TLSRPTv1; rua=mailto:a@example.com", "hello"});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(uris(*r), std::vector<std::string>{"mailto:a@example.com"});
}

TEST(SelectTlsRptRecord, NoRecord) {
  auto r = select_tlsrpt_record({"v=spf1 -all"});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().error, TlsRptDiscoveryError::no_record);
  EXPECT_EQ(select_tlsrpt_record({}).error().error, TlsRptDiscoveryError::no_record);
}

TEST(SelectTlsRptRecord, SeveralRecordsMeanNone) {
  // An invalid second record still counts (it starts with v=TLSRPTv1).
  auto r = select_tlsrpt_record({"v=TLSRPTv1; rua=mailto:a@example.com", "v=TLSRPTv1; rua=bogus"});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().error, TlsRptDiscoveryError::multiple);
  EXPECT_EQ(r.error().detail, "2 TXT records start with v=TLSRPTv1");
}

TEST(SelectTlsRptRecord, SingleUnusableRecord) {
  auto r = select_tlsrpt_record({"v=TLSRPTv1; rua=http://r.example.com/"});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().error, TlsRptDiscoveryError::invalid);
  EXPECT_NE(r.error().detail.find("no usable rua URI"), std::string::npos);
}

}  // namespace tlsrpt_record_test
}  // namespace mtastsd::core

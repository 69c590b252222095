// The MTA-STS policy file (RFC 8461 sec. 3.2) and MX matching (sec. 4.1).
#include "core/sts_policy.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mtastsd::core {
namespace sts_policy_test {

using Lines = std::vector<std::string>;

StsPolicy parse_ok(std::string_view body) {
  auto r = parse_sts_policy(body);
  EXPECT_TRUE(r.has_value()) << body << "\n-> " << (r ? "" : to_string(r.error().error)) << " "
                             << (r ? "" : r.error().detail);
  return r.value_or(StsPolicy{});
}

StsPolicyError parse_error(std::string_view body) {
  auto r = parse_sts_policy(body);
  EXPECT_FALSE(r.has_value()) << body;
  return r ? StsPolicyError::syntax : r.error().error;
}

// A valid enforce policy with one line replaced or added.
std::string policy_with(std::string_view extra_line) {
  return "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n" + std::string(extra_line) + "\n";
}
std::string policy_with_mx(std::string_view mx) {
  return "version: STSv1\nmode: enforce\nmax_age: 86400\nmx: " + std::string(mx) + "\n";
}
std::string policy_with_max_age(std::string_view v) {
  return "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: " + std::string(v) + "\n";
}
std::string policy_with_mode(std::string_view v) {
  return "version: STSv1\nmode: " + std::string(v) + "\nmx: mx.example.com\nmax_age: 86400\n";
}

TEST(ParseStsPolicy, RfcExample) {
  const StsPolicy p = parse_ok(
      "version: STSv1\n"
      "mode: enforce\n"
      "mx: mail.example.com\n"
      "mx: *.example.net\n"
      "mx: backupmx.example.com\n"
      "max_age: 604800\n");
  EXPECT_EQ(p.mode, StsMode::enforce);
  EXPECT_EQ(p.max_age, 604800);
  EXPECT_EQ(p.mx, (Lines{"mail.example.com", "*.example.net", "backupmx.example.com"}));
  EXPECT_EQ(p.lines, (Lines{"version: STSv1", "mode: enforce", "mx: mail.example.com", "mx: *.example.net",
                            "mx: backupmx.example.com", "max_age: 604800"}));
}

TEST(ParseStsPolicy, CrlfMixedAndMissingFinalLineEnd) {
  const Lines want{"version: STSv1", "mode: testing", "mx: mx.example.com", "max_age: 60"};
  EXPECT_EQ(parse_ok("version: STSv1\r\nmode: testing\r\nmx: mx.example.com\r\nmax_age: 60\r\n").lines, want);
  EXPECT_EQ(parse_ok("version: STSv1\nmode: testing\r\nmx: mx.example.com\nmax_age: 60").lines, want);
  EXPECT_EQ(parse_ok("version: STSv1\r\nmode: testing\r\nmx: mx.example.com\r\nmax_age: 60").lines, want);
}

TEST(ParseStsPolicy, BareCrIsNotALineEnd) {
  EXPECT_EQ(parse_error("version: STSv1\rmode: enforce\rmx: mx.example.com\rmax_age: 60\r"), StsPolicyError::syntax);
}

TEST(ParseStsPolicy, BlankLinesSkipped) {
  const StsPolicy p = parse_ok("\nversion: STSv1\n\r\n \t\nmode: none\nmax_age: 60\n\n\n");
  EXPECT_EQ(p.lines, (Lines{"version: STSv1", "mode: none", "max_age: 60"}));
}

TEST(ParseStsPolicy, WhitespaceAfterColonAndAtLineEnd) {
  const StsPolicy p = parse_ok("version:STSv1\nmode:\t enforce \t\r\nmx:   MX.example.com  \nmax_age: 60 \n");
  EXPECT_EQ(p.mode, StsMode::enforce);
  EXPECT_EQ(p.mx, (Lines{"mx.example.com"}));
  EXPECT_EQ(p.lines, (Lines{"version:STSv1", "mode:\t enforce", "mx:   MX.example.com", "max_age: 60"}));
}

TEST(ParseStsPolicy, FieldOrderIrrelevant) {
  const StsPolicy p = parse_ok("max_age: 1\nmx: a.example\nmode: testing\nversion: STSv1\n");
  EXPECT_EQ(p.mode, StsMode::testing);
  EXPECT_EQ(p.max_age, 1);
}

TEST(ParseStsPolicy, FirstOccurrenceWinsForNonMxFields) {
  const StsPolicy p = parse_ok(
      "version: STSv1\nversion: STSv2\n"
      "mode: testing\nmode: enforce\nmode: bogus\n"
      "max_age: 100\nmax_age: 99999999999\n"
      "mx: a.example.com\n");
  EXPECT_EQ(p.mode, StsMode::testing);
  EXPECT_EQ(p.max_age, 100);
  EXPECT_EQ(p.lines.size(), 8u);  // ignored lines are still the policy's lines
}

TEST(ParseStsPolicy, RepeatedFieldStillNeedsLineSyntax) {
  EXPECT_EQ(parse_error(policy_with("mode:")), StsPolicyError::syntax);
}

TEST(ParseStsPolicy, MxIsRepeatableAndLowercased) {
  const StsPolicy p = parse_ok(policy_with("mx: *.Example.NET\nmx: MX2.example.com"));
  EXPECT_EQ(p.mx, (Lines{"mx.example.com", "*.example.net", "mx2.example.com"}));
}

TEST(ParseStsPolicy, UnknownFieldsIgnored) {
  const StsPolicy p = parse_ok(policy_with("comment: gr\xc3\xb6\xc3\x9f" "e \xe2\x9c\x93 \xf0\x9f\x8e\x89 {x} ; = :\n"
                                           "Version: STSv9\nMX: evil.example\nx_y.z-9: 1"));
  EXPECT_EQ(p.mx, (Lines{"mx.example.com"}));  // "MX" is not "mx": field names are case-sensitive
  EXPECT_EQ(p.lines.size(), 8u);
}

TEST(ParseStsPolicy, FieldNameGrammar) {
  const std::string name32 = "a" + std::string(31, 'b');
  parse_ok(policy_with(name32 + ": v"));
  EXPECT_EQ(parse_error(policy_with(name32 + "b: v")), StsPolicyError::syntax);
  EXPECT_EQ(parse_error(policy_with("_x: v")), StsPolicyError::syntax);
  EXPECT_EQ(parse_error(policy_with(".x: v")), StsPolicyError::syntax);
  EXPECT_EQ(parse_error(policy_with("a b: v")), StsPolicyError::syntax);
}

TEST(ParseStsPolicy, LineSyntaxErrors) {
  for (const char* line : {
           "mode enforce",        // no colon
           "mode : enforce",      // WSP before the colon
           " mode: enforce",      // leading WSP (would be a header continuation)
           ": enforce",           // no name
           "x: a\tb",             // TAB only as delimiter, not inside values
           "x: a\x01z",           // control character
           "x: a\x7fz",           // DEL
           "x:",                  // empty value
           "x: \t ",              // only WSP
       }) {
    EXPECT_EQ(parse_error(policy_with(line)), StsPolicyError::syntax) << line;
  }
}

TEST(ParseStsPolicy, MalformedUtf8Rejected) {
  for (const char* value : {
           "\xff",              // never valid
           "\x80",              // continuation without lead
           "\xc3",              // truncated
           "\xc0\xaf",          // overlong "/"
           "\xe0\x80\xaf",      // overlong 3-byte
           "\xed\xa0\x80",      // UTF-16 surrogate
           "\xf4\x90\x80\x80",  // above U+10FFFF
           "\xf0\x9f\x8e",      // truncated 4-byte
       }) {
    EXPECT_EQ(parse_error(policy_with(std::string("x: a") + value)), StsPolicyError::syntax);
  }
}

TEST(ParseStsPolicy, ByteOrderMarkIsNotAFieldName) {
  EXPECT_EQ(parse_error("\xef\xbb\xbfversion: STSv1\nmode: none\nmax_age: 1\n"), StsPolicyError::syntax);
}

TEST(ParseStsPolicy, Version) {
  EXPECT_EQ(parse_error("mode: none\nmax_age: 1\n"), StsPolicyError::bad_version);
  EXPECT_EQ(parse_error("version: STSv2\nmode: none\nmax_age: 1\n"), StsPolicyError::bad_version);
  EXPECT_EQ(parse_error("version: stsv1\nmode: none\nmax_age: 1\n"), StsPolicyError::bad_version);
  EXPECT_EQ(parse_error("version: STSv1 x\nmode: none\nmax_age: 1\n"), StsPolicyError::bad_version);
  EXPECT_EQ(parse_error(""), StsPolicyError::bad_version);
}

TEST(ParseStsPolicy, Mode) {
  EXPECT_EQ(parse_ok(policy_with_mode("enforce")).mode, StsMode::enforce);
  EXPECT_EQ(parse_ok(policy_with_mode("testing")).mode, StsMode::testing);
  EXPECT_EQ(parse_ok(policy_with_mode("none")).mode, StsMode::none);
  for (const char* bad : {"Enforce", "ENFORCE", "report", "reject", "enforce;"})
    EXPECT_EQ(parse_error(policy_with_mode(bad)), StsPolicyError::bad_mode) << bad;
  EXPECT_EQ(parse_error("version: STSv1\nmx: a.example\nmax_age: 1\n"), StsPolicyError::bad_mode);
}

TEST(ParseStsPolicy, MaxAge) {
  EXPECT_EQ(parse_ok(policy_with_max_age("0")).max_age, 0);
  EXPECT_EQ(parse_ok(policy_with_max_age("31557600")).max_age, kMaxAgeLimit);
  EXPECT_EQ(parse_ok(policy_with_max_age("0000000060")).max_age, 60);  // 10 digits
  for (const char* bad : {"31557601", "9999999999", "00000000060", "-1", "+5", "1e3", "12.5", "0x10", "5 5", "86400s"})
    EXPECT_EQ(parse_error(policy_with_max_age(bad)), StsPolicyError::bad_max_age) << bad;
  EXPECT_EQ(parse_error("version: STSv1\nmode: enforce\nmx: a.example\n"), StsPolicyError::bad_max_age);
}

TEST(ParseStsPolicy, MxPatternsAccepted) {
  EXPECT_EQ(parse_ok(policy_with_mx("*.example.com")).mx.back(), "*.example.com");
  EXPECT_EQ(parse_ok(policy_with_mx("xn--mnchen-3ya.example")).mx.back(), "xn--mnchen-3ya.example");
  EXPECT_EQ(parse_ok(policy_with_mx("*.EXAMPLE.com")).mx.back(), "*.example.com");
  EXPECT_EQ(parse_ok(policy_with_mx("mx-1.a0.example")).mx.back(), "mx-1.a0.example");
}

TEST(ParseStsPolicy, MxPatternsRejected) {
  for (const std::string& bad : std::vector<std::string>{
           "mail.*.example.com", "*example.com", "*.*.example.com", "foo*.example.com", "*", "*.",
           "192.0.2.1",                 // no IP addresses
           "[192.0.2.1]", "2001:db8::1",
           "mail.example.com.",         // Domain has no trailing dot
           ".example.com", "-mail.example.com", "mail-.example.com", "mail_x.example.com",
           "m\xc3\xbcnchen.example",    // U-labels: the RFC asks for A-labels
           "mx.example.com:25", "mx.example.com other.example.com",
           std::string(64, 'a') + ".example.com"}) {
    EXPECT_EQ(parse_error(policy_with_mx(bad)), StsPolicyError::bad_mx) << bad;
  }
}

TEST(ParseStsPolicy, MxRequiredUnlessModeNone) {
  EXPECT_EQ(parse_error("version: STSv1\nmode: enforce\nmax_age: 1\n"), StsPolicyError::missing_mx);
  EXPECT_EQ(parse_error("version: STSv1\nmode: testing\nmax_age: 1\n"), StsPolicyError::missing_mx);
  const StsPolicy none = parse_ok("version: STSv1\nmode: none\nmax_age: 1\n");
  EXPECT_EQ(none.mode, StsMode::none);
  EXPECT_TRUE(none.mx.empty());
}

TEST(ParseStsPolicy, FailureDetailShowsTheLinePrintably) {
  auto r = parse_sts_policy(policy_with_mx("bad_mx.example\x01"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().detail, "mx: bad_mx.example?");
}

TEST(ParseStsPolicy, ErrorNames) {
  EXPECT_EQ(to_string(StsMode::enforce), "enforce");
  EXPECT_EQ(to_string(StsMode::testing), "testing");
  EXPECT_EQ(to_string(StsMode::none), "none");
  EXPECT_NE(to_string(StsPolicyError::bad_mx), to_string(StsPolicyError::missing_mx));
}

TEST(MxPatternMatches, ExactName) {
  EXPECT_TRUE(mx_pattern_matches("mx.example.com", "mx.example.com"));
  EXPECT_TRUE(mx_pattern_matches("mx.example.com", "MX.Example.COM"));
  EXPECT_TRUE(mx_pattern_matches("mx.example.com", "mx.example.com."));
  EXPECT_TRUE(mx_pattern_matches("mx.example.com.", "mx.example.com"));
  EXPECT_FALSE(mx_pattern_matches("mx.example.com", "mx2.example.com"));
  EXPECT_FALSE(mx_pattern_matches("mx.example.com", "a.mx.example.com"));
  EXPECT_FALSE(mx_pattern_matches("example.com", "xexample.com"));
  EXPECT_FALSE(mx_pattern_matches("mx.example.com", ""));
  EXPECT_FALSE(mx_pattern_matches("", ""));
}

TEST(MxPatternMatches, WildcardMatchesExactlyOneLabel) {
  EXPECT_TRUE(mx_pattern_matches("*.example.com", "a.example.com"));
  EXPECT_TRUE(mx_pattern_matches("*.example.com", "Mail.EXAMPLE.com."));
  EXPECT_FALSE(mx_pattern_matches("*.example.com", "example.com"));
  EXPECT_FALSE(mx_pattern_matches("*.example.com", "a.b.example.com"));
  EXPECT_FALSE(mx_pattern_matches("*.example.com", ".example.com"));
  EXPECT_FALSE(mx_pattern_matches("*.example.com", "aexample.com"));
  EXPECT_FALSE(mx_pattern_matches("*.example.com", "a.example.net"));
}

TEST(MxPatternMatches, StarIsOnlyAWildcardAsWholeLeftLabel) {
  EXPECT_FALSE(mx_pattern_matches("a*.example.com", "ab.example.com"));
  EXPECT_FALSE(mx_pattern_matches("mail.*.example.com", "mail.x.example.com"));
}

TEST(PolicyAllowsMx, AnyPatternMayMatch) {
  const StsPolicy p = parse_ok(policy_with("mx: *.example.net"));
  EXPECT_TRUE(policy_allows_mx(p, "mx.example.com"));
  EXPECT_TRUE(policy_allows_mx(p, "x.example.net"));
  EXPECT_FALSE(policy_allows_mx(p, "example.net"));
  EXPECT_FALSE(policy_allows_mx(p, "evil.example.org"));
  EXPECT_FALSE(policy_allows_mx(StsPolicy{}, "mx.example.com"));
}

TEST(ToPostfixMatch, WildcardBecomesLeadingDot) {
  EXPECT_EQ(to_postfix_match("*.example.net"), ".example.net");
  EXPECT_EQ(to_postfix_match("mx.example.com"), "mx.example.com");
}

}  // namespace sts_policy_test
}  // namespace mtastsd::core

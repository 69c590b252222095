// Socketmap replies and smtp_tls_policy_maps results (core/answer.hpp).
#include "core/answer.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace mtastsd::core {
namespace answer_test {

using Attributes = std::vector<std::pair<std::string, std::string>>;

// What Postfix's smtp_tls_policy.c makes of a policy result: the level, then
// name=value attributes. Tokens are split at ", \t\r\n" except inside balanced
// braces (mystrtokq); a "{ ... }" token loses its braces and surrounding blanks
// (extpar) and is split at its first "=", both sides trimmed (split_qnameval).
// Returns false where Postfix would reject the syntax.
bool postfix_parse(std::string_view result, std::string& level, Attributes& attributes) {
  constexpr std::string_view kSeparators = ", \t\r\n";
  constexpr std::string_view kBlanks = " \t\r\n";
  const auto trim = [&](std::string_view s) {
    const std::size_t b = s.find_first_not_of(kBlanks);
    if (b == std::string_view::npos) return std::string_view{};
    return s.substr(b, s.find_last_not_of(kBlanks) - b + 1);
  };
  std::vector<std::string_view> tokens;
  for (std::size_t i = 0; i < result.size();) {
    if (kSeparators.find(result[i]) != std::string_view::npos) {
      ++i;
      continue;
    }
    const std::size_t start = i;
    for (int depth = 0; i < result.size(); ++i) {
      const char c = result[i];
      if (c == '{') ++depth;
      else if (c == '}' && depth > 0) --depth;
      else if (depth == 0 && kSeparators.find(c) != std::string_view::npos) break;
    }
    tokens.push_back(result.substr(start, i - start));
  }
  if (tokens.empty()) return false;
  level = tokens.front();
  for (std::size_t t = 1; t < tokens.size(); ++t) {
    std::string_view tok = tokens[t];
    if (tok.front() == '{') {
      int depth = 0;
      std::size_t end = 0;
      for (; end < tok.size(); ++end) {
        if (tok[end] == '{') ++depth;
        else if (tok[end] == '}' && --depth == 0) break;
      }
      if (end + 1 != tok.size()) return false;  // unbalanced, or text after the closing brace
      tok = trim(tok.substr(1, tok.size() - 2));
    } else if (tok.find_first_of("{}") != std::string_view::npos) {
      return false;
    }
    const std::size_t eq = tok.find('=');
    if (eq == std::string_view::npos) return false;
    const std::string_view name = trim(tok.substr(0, eq));
    if (name.empty()) return false;
    attributes.emplace_back(name, trim(tok.substr(eq + 1)));
  }
  return true;
}

StsPolicy example_policy() {
  StsPolicy p;
  p.mode = StsMode::enforce;
  p.max_age = 604800;
  p.mx = {"mx1.example.com", "*.example.net"};
  p.lines = {"version: STSv1", "mode: enforce", "mx: mx1.example.com", "mx: *.example.net", "max_age: 604800"};
  return p;
}

std::vector<std::string> values_of(const Attributes& attributes, std::string_view name) {
  std::vector<std::string> out;
  for (const auto& [n, v] : attributes)
    if (n == name) out.push_back(v);
  return out;
}

TEST(EncodeReply, Ok) { EXPECT_EQ(encode_reply({ReplyStatus::ok, "secure match=a"}), "OK secure match=a"); }

TEST(EncodeReply, NotFoundKeepsTrailingSpaceAndIgnoresData) {
  EXPECT_EQ(encode_reply({ReplyStatus::notfound, ""}), "NOTFOUND ");
  EXPECT_EQ(encode_reply({ReplyStatus::notfound, "ignored"}), "NOTFOUND ");
}

TEST(EncodeReply, Errors) {
  EXPECT_EQ(encode_reply({ReplyStatus::temp, "DNS failure"}), "TEMP DNS failure");
  EXPECT_EQ(encode_reply({ReplyStatus::timeout, "deadline"}), "TIMEOUT deadline");
  EXPECT_EQ(encode_reply({ReplyStatus::perm, "bad profile"}), "PERM bad profile");
}

TEST(EncodeReply, EmptyOkIsABugAnsweredWithTemp) {
  const std::string r = encode_reply({ReplyStatus::ok, ""});
  EXPECT_TRUE(r.starts_with("TEMP ")) << r;
  EXPECT_GT(r.size(), 5u);
}

TEST(EncodeReply, ReplyLengthLimit) {
  const std::string at_limit(kMaxSocketmapReply - 3, 'x');
  EXPECT_EQ(encode_reply({ReplyStatus::ok, at_limit}).size(), kMaxSocketmapReply);
  EXPECT_TRUE(encode_reply({ReplyStatus::ok, at_limit + "x"}).starts_with("TEMP "));
}

TEST(ReplyKind, OkRepliesByTheirPolicy) {
  EXPECT_EQ(reply_kind("OK secure match=a:.b servername=hostname"), "secure");
  EXPECT_EQ(reply_kind("OK secure"), "secure");
  EXPECT_EQ(reply_kind("OK dane"), "dane");
  EXPECT_EQ(reply_kind("OK dane-only"), "dane-only");
  EXPECT_EQ(reply_kind("OK dane-onlyx"), "ok");
  EXPECT_EQ(reply_kind("OK encrypt"), "ok");
}

TEST(ReplyKind, OtherStatuses) {
  EXPECT_EQ(reply_kind(encode_reply({ReplyStatus::notfound, ""})), "notfound");
  EXPECT_EQ(reply_kind(encode_reply({ReplyStatus::temp, "DANE lookup in progress"})), "temp");
  EXPECT_EQ(reply_kind(encode_reply({ReplyStatus::temp, ""})), "temp");
  EXPECT_EQ(reply_kind(encode_reply({ReplyStatus::timeout, "x"})), "timeout");
  EXPECT_EQ(reply_kind(encode_reply({ReplyStatus::perm, "x"})), "perm");
  EXPECT_EQ(reply_kind(encode_reply({ReplyStatus::ok, ""})), "temp");  // an empty policy goes out as TEMP
  EXPECT_EQ(reply_kind("NOTFOUND"), "invalid");
  EXPECT_EQ(reply_kind(""), "invalid");
}

TEST(BuildStsPolicyResult, PostfixDialect) {
  EXPECT_EQ(build_sts_policy_result(example_policy(), "example.com", Dialect::postfix),
            "secure match=mx1.example.com:.example.net servername=hostname");
}

TEST(BuildStsPolicyResult, PostfixTlsrptDialect) {
  EXPECT_EQ(build_sts_policy_result(example_policy(), "example.com", Dialect::postfix_tlsrpt),
            "secure match=mx1.example.com:.example.net servername=hostname"
            " policy_type=sts policy_domain=example.com"
            " mx_host_pattern=mx1.example.com mx_host_pattern=*.example.net"
            " { policy_string = version: STSv1 } { policy_string = mode: enforce }"
            " { policy_string = mx: mx1.example.com } { policy_string = mx: *.example.net }"
            " { policy_string = max_age: 604800 }");
}

TEST(BuildStsPolicyResult, PostfixParsesTlsrptDialect) {
  StsPolicy p = example_policy();
  p.lines.push_back("comment: a, b;\tc = d");  // separators and "=" inside the braces
  std::string level;
  Attributes attributes;
  ASSERT_TRUE(postfix_parse(build_sts_policy_result(p, "example.com", Dialect::postfix_tlsrpt), level, attributes));
  EXPECT_EQ(level, "secure");
  EXPECT_EQ(values_of(attributes, "match"), (std::vector<std::string>{"mx1.example.com:.example.net"}));
  EXPECT_EQ(values_of(attributes, "servername"), (std::vector<std::string>{"hostname"}));
  EXPECT_EQ(values_of(attributes, "policy_type"), (std::vector<std::string>{"sts"}));
  EXPECT_EQ(values_of(attributes, "policy_domain"), (std::vector<std::string>{"example.com"}));
  EXPECT_EQ(values_of(attributes, "mx_host_pattern"), (std::vector<std::string>{"mx1.example.com", "*.example.net"}));
  EXPECT_EQ(values_of(attributes, "policy_string"), p.lines);
}

TEST(PostfixParseHelper, RejectsWhatPostfixRejects) {
  std::string level;
  Attributes attributes;
  EXPECT_FALSE(postfix_parse("secure { policy_string = x: } }", level, attributes));
  EXPECT_FALSE(postfix_parse("secure { policy_string = x: {", level, attributes));
  EXPECT_FALSE(postfix_parse("secure match", level, attributes));
  EXPECT_TRUE(postfix_parse("secure { policy_string = x: {y} }", level, attributes));
}

TEST(BuildStsPolicyResult, LinesWithBracesLeftOut) {
  StsPolicy p = example_policy();
  p.lines = {"version: STSv1", "x: }", "y: {", "z: {a}", "mode: enforce"};
  const std::string r = build_sts_policy_result(p, "example.com", Dialect::postfix_tlsrpt);
  std::string level;
  Attributes attributes;
  ASSERT_TRUE(postfix_parse(r, level, attributes)) << r;
  EXPECT_EQ(values_of(attributes, "policy_string"), (std::vector<std::string>{"version: STSv1", "mode: enforce"}));
}

TEST(BuildStsPolicyResult, PolicyStringsStopAtTheReplyLimit) {
  StsPolicy p = example_policy();
  for (int i = 0; i < 2000; ++i) p.lines.push_back("x" + std::to_string(i) + ": " + std::string(100, 'v'));
  const std::string r = build_sts_policy_result(p, "example.com", Dialect::postfix_tlsrpt);
  EXPECT_LE(r.size() + 3, kMaxSocketmapReply);
  EXPECT_GT(r.size() + 3, kMaxSocketmapReply - 200);  // filled up, not cut early
  std::string level;
  Attributes attributes;
  ASSERT_TRUE(postfix_parse(r, level, attributes));
  const auto strings = values_of(attributes, "policy_string");
  ASSERT_FALSE(strings.empty());
  EXPECT_EQ(strings.front(), "version: STSv1");
  EXPECT_LT(strings.size(), p.lines.size());
  EXPECT_TRUE(encode_reply({ReplyStatus::ok, r}).starts_with("OK "));
}

TEST(BuildStsPolicyResult, PostfixDialectHasNoTlsrptSyntax) {
  const std::string r = build_sts_policy_result(example_policy(), "example.com", Dialect::postfix);
  EXPECT_EQ(r.find_first_of("{}"), std::string::npos);
  EXPECT_EQ(r.find("policy_"), std::string::npos);
  EXPECT_EQ(r.find("mx_host_pattern"), std::string::npos);
}

TEST(BuildStsPolicyResult, PreconditionsAreEnforced) {
  StsPolicy testing = example_policy();
  testing.mode = StsMode::testing;  // enforced on a profile's request: allowed
  EXPECT_EQ(build_sts_policy_result(testing, "example.com", Dialect::postfix),
            build_sts_policy_result(example_policy(), "example.com", Dialect::postfix));
  StsPolicy none = example_policy();
  none.mode = StsMode::none;
  EXPECT_THROW(build_sts_policy_result(none, "example.com", Dialect::postfix), std::invalid_argument);
  StsPolicy no_mx = example_policy();
  no_mx.mx.clear();
  EXPECT_THROW(build_sts_policy_result(no_mx, "example.com", Dialect::postfix_tlsrpt), std::invalid_argument);
  EXPECT_THROW(build_sts_policy_result(example_policy(), "", Dialect::postfix_tlsrpt), std::invalid_argument);
  EXPECT_THROW(build_sts_policy_result(example_policy(), "a b", Dialect::postfix_tlsrpt), std::invalid_argument);
}

TEST(Dialect, Names) {
  EXPECT_EQ(to_string(Dialect::postfix), "postfix");
  EXPECT_EQ(to_string(Dialect::postfix_tlsrpt), "postfix_tlsrpt");
}

}  // namespace answer_test
}  // namespace mtastsd::core

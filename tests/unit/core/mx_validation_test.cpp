// MX validation state: its encoding (never throws, rejects what it did not write),
// when a domain and a host/address are due, which hosts and addresses are probed, and
// the TLS-RPT attribution of testing-mode sessions. Cache records are made by the
// real state machine (core/cache_rules), as in tlsrpt_attribution_test.
#include "core/mx_validation.hpp"

#include <gtest/gtest.h>

#include "core/cache_rules.hpp"

namespace mtastsd::core {
namespace mx_validation_test {

using std::chrono::minutes;
using util::Seconds;

const util::TimePoint T0 = util::from_unix(1'700'000'000);
constexpr Seconds kHour{3600};
constexpr std::int64_t kWeek = 7 * 86400;

CacheRecord cached(StsMode mode) {
  FetchSuccess f;
  f.policy.mode = mode;
  f.policy.max_age = kWeek;
  f.policy.mx = {"mail.example.com", "*.mx.example.com"};
  f.policy.lines = {"version: STSv1", "mode: " + std::string(to_string(mode)), "max_age: 604800",
                    "mx: mail.example.com", "mx: *.mx.example.com"};
  f.text = "(body)";
  const TxtOutcome txt{TxtStatus::found, "pol1", Seconds(300), ""};
  return apply_fetch_success(nullptr, txt, std::move(f), T0, CacheSettings{});
}

MxCheck ok(std::string address, std::string helo = "mx.example.com") {
  return MxCheck{.address = std::move(address), .checked_at = T0, .outcome = MxOutcome::ok, .helo = std::move(helo)};
}
MxCheck failed(std::string address, FailureType type, std::string detail) {
  return MxCheck{.address = std::move(address),
                 .checked_at = T0,
                 .outcome = MxOutcome::failed,
                 .failure = type,
                 .detail = std::move(detail),
                 .helo = "greeting.example.net"};
}
MxCheck unreachable(std::string address) {
  return MxCheck{.address = std::move(address), .checked_at = T0, .detail = "connection refused"};
}

MxValidations validations(std::vector<MxHostValidation> hosts) {
  return MxValidations{.checked_at = T0, .policy_id = "pol1", .mx_error = "", .hosts = std::move(hosts)};
}

// A no-policy-found session as Postfix 3.10 reports a successful one: no MX host.
SessionEvent datagram(bool postfix_failed = false) {
  SessionEvent e;
  e.report_domain = "example.com";
  e.tlsrpt_record = "v=TLSRPTv1; rua=mailto:r@example.com";
  e.policy.type = PolicyType::no_policy_found;
  e.policy.domain = "example.com";
  e.failed = postfix_failed;
  return e;
}

// SessionEvent has no operator==: what the attribution may change.
void expect_unchanged(const SessionEvent& after, const SessionEvent& before) {
  EXPECT_EQ(after.policy, before.policy);
  EXPECT_EQ(after.failed, before.failed);
  EXPECT_EQ(after.failure_details, before.failure_details);
  EXPECT_EQ(after.mx_hostname, before.mx_hostname);
}

// ---- encoding ----

TEST(MxValidationsEncoding, RoundTripsEveryOutcome) {
  MxValidations v = validations({
      {"mail.example.com", {ok("192.0.2.1", "mail.example.com"), unreachable("2001:db8::1")}},
      {"a.mx.example.com",
       {failed("192.0.2.2", FailureType::certificate_expired, "certificate expired 2026-01-01T00:00:00Z")}},
      {"b.mx.example.com", {failed("192.0.2.3", FailureType::starttls_not_supported, "no STARTTLS in EHLO reply")}},
      {"rogue.example.net", {not_in_policy_check(T0 + minutes(1))}},
      {"c.mx.example.com", {no_address_check(T0, "no A/AAAA records")}},
  });
  v.mx_error = "";
  const auto decoded = decode_mx_validations(encode_mx_validations(v));
  ASSERT_TRUE(decoded.has_value()) << decoded.error().detail;
  EXPECT_EQ(*decoded, v);
}

TEST(MxValidationsEncoding, RoundTripsAnMxError) {
  const MxValidations v = with_mx_error(nullptr, "pol2", "MX lookup: timeout", T0);
  const auto decoded = decode_mx_validations(encode_mx_validations(v));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, v);
  EXPECT_TRUE(decoded->hosts.empty());
}

TEST(MxValidationsEncoding, ResultsAreSpelledAsInRfc8460) {
  const std::string text = encode_mx_validations(
      validations({{"m.example.com", {failed("192.0.2.9", FailureType::certificate_host_mismatch, "x"), ok("::1")}}}));
  EXPECT_NE(text.find(R"("result":"certificate-host-mismatch")"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("result":"ok")"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("v":1)"), std::string::npos) << text;
}

TEST(MxValidationsEncoding, RejectsWhatItDidNotWrite) {
  const std::string good = encode_mx_validations(validations({{"m.example.com", {ok("192.0.2.1")}}}));
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    const auto at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return s.replace(at, from.size(), to);
  };
  const std::vector<std::pair<std::string, std::string>> cases{
      {"", "not valid JSON"},
      {"[1,2]", "not a JSON object"},
      {"{\"v\":1", "not valid JSON"},
      {replaced("\"v\":1", "\"v\":2"), "unsupported format 2 (expected 1)"},
      {replaced("\"v\":1", "\"v\":\"1\""), "field \"v\" is not an integer"},
      {replaced("\"result\":\"ok\"", "\"result\":\"fine\""), "unknown check result \"fine\""},
      {replaced("\"result\":\"ok\"", "\"result\":null"), "field \"result\" is not a string"},
      {replaced("\"policy_id\":\"pol1\",", ""), "missing field \"policy_id\""},
      {replaced("\"checked_at\":1700000000", "\"checked_at\":-1"), "field \"checked_at\" out of range"},
      {replaced("\"checks\":[{", "\"checks\":[1,{"), "field \"checks\" holds a non-object"},
      {replaced("\"address\":\"192.0.2.1\"", "\"address\":7"), "field \"address\" is not a string"},
  };
  for (const auto& [bytes, detail] : cases) {
    const auto decoded = decode_mx_validations(bytes);
    ASSERT_FALSE(decoded.has_value()) << bytes;
    EXPECT_EQ(decoded.error().detail, detail) << bytes;
  }
  EXPECT_EQ(decode_mx_validations(std::string((1u << 20) + 1, ' ')).error().detail, "value larger than 1 MiB");
}

TEST(MxValidationsEncoding, HostsMustBeAnArrayOfObjects) {
  EXPECT_EQ(decode_mx_validations(R"({"v":1,"checked_at":0,"policy_id":"","mx_error":"","hosts":{}})").error().detail,
            "field \"hosts\" is not an array");
  EXPECT_EQ(decode_mx_validations(R"({"v":1,"checked_at":0,"policy_id":"","mx_error":"","hosts":["x"]})")
                .error()
                .detail,
            "field \"hosts\" holds a non-object");
  EXPECT_EQ(
      decode_mx_validations(R"({"v":1,"checked_at":0,"policy_id":"","mx_error":"","hosts":[{"host":"a","checks":3}]})")
          .error()
          .detail,
      "field \"checks\" is not an array");
}

TEST(MxValidationsEncoding, InvalidUtf8IsReplacedNotThrown) {
  MxValidations v =
      validations({{"m.example.com", {failed("192.0.2.1", FailureType::validation_failure, "\xff\xfe")}}});
  const auto decoded = decode_mx_validations(encode_mx_validations(v));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->hosts[0].checks[0].detail, "\xEF\xBF\xBD\xEF\xBF\xBD");
}

// ---- when ----

TEST(ValidationDue, FirstRunPolicyChangeAndInterval) {
  const MxValidations v = validations({});
  EXPECT_TRUE(validation_due(nullptr, "pol1", T0, kHour));
  EXPECT_FALSE(validation_due(&v, "pol1", T0 + minutes(59), kHour));
  EXPECT_TRUE(validation_due(&v, "pol1", T0 + minutes(60), kHour));
  EXPECT_TRUE(validation_due(&v, "pol2", T0 + minutes(1), kHour));  // new patterns apply at once
}

TEST(ValidationDue, AFailedMxLookupIsRetriedSooner) {
  const MxValidations v = with_mx_error(nullptr, "pol1", "SERVFAIL", T0);
  EXPECT_FALSE(validation_due(&v, "pol1", T0 + kMxLookupRetry - Seconds(1), kHour));
  EXPECT_TRUE(validation_due(&v, "pol1", T0 + kMxLookupRetry, kHour));
  // ... but never sooner than the interval itself asks.
  EXPECT_FALSE(validation_due(&v, "pol1", T0 + Seconds(59), Seconds(60)));
  EXPECT_TRUE(validation_due(&v, "pol1", T0 + Seconds(60), Seconds(60)));
}

TEST(ValidationDue, WithMxErrorKeepsTheLastHosts) {
  const MxValidations last = validations({{"mail.example.com", {ok("192.0.2.1")}}});
  const MxValidations v = with_mx_error(&last, "pol1", "timeout", T0 + kHour);
  EXPECT_EQ(v.hosts, last.hosts);
  EXPECT_EQ(v.checked_at, T0 + kHour);
  EXPECT_EQ(v.mx_error, "timeout");
}

TEST(CheckDue, OncePerHostAndAddressPerInterval) {
  const MxValidations v = validations({{"mail.example.com", {ok("192.0.2.1"), unreachable("2001:db8::1")}}});
  const MxCheck* check = find_check(v, "mail.example.com", "192.0.2.1");
  ASSERT_NE(check, nullptr);
  EXPECT_EQ(check->outcome, MxOutcome::ok);
  EXPECT_FALSE(check_due(check, T0 + minutes(59), kHour));
  EXPECT_TRUE(check_due(check, T0 + kHour, kHour));
  EXPECT_TRUE(check_due(nullptr, T0, kHour));
  EXPECT_EQ(find_check(v, "mail.example.com", "192.0.2.2"), nullptr);
  EXPECT_EQ(find_check(v, "other.example.com", "192.0.2.1"), nullptr);
  EXPECT_EQ(find_check(v, "mail.example.com", "2001:db8::1")->outcome, MxOutcome::unreachable);
}

// ---- what ----

TEST(MxTargets, PolicyPatternsDecideWhichHostsAreProbed) {
  const StsPolicy p = cached(StsMode::testing).policy;
  const MxTargets t = mx_targets({"mail.example.com", "a.mx.example.com", "a.b.mx.example.com", "MX.EXAMPLE.COM",
                                  "mail.example.com", "rogue.example.net"},
                                 p);
  ASSERT_EQ(t.hosts.size(), 5u);
  const std::vector<std::pair<std::string, bool>> expected{{"mail.example.com", true},
                                                           {"a.mx.example.com", true},
                                                           {"a.b.mx.example.com", false},  // "*." is one label
                                                           {"mx.example.com", false},
                                                           {"rogue.example.net", false}};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(t.hosts[i].host, expected[i].first);
    EXPECT_EQ(t.hosts[i].in_policy, expected[i].second) << expected[i].first;
  }
  EXPECT_FALSE(t.truncated);
}

TEST(MxTargets, NullMxHasNoHostsAndTheCapIsTen) {
  const StsPolicy p = cached(StsMode::testing).policy;
  EXPECT_TRUE(mx_targets({"."}, p).hosts.empty());
  std::vector<std::string> many;
  for (int i = 0; i < 12; ++i) many.push_back("h" + std::to_string(i) + ".mx.example.com");
  const MxTargets t = mx_targets(many, p);
  EXPECT_EQ(t.hosts.size(), kMaxValidatedHosts);
  EXPECT_EQ(t.hosts.back().host, "h9.mx.example.com");
  EXPECT_TRUE(t.truncated);
  many.resize(kMaxValidatedHosts);
  EXPECT_FALSE(mx_targets(many, p).truncated);
}

TEST(AddressesToProbe, OnePerFamilyElseTheFirstTwo) {
  using V = std::vector<std::string>;
  EXPECT_EQ(addresses_to_probe(V{"192.0.2.1", "192.0.2.2", "2001:db8::1", "2001:db8::2"}),
            (V{"192.0.2.1", "2001:db8::1"}));
  EXPECT_EQ(addresses_to_probe(V{"192.0.2.1", "192.0.2.2", "192.0.2.3"}), (V{"192.0.2.1", "192.0.2.2"}));
  EXPECT_EQ(addresses_to_probe(V{"2001:db8::1", "2001:db8::2", "2001:db8::3"}), (V{"2001:db8::1", "2001:db8::2"}));
  EXPECT_EQ(addresses_to_probe(V{"192.0.2.1"}), (V{"192.0.2.1"}));
  EXPECT_EQ(addresses_to_probe(V{}), V{});
}

// ---- TLS-RPT attribution ----

TEST(ApplyTestingValidation, DatagramGoesToTheFirstReachedHostAndFailsWithItsCheck) {
  const CacheRecord r = cached(StsMode::testing);
  const MxValidations v = validations({
      {"mail.example.com", {unreachable("192.0.2.1")}},
      {"a.mx.example.com", {failed("192.0.2.2", FailureType::certificate_not_trusted, "self-signed certificate")}},
      {"b.mx.example.com", {ok("192.0.2.3")}},
  });
  const SessionEvent e = apply_testing_validation(datagram(), &r, &v, T0 + minutes(5));
  EXPECT_EQ(e.policy.type, PolicyType::sts);
  EXPECT_EQ(e.policy.domain, "example.com");
  EXPECT_EQ(e.policy.strings, r.policy.lines);
  EXPECT_EQ(e.policy.mx_hosts, r.policy.mx);
  EXPECT_TRUE(e.failed);
  ASSERT_EQ(e.failure_details.size(), 1u);
  const FailureDetail& d = e.failure_details[0];
  EXPECT_EQ(d.result_type, FailureType::certificate_not_trusted);
  EXPECT_EQ(d.receiving_mx_hostname, "a.mx.example.com");
  EXPECT_EQ(d.receiving_ip, "192.0.2.2");
  EXPECT_EQ(d.receiving_mx_helo, "greeting.example.net");
  EXPECT_EQ(d.failure_reason_code, "self-signed certificate");
  EXPECT_EQ(e.mx_hostname, "a.mx.example.com");
}

TEST(ApplyTestingValidation, APassedValidationKeepsPostfixsSuccess) {
  const CacheRecord r = cached(StsMode::testing);
  const MxValidations v = validations({{"mail.example.com", {ok("192.0.2.1")}}});
  const SessionEvent e = apply_testing_validation(datagram(), &r, &v, T0);
  EXPECT_EQ(e.policy.type, PolicyType::sts);
  EXPECT_EQ(e.policy.mx_hosts, r.policy.mx);
  EXPECT_FALSE(e.failed);
  EXPECT_TRUE(e.failure_details.empty());
}

TEST(ApplyTestingValidation, TheSessionsOwnHostDecidesWhenKnown) {
  const CacheRecord r = cached(StsMode::testing);
  const MxValidations v = validations({
      {"mail.example.com", {ok("192.0.2.1")}},
      {"a.mx.example.com", {failed("192.0.2.2", FailureType::certificate_expired, "expired")}},
  });
  SessionEvent log = datagram();
  log.mx_hostname = "A.MX.Example.com.";  // as a log line may spell it
  const SessionEvent e = apply_testing_validation(log, &r, &v, T0);
  EXPECT_TRUE(e.failed);
  ASSERT_EQ(e.failure_details.size(), 1u);
  EXPECT_EQ(e.failure_details[0].result_type, FailureType::certificate_expired);
  EXPECT_EQ(e.failure_details[0].receiving_mx_hostname, "a.mx.example.com");

  log.mx_hostname = "mail.example.com";
  EXPECT_FALSE(apply_testing_validation(log, &r, &v, T0).failed);
}

TEST(ApplyTestingValidation, AnyFailedAddressFailsTheHost) {
  const CacheRecord r = cached(StsMode::testing);
  const MxValidations v = validations({{"mail.example.com",
                                        {ok("192.0.2.1"), unreachable("2001:db8::9"),
                                         failed("2001:db8::1", FailureType::certificate_host_mismatch, "mismatch")}}});
  const SessionEvent e = apply_testing_validation(datagram(), &r, &v, T0);
  EXPECT_TRUE(e.failed);
  EXPECT_EQ(e.failure_details.at(0).receiving_ip, "2001:db8::1");
}

TEST(ApplyTestingValidation, AHostOutsideThePolicyFailsWithValidationFailure) {
  const CacheRecord r = cached(StsMode::testing);
  const MxValidations v =
      validations({{"rogue.example.net", {not_in_policy_check(T0)}}, {"mail.example.com", {ok("192.0.2.1")}}});
  const SessionEvent e = apply_testing_validation(datagram(), &r, &v, T0);
  EXPECT_TRUE(e.failed);
  const FailureDetail& d = e.failure_details.at(0);
  EXPECT_EQ(d.result_type, FailureType::validation_failure);
  EXPECT_EQ(d.receiving_mx_hostname, "rogue.example.net");
  EXPECT_EQ(d.receiving_ip, "");
  EXPECT_EQ(d.failure_reason_code, kNotInPolicy);
}

TEST(ApplyTestingValidation, NoValidationYetIsStsWithPostfixsOutcome) {
  const CacheRecord r = cached(StsMode::testing);
  const SessionEvent plain = apply_testing_validation(datagram(), &r, nullptr, T0);
  EXPECT_EQ(plain.policy.type, PolicyType::sts);
  EXPECT_EQ(plain.policy.strings, r.policy.lines);
  EXPECT_FALSE(plain.failed);

  SessionEvent postfix_failed = datagram(true);
  postfix_failed.mx_hostname = "mail.example.com";
  postfix_failed.failure_details.push_back({.result_type = FailureType::starttls_not_supported});
  const SessionEvent e = apply_testing_validation(postfix_failed, &r, nullptr, T0);
  EXPECT_EQ(e.policy.type, PolicyType::sts);
  EXPECT_TRUE(e.failed);
  EXPECT_EQ(e.failure_details, postfix_failed.failure_details);

  // Hosts validated, but not the session's, or only unreachable ones.
  const MxValidations v = validations({{"mail.example.com", {unreachable("192.0.2.1")}}});
  const SessionEvent none_reached = apply_testing_validation(datagram(), &r, &v, T0);
  EXPECT_EQ(none_reached.policy.type, PolicyType::sts);
  EXPECT_FALSE(none_reached.failed);
  SessionEvent other = datagram();
  other.mx_hostname = "b.mx.example.com";
  EXPECT_FALSE(apply_testing_validation(other, &r, &v, T0).failed);
}

TEST(ApplyTestingValidation, PostfixsOwnFailureDetailsFollowOurs) {
  const CacheRecord r = cached(StsMode::testing);
  const MxValidations v =
      validations({{"mail.example.com", {failed("192.0.2.1", FailureType::certificate_expired, "x")}}});
  SessionEvent e = datagram(true);
  e.mx_hostname = "mail.example.com";
  e.failure_details.push_back({.result_type = FailureType::validation_failure, .receiving_mx_hostname = "postfix"});
  e = apply_testing_validation(std::move(e), &r, &v, T0);
  ASSERT_EQ(e.failure_details.size(), 2u);
  EXPECT_EQ(e.failure_details[0].result_type, FailureType::certificate_expired);
  EXPECT_EQ(e.failure_details[1].receiving_mx_hostname, "postfix");
}

TEST(ApplyTestingValidation, OnlyNoPolicySessionsOfAValidTestingPolicy) {
  const MxValidations v =
      validations({{"mail.example.com", {failed("192.0.2.1", FailureType::certificate_expired, "x")}}});
  const CacheRecord testing = cached(StsMode::testing);
  const CacheRecord enforce = cached(StsMode::enforce);
  const CacheRecord none = cached(StsMode::none);
  // enforce: Postfix enforces and reports it itself; none: as if no policy.
  expect_unchanged(apply_testing_validation(datagram(), &enforce, &v, T0), datagram());
  expect_unchanged(apply_testing_validation(datagram(), &none, &v, T0), datagram());
  expect_unchanged(apply_testing_validation(datagram(), nullptr, &v, T0), datagram());
  // Expired: nothing cached applies.
  expect_unchanged(apply_testing_validation(datagram(), &testing, &v, testing.valid_until), datagram());
  for (const PolicyType type : {PolicyType::sts, PolicyType::tlsa, PolicyType::unknown}) {
    SCOPED_TRACE(to_string(type));
    SessionEvent e = datagram();
    e.policy.type = type;
    expect_unchanged(apply_testing_validation(e, &testing, &v, T0), e);
  }
}

TEST(ValidationSession, EachReachedCheckIsOneSession) {
  const CacheRecord r = cached(StsMode::testing);
  EXPECT_FALSE(validation_session("example.com", r, "mail.example.com", unreachable("192.0.2.1")).has_value());

  const auto passed = validation_session("example.com", r, "mail.example.com", ok("192.0.2.1"));
  ASSERT_TRUE(passed.has_value());
  EXPECT_EQ(passed->report_domain, "example.com");
  EXPECT_EQ(passed->tlsrpt_record, "");
  EXPECT_EQ(passed->policy.type, PolicyType::sts);
  EXPECT_EQ(passed->policy.domain, "example.com");
  EXPECT_EQ(passed->policy.strings, r.policy.lines);
  EXPECT_FALSE(passed->failed);

  const auto bad = validation_session("example.com", r, "mail.example.com",
                                      failed("192.0.2.1", FailureType::starttls_not_supported, "no STARTTLS"));
  ASSERT_TRUE(bad.has_value());
  EXPECT_TRUE(bad->failed);
  ASSERT_EQ(bad->failure_details.size(), 1u);
  EXPECT_EQ(bad->failure_details[0].result_type, FailureType::starttls_not_supported);
  EXPECT_EQ(bad->failure_details[0].receiving_ip, "192.0.2.1");
  EXPECT_EQ(bad->mx_hostname, "mail.example.com");
}

}  // namespace mx_validation_test
}  // namespace mtastsd::core

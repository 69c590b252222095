// Session events completed from the policy cache: the policy of Postfix log
// events, and mtastsd's own fetch failures counted against the sessions made
// meanwhile (RFC 8461 sec. 6). Cache records are made by the real state machine
// (core/cache_rules), so the tests follow the states a domain really goes through.
#include "core/tlsrpt_attribution.hpp"

#include <gtest/gtest.h>

#include "core/cache_rules.hpp"

namespace mtastsd::core {
namespace tlsrpt_attribution_test {

using std::chrono::minutes;
using util::Seconds;

const util::TimePoint T0 = util::from_unix(1'700'000'000);
constexpr std::int64_t kWeek = 7 * 86400;

CacheSettings settings() { return CacheSettings{}; }
TxtOutcome found(std::string id) { return TxtOutcome{TxtStatus::found, std::move(id), Seconds(300), ""}; }
TxtOutcome absent() { return TxtOutcome{TxtStatus::absent, "", Seconds(600), "NXDOMAIN"}; }

FetchSuccess fetched(StsMode mode) {
  FetchSuccess f;
  f.policy.mode = mode;
  f.policy.max_age = kWeek;
  if (mode != StsMode::none) f.policy.mx = {"mail.example.com", "*.mx.example.com"};
  f.policy.lines = {"version: STSv1", "mode: " + std::string(to_string(mode)), "max_age: 604800"};
  for (const auto& mx : f.policy.mx) f.policy.lines.push_back("mx: " + mx);
  f.text = "(body)";
  return f;
}

const FetchFailed kFetchError{FailureType::sts_policy_fetch_error, "HTTP 404"};
const FetchFailed kWebPki{FailureType::sts_webpki_invalid, "certificate has expired"};

CacheRecord with_policy(StsMode mode = StsMode::enforce) {
  return apply_fetch_success(nullptr, found("A"), fetched(mode), T0, settings());
}

// A datagram-like event: Postfix's view of one session.
SessionEvent event(PolicyType type, bool failed = false) {
  SessionEvent e;
  e.report_domain = "example.com";
  e.tlsrpt_record = "v=TLSRPTv1; rua=mailto:r@example.com";
  e.policy.type = type;
  e.policy.domain = "example.com";
  e.failed = failed;
  e.mx_hostname = "mail.example.com";
  return e;
}

SessionEvent log_event(bool failed = false) {
  SessionEvent e = event(PolicyType::unknown, failed);
  e.tlsrpt_record.clear();
  e.policy.domain.clear();
  return e;
}

// ---- attribute_log_policy ----

TEST(AttributeLogPolicy, ValidEnforcePolicyIsSts) {
  const CacheRecord r = with_policy();
  const SessionEvent e = attribute_log_policy(log_event(), &r, T0 + minutes(1), {});
  EXPECT_EQ(e.policy.type, PolicyType::sts);
  EXPECT_EQ(e.policy.domain, "example.com");
  EXPECT_EQ(e.policy.strings, r.policy.lines);
  EXPECT_EQ(e.policy.mx_hosts, (std::vector<std::string>{"mail.example.com", "*.mx.example.com"}));
}

TEST(AttributeLogPolicy, NothingCachedIsNoPolicyFound) {
  const SessionEvent e = attribute_log_policy(log_event(), nullptr, T0, {});
  EXPECT_EQ(e.policy.type, PolicyType::no_policy_found);
  EXPECT_EQ(e.policy.domain, "example.com");
  EXPECT_TRUE(e.policy.strings.empty());
}

TEST(AttributeLogPolicy, ExpiredPolicyIsNoPolicyFound) {
  const CacheRecord r = with_policy();
  EXPECT_EQ(attribute_log_policy(log_event(), &r, T0 + Seconds(kWeek), {}).policy.type, PolicyType::no_policy_found);
  EXPECT_EQ(attribute_log_policy(log_event(), &r, T0 + Seconds(kWeek - 1), {}).policy.type, PolicyType::sts);
}

TEST(AttributeLogPolicy, NoneModeIsNoPolicyFound) {
  const CacheRecord r = with_policy(StsMode::none);
  EXPECT_EQ(attribute_log_policy(log_event(), &r, T0, {}).policy.type, PolicyType::no_policy_found);
}

TEST(AttributeLogPolicy, TestingModeFollowsTheProfile) {
  const CacheRecord r = with_policy(StsMode::testing);
  EXPECT_EQ(attribute_log_policy(log_event(), &r, T0, {}).policy.type, PolicyType::no_policy_found);
  EXPECT_EQ(attribute_log_policy(log_event(), &r, T0, {.testing_enforced = true}).policy.type, PolicyType::sts);
}

TEST(AttributeLogPolicy, DaneVerdictIsTlsaOnlyInADaneProfile) {
  CacheRecord r = with_policy();
  r = apply_dane(&r, DaneDecision{DaneVerdict::dane_only, "all MX hosts have TLSA", "", {}, Seconds(600)}, T0,
                 settings());
  EXPECT_EQ(attribute_log_policy(log_event(), &r, T0, {.dane = true}).policy.type, PolicyType::tlsa);
  EXPECT_EQ(attribute_log_policy(log_event(), &r, T0, {}).policy.type, PolicyType::sts);
  // Once the verdict expires it says nothing; the policy decides again.
  EXPECT_EQ(attribute_log_policy(log_event(), &r, T0 + Seconds(600), {.dane = true}).policy.type, PolicyType::sts);
}

TEST(AttributeLogPolicy, NotApplicableDaneLeavesMtaSts) {
  CacheRecord r = with_policy();
  r = apply_dane(&r, DaneDecision{DaneVerdict::not_applicable, "insecure MX", "", {}, Seconds(600)}, T0, settings());
  EXPECT_EQ(attribute_log_policy(log_event(), &r, T0, {.dane = true}).policy.type, PolicyType::sts);
}

TEST(AttributeLogPolicy, KnownTypesAreLeftAlone) {
  const CacheRecord r = with_policy();
  const SessionEvent in = event(PolicyType::no_policy_found);
  EXPECT_EQ(attribute_log_policy(in, &r, T0, {}).policy, in.policy);
}

// ---- policy_failure_in_force / apply_policy_failure ----

TEST(PolicyFailure, NoneWithoutRecordOrFailure) {
  EXPECT_FALSE(policy_failure_in_force(nullptr, T0));
  const CacheRecord r = with_policy();
  EXPECT_FALSE(policy_failure_in_force(&r, T0));
  const SessionEvent in = event(PolicyType::sts);
  const SessionEvent out = apply_policy_failure(in, &r, T0);
  EXPECT_EQ(out.policy, in.policy);
  EXPECT_FALSE(out.failed);
  EXPECT_TRUE(out.failure_details.empty());
}

// A valid TXT record, no policy ever fetched: Postfix was told NOTFOUND and
// reports no-policy-found; the report must say the sts policy could not be fetched.
TEST(PolicyFailure, FetchFailingUnderAValidTxtRecordTurnsNoPolicyIntoFailedSts) {
  const CacheRecord r = apply_fetch_failure(nullptr, found("B"), kFetchError, T0, settings());
  EXPECT_EQ(policy_failure_in_force(&r, T0), FailureType::sts_policy_fetch_error);

  const SessionEvent out = apply_policy_failure(event(PolicyType::no_policy_found), &r, T0 + minutes(1));
  EXPECT_TRUE(out.failed);
  EXPECT_EQ(out.policy.type, PolicyType::sts);
  EXPECT_EQ(out.policy.domain, "example.com");
  EXPECT_TRUE(out.policy.strings.empty());
  EXPECT_TRUE(out.policy.mx_hosts.empty());
  ASSERT_EQ(out.failure_details.size(), 1u);
  EXPECT_EQ(out.failure_details[0].result_type, FailureType::sts_policy_fetch_error);
  EXPECT_EQ(out.failure_details[0].receiving_mx_hostname, "mail.example.com");
  EXPECT_EQ(out.failure_details[0].failure_reason_code, "HTTP 404");
}

// The state outlives the retry back-off: it ends only with a successful fetch or
// when the TXT record stops naming the failing id.
TEST(PolicyFailure, LastsUntilTheFetchSucceeds) {
  CacheRecord r = apply_fetch_failure(nullptr, found("B"), kFetchError, T0, settings());
  r = apply_txt(&r, found("B"), T0 + minutes(10), settings());  // retry due, not yet done
  EXPECT_EQ(policy_failure_in_force(&r, T0 + minutes(10)), FailureType::sts_policy_fetch_error);
  r = apply_fetch_success(&r, found("B"), fetched(StsMode::enforce), T0 + minutes(11), settings());
  EXPECT_FALSE(policy_failure_in_force(&r, T0 + minutes(11)));
}

TEST(PolicyFailure, EndsWhenTheTxtRecordVanishesAndNoPolicyIsCached) {
  CacheRecord r = apply_fetch_failure(nullptr, found("B"), kFetchError, T0, settings());
  r = apply_txt(&r, absent(), T0 + minutes(1), settings());
  EXPECT_FALSE(policy_failure_in_force(&r, T0 + minutes(1)));
  EXPECT_FALSE(apply_policy_failure(event(PolicyType::no_policy_found), &r, T0 + minutes(1)).failed);
}

// Downgrade protection keeps the cached policy in force (Postfix reports sts with
// it); the failed refresh of the new id still fails every session meanwhile.
TEST(PolicyFailure, FailedRefreshUnderACachedPolicyFailsTheSessions) {
  CacheRecord r = with_policy();
  r = apply_fetch_failure(&r, found("C"), kWebPki, T0 + minutes(5), settings());
  ASSERT_TRUE(r.policy_valid_at(T0 + minutes(6)));
  EXPECT_EQ(policy_failure_in_force(&r, T0 + minutes(6)), FailureType::sts_webpki_invalid);

  SessionEvent in = event(PolicyType::sts);
  in.policy.strings = {"version: STSv1", "mode: enforce"};
  const SessionEvent out = apply_policy_failure(in, &r, T0 + minutes(6));
  EXPECT_TRUE(out.failed);
  EXPECT_EQ(out.policy, in.policy);  // Postfix's own view of the applied policy is kept
  ASSERT_EQ(out.failure_details.size(), 1u);
  EXPECT_EQ(out.failure_details[0].result_type, FailureType::sts_webpki_invalid);
}

// Even when the TXT record is gone, the cached non-none policy is still in force.
TEST(PolicyFailure, CachedPolicyKeepsTheStateAfterTheTxtRecordVanishes) {
  CacheRecord r = with_policy();
  r = apply_fetch_failure(&r, found("C"), kFetchError, T0 + minutes(5), settings());
  r = apply_txt(&r, absent(), T0 + minutes(6), settings());
  EXPECT_EQ(policy_failure_in_force(&r, T0 + minutes(6)), FailureType::sts_policy_fetch_error);
  // ... until the policy expires.
  EXPECT_FALSE(policy_failure_in_force(&r, T0 + Seconds(kWeek)));
}

TEST(PolicyFailure, NoneModePolicyAloneDoesNotKeepTheState) {
  CacheRecord r = with_policy(StsMode::none);
  r = apply_fetch_failure(&r, found("C"), kFetchError, T0 + minutes(5), settings());
  EXPECT_EQ(policy_failure_in_force(&r, T0 + minutes(6)), FailureType::sts_policy_fetch_error);  // TXT names C
  r = apply_txt(&r, absent(), T0 + minutes(7), settings());
  EXPECT_FALSE(policy_failure_in_force(&r, T0 + minutes(7)));
}

// A no-policy-found session while a cached policy is in force (e.g. a profile
// that answers testing policies NOTFOUND) is reported under that policy.
TEST(PolicyFailure, NoPolicyFoundSessionGetsTheCachedPolicy) {
  CacheRecord r = with_policy(StsMode::testing);
  r = apply_fetch_failure(&r, found("C"), kFetchError, T0 + minutes(5), settings());
  const SessionEvent out = apply_policy_failure(event(PolicyType::no_policy_found), &r, T0 + minutes(6));
  EXPECT_EQ(out.policy.type, PolicyType::sts);
  EXPECT_EQ(out.policy.strings, r.policy.lines);
  EXPECT_EQ(out.policy.mx_hosts, r.policy.mx);
}

TEST(PolicyFailure, SessionFailureDetailsAreKeptAfterThePolicyFailure) {
  const CacheRecord r = apply_fetch_failure(nullptr, found("B"), kFetchError, T0, settings());
  SessionEvent in = event(PolicyType::no_policy_found, true);
  in.failure_details.push_back(FailureDetail{.result_type = FailureType::starttls_not_supported});
  const SessionEvent out = apply_policy_failure(in, &r, T0);
  ASSERT_EQ(out.failure_details.size(), 2u);
  EXPECT_EQ(out.failure_details[0].result_type, FailureType::sts_policy_fetch_error);
  EXPECT_EQ(out.failure_details[1].result_type, FailureType::starttls_not_supported);
}

TEST(PolicyFailure, TlsaSessionsAreNotTouched) {
  const CacheRecord r = apply_fetch_failure(nullptr, found("B"), kFetchError, T0, settings());
  const SessionEvent out = apply_policy_failure(event(PolicyType::tlsa), &r, T0);
  EXPECT_EQ(out.policy.type, PolicyType::tlsa);
  EXPECT_FALSE(out.failed);
  EXPECT_TRUE(out.failure_details.empty());
}

}  // namespace tlsrpt_attribution_test
}  // namespace mtastsd::core

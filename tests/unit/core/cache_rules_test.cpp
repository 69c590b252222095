// The cache state machine (RFC 8461 sec. 3.3, 5.1) with explicit times: every
// test injects "now" as T0 + offset.
#include "core/cache_rules.hpp"

#include <gtest/gtest.h>

namespace mtastsd::core {
namespace cache_rules_test {

using std::chrono::hours;
using std::chrono::minutes;
using util::Seconds;

const util::TimePoint T0 = util::from_unix(1'700'000'000);
constexpr std::int64_t kDay = 86400;

CacheSettings settings() { return CacheSettings{}; }  // the documented defaults

TxtOutcome found(std::string id) { return TxtOutcome{TxtStatus::found, std::move(id), Seconds(300), ""}; }
TxtOutcome absent(Seconds ttl = Seconds(600)) { return TxtOutcome{TxtStatus::absent, "", ttl, "NXDOMAIN"}; }
TxtOutcome dns_error() { return TxtOutcome{TxtStatus::dns_error, "", Seconds(0), "SERVFAIL"}; }

FetchSuccess fetched(std::int64_t max_age, StsMode mode = StsMode::enforce) {
  FetchSuccess f;
  f.policy.mode = mode;
  f.policy.max_age = max_age;
  f.policy.mx = {"mx.example.com"};
  f.policy.lines = {"version: STSv1", "mode: enforce", "mx: mx.example.com", "max_age: " + std::to_string(max_age)};
  f.text = "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: " + std::to_string(max_age) + "\n";
  return f;
}

FetchFailed fetch_error() { return FetchFailed{FailureType::sts_policy_fetch_error, "HTTP 503"}; }

// A policy with id "A" fetched at T0 (max_age one week), used at T0.
CacheRecord cached_policy(std::int64_t max_age = 7 * kDay) {
  CacheRecord r = apply_fetch_success(nullptr, found("A"), fetched(max_age), T0, settings());
  r.last_used = T0;
  return r;
}

// ---------------------------------------------------------------- plan_lookup

TEST(PlanLookup, NoRecordResolvesAndTouches) {
  const LookupPlan plan = plan_lookup(nullptr, T0, settings());
  EXPECT_EQ(plan.answer, LookupAnswer::resolve);
  EXPECT_FALSE(plan.refresh_in_background);
  EXPECT_TRUE(plan.touch);
}

TEST(PlanLookup, ValidPolicyIsServedUntilExpiry) {
  const CacheRecord r = cached_policy(kDay);
  EXPECT_EQ(plan_lookup(&r, T0, settings()).answer, LookupAnswer::policy);
  EXPECT_EQ(plan_lookup(&r, T0 + Seconds(kDay - 1), settings()).answer, LookupAnswer::policy);
  // Expired exactly at valid_until: nothing valid, no negative cached -> resolve.
  EXPECT_EQ(plan_lookup(&r, T0 + Seconds(kDay), settings()).answer, LookupAnswer::resolve);
}

TEST(PlanLookup, IdCheckInBackgroundAfterInterval) {
  const CacheRecord r = cached_policy();  // last_id_check = T0
  EXPECT_FALSE(plan_lookup(&r, T0 + Seconds(299), settings()).refresh_in_background);
  const LookupPlan due = plan_lookup(&r, T0 + Seconds(300), settings());
  EXPECT_EQ(due.answer, LookupAnswer::policy);
  EXPECT_TRUE(due.refresh_in_background);
}

TEST(PlanLookup, NegativeAnswerUntilNegativeUntil) {
  const CacheRecord r = apply_txt(nullptr, absent(Seconds(600)), T0, settings());
  const LookupPlan plan = plan_lookup(&r, T0 + Seconds(599), settings());
  EXPECT_EQ(plan.answer, LookupAnswer::no_policy);
  EXPECT_FALSE(plan.refresh_in_background);
  EXPECT_EQ(plan_lookup(&r, T0 + Seconds(600), settings()).answer, LookupAnswer::resolve);
}

// The wall clock went back an hour after the record was written: what it timed is due now.
TEST(PlanLookup, IdCheckIsDueWhenTheClockWentBack) {
  const CacheRecord r = cached_policy();  // last_id_check = T0
  const LookupPlan plan = plan_lookup(&r, T0 - hours(1), settings());
  EXPECT_EQ(plan.answer, LookupAnswer::policy);  // still served
  EXPECT_TRUE(plan.refresh_in_background);
}

TEST(PlanLookup, NegativeAnswerIsRecheckedWhenTheClockWentBack) {
  const CacheRecord r = apply_txt(nullptr, absent(Seconds(600)), T0, settings());
  const LookupPlan plan = plan_lookup(&r, T0 - hours(1), settings());
  EXPECT_EQ(plan.answer, LookupAnswer::no_policy);  // answered as cached, not stretched by the jump
  EXPECT_TRUE(plan.refresh_in_background);
  EXPECT_FALSE(plan_lookup(&r, T0 + Seconds(1), settings()).refresh_in_background);
}

TEST(PlanLookup, TouchAtMostOncePerGranularity) {
  CacheRecord r = cached_policy();
  r.last_used = T0;
  EXPECT_FALSE(plan_lookup(&r, T0 + Seconds(3599), settings()).touch);
  EXPECT_TRUE(plan_lookup(&r, T0 + Seconds(3600), settings()).touch);

  CacheRecord negative = apply_txt(nullptr, absent(Seconds(3600)), T0, settings());
  negative.last_used = T0;
  EXPECT_FALSE(plan_lookup(&negative, T0 + Seconds(10), settings()).touch);
  negative.last_used = T0 - hours(2);
  EXPECT_TRUE(plan_lookup(&negative, T0 + Seconds(10), settings()).touch);
}

// ---------------------------------------------------------------- should_fetch

TEST(ShouldFetch, OnlyWhenARecordWasFound) {
  EXPECT_TRUE(should_fetch(nullptr, found("A"), T0, false));
  EXPECT_FALSE(should_fetch(nullptr, absent(), T0, false));
  EXPECT_FALSE(should_fetch(nullptr, dns_error(), T0, true));
}

TEST(ShouldFetch, SameIdOfValidPolicyNeedsNoFetchUnlessForced) {
  const CacheRecord r = cached_policy();
  EXPECT_FALSE(should_fetch(&r, found("A"), T0 + hours(1), false));
  EXPECT_TRUE(should_fetch(&r, found("A"), T0 + hours(1), true));
}

TEST(ShouldFetch, IdChangeFetches) {
  const CacheRecord r = cached_policy();
  EXPECT_TRUE(should_fetch(&r, found("B"), T0 + hours(1), false));
}

TEST(ShouldFetch, ExpiredPolicyCountsAsNone) {
  const CacheRecord r = cached_policy(kDay);
  EXPECT_TRUE(should_fetch(&r, found("A"), T0 + Seconds(kDay), false));
}

TEST(ShouldFetch, FailedIdBackedOffUntilNextRetry) {
  const CacheRecord failed = apply_fetch_failure(nullptr, found("A"), fetch_error(), T0, settings());
  EXPECT_FALSE(should_fetch(&failed, found("A"), T0 + Seconds(299), false));
  EXPECT_FALSE(should_fetch(&failed, found("A"), T0 + Seconds(299), true));  // not even forced
  EXPECT_TRUE(should_fetch(&failed, found("A"), T0 + Seconds(300), false));
  // A different id is a different policy: not blocked.
  EXPECT_TRUE(should_fetch(&failed, found("B"), T0 + Seconds(1), false));
}

TEST(ShouldFetch, BackOffEndsWhenTheClockWentBack) {
  const CacheRecord failed = apply_fetch_failure(nullptr, found("A"), fetch_error(), T0, settings());
  EXPECT_TRUE(should_fetch(&failed, found("A"), T0 - hours(1), false));
}

// ---------------------------------------------------------------- apply_fetch_success

TEST(ApplyFetchSuccess, StoresPolicyAndClearsFailureState) {
  CacheRecord failed = apply_fetch_failure(nullptr, found("A"), fetch_error(), T0, settings());
  failed.last_used = T0;
  const util::TimePoint now = T0 + minutes(10);
  const CacheRecord r = apply_fetch_success(&failed, found("A"), fetched(kDay), now, settings());
  EXPECT_EQ(r.policy_id, "A");
  EXPECT_EQ(r.policy.max_age, kDay);
  EXPECT_EQ(r.policy.mx, std::vector<std::string>{"mx.example.com"});
  EXPECT_FALSE(r.policy_text.empty());
  EXPECT_EQ(r.fetched_at, now);
  EXPECT_EQ(r.valid_until, now + Seconds(kDay));
  EXPECT_EQ(r.last_id_check, now);
  EXPECT_EQ(r.last_txt_id, "A");
  EXPECT_EQ(r.negative_until, util::TimePoint{});
  EXPECT_FALSE(r.failure.has_value());
  EXPECT_TRUE(r.failure_detail.empty());
  EXPECT_TRUE(r.failed_id.empty());
  EXPECT_EQ(r.failed_at, util::TimePoint{});
  EXPECT_EQ(r.next_retry, util::TimePoint{});
  EXPECT_EQ(r.consecutive_failures, 0u);
  EXPECT_EQ(r.last_used, T0);  // only lookups touch last_used
  EXPECT_EQ(plan_lookup(&r, now, settings()).answer, LookupAnswer::policy);
}

TEST(ApplyFetchSuccess, ModeNoneIsCachedLikeAnyPolicy) {
  const CacheRecord r = apply_fetch_success(nullptr, found("N"), fetched(kDay, StsMode::none), T0, settings());
  EXPECT_EQ(r.policy.mode, StsMode::none);
  EXPECT_EQ(plan_lookup(&r, T0 + hours(1), settings()).answer, LookupAnswer::policy);
}

TEST(ApplyFetchSuccess, IdChangeReplacesPolicy) {
  const CacheRecord old = cached_policy();
  ASSERT_TRUE(should_fetch(&old, found("B"), T0 + hours(1), false));
  FetchSuccess next = fetched(kDay, StsMode::testing);
  const CacheRecord r = apply_fetch_success(&old, found("B"), next, T0 + hours(1), settings());
  EXPECT_EQ(r.policy_id, "B");
  EXPECT_EQ(r.policy.mode, StsMode::testing);
  EXPECT_EQ(r.valid_until, T0 + hours(1) + Seconds(kDay));
}

// ---------------------------------------------------------------- apply_txt

TEST(ApplyTxt, IdConfirmationExtendsValidity) {
  const CacheRecord r0 = cached_policy(kDay);
  const util::TimePoint now = T0 + hours(20);
  ASSERT_FALSE(should_fetch(&r0, found("A"), now, false));
  const CacheRecord r = apply_txt(&r0, found("A"), now, settings());
  EXPECT_EQ(r.valid_until, now + Seconds(kDay));
  EXPECT_EQ(r.fetched_at, T0);  // no fetch happened
  EXPECT_EQ(r.last_id_check, now);
  EXPECT_EQ(r.last_txt_id, "A");
  EXPECT_EQ(plan_lookup(&r, T0 + Seconds(kDay) + hours(1), settings()).answer, LookupAnswer::policy);
}

TEST(ApplyTxt, ExpiredPolicyIsConfirmedByItsId) {
  CacheRecord r0 = cached_policy(kDay);
  r0.negative_until = T0 + Seconds(kDay) + hours(1);
  const util::TimePoint now = T0 + Seconds(kDay) + hours(2);
  const CacheRecord r = apply_txt(&r0, found("A"), now, settings());
  EXPECT_EQ(r.valid_until, now + Seconds(kDay));
  EXPECT_EQ(r.negative_until, util::TimePoint{});
}

TEST(ApplyTxt, VanishedTxtKeepsValidPolicy) {
  const CacheRecord r0 = cached_policy(kDay);
  const util::TimePoint now = T0 + hours(1);
  const CacheRecord r = apply_txt(&r0, absent(), now, settings());
  EXPECT_EQ(r.valid_until, r0.valid_until);
  EXPECT_EQ(r.policy_id, "A");
  EXPECT_EQ(r.negative_until, r0.negative_until);
  EXPECT_EQ(r.last_id_check, now);
  EXPECT_EQ(r.last_txt_id, "");
  EXPECT_EQ(plan_lookup(&r, now, settings()).answer, LookupAnswer::policy);
}

TEST(ApplyTxt, AbsentWithoutPolicyCachesNegativeTtl) {
  const CacheRecord r = apply_txt(nullptr, absent(Seconds(900)), T0, settings());
  EXPECT_FALSE(r.has_policy());
  EXPECT_EQ(r.negative_until, T0 + Seconds(900));
  EXPECT_EQ(r.last_id_check, T0);
}

TEST(ApplyTxt, NegativeTtlClampedToMinAndMax) {
  const CacheSettings s = settings();
  EXPECT_EQ(apply_txt(nullptr, absent(Seconds(5)), T0, s).negative_until, T0 + s.negative_ttl_min);
  EXPECT_EQ(apply_txt(nullptr, absent(Seconds(0)), T0, s).negative_until, T0 + s.negative_ttl_min);
  EXPECT_EQ(apply_txt(nullptr, absent(Seconds(86400)), T0, s).negative_until, T0 + s.negative_ttl_max);
  EXPECT_EQ(apply_txt(nullptr, absent(s.negative_ttl_max), T0, s).negative_until, T0 + s.negative_ttl_max);
}

TEST(ApplyTxt, AbsentAfterExpiryGivesNoPolicy) {
  const CacheRecord r0 = cached_policy(kDay);
  const util::TimePoint now = T0 + Seconds(kDay) + Seconds(1);
  const CacheRecord r = apply_txt(&r0, absent(Seconds(600)), now, settings());
  EXPECT_EQ(r.negative_until, now + Seconds(600));
  EXPECT_EQ(plan_lookup(&r, now, settings()).answer, LookupAnswer::no_policy);
}

TEST(ApplyTxt, DnsErrorKeepsValidPolicy) {
  const CacheRecord r0 = cached_policy(kDay);
  const CacheRecord r = apply_txt(&r0, dns_error(), T0 + hours(1), settings());
  EXPECT_EQ(r.valid_until, r0.valid_until);
  EXPECT_EQ(r.last_id_check, T0 + hours(1));
  EXPECT_EQ(r.last_txt_id, "");
  EXPECT_EQ(plan_lookup(&r, T0 + hours(1), settings()).answer, LookupAnswer::policy);
}

TEST(ApplyTxt, DnsErrorWithoutPolicyRetriesAfterDnsErrorRetry) {
  CacheSettings s = settings();
  s.dns_error_retry = Seconds(45);
  const CacheRecord r = apply_txt(nullptr, dns_error(), T0, s);
  EXPECT_EQ(r.negative_until, T0 + Seconds(45));
  EXPECT_EQ(plan_lookup(&r, T0 + Seconds(44), s).answer, LookupAnswer::no_policy);
  EXPECT_EQ(plan_lookup(&r, T0 + Seconds(45), s).answer, LookupAnswer::resolve);
}

TEST(ApplyTxt, BackedOffNewIdKeepsValidPolicy) {
  // Policy A valid; the domain now publishes B, whose fetch failed.
  const CacheRecord valid = cached_policy();
  const util::TimePoint t1 = T0 + hours(1);
  const CacheRecord failed = apply_fetch_failure(&valid, found("B"), fetch_error(), t1, settings());
  const util::TimePoint t2 = t1 + minutes(2);
  ASSERT_FALSE(should_fetch(&failed, found("B"), t2, false));
  const CacheRecord r = apply_txt(&failed, found("B"), t2, settings());
  EXPECT_EQ(r.policy_id, "A");
  EXPECT_EQ(r.valid_until, valid.valid_until);  // B is not a confirmation of A
  EXPECT_EQ(r.last_txt_id, "B");
  EXPECT_EQ(plan_lookup(&r, t2, settings()).answer, LookupAnswer::policy);
}

TEST(ApplyTxt, BackedOffWithoutValidPolicyIsNoPolicyUntilRetry) {
  const CacheRecord failed = apply_fetch_failure(nullptr, found("A"), fetch_error(), T0, settings());
  const util::TimePoint now = T0 + minutes(1);
  ASSERT_FALSE(should_fetch(&failed, found("A"), now, false));
  const CacheRecord r = apply_txt(&failed, found("A"), now, settings());
  EXPECT_EQ(r.negative_until, failed.next_retry);
  EXPECT_EQ(plan_lookup(&r, now, settings()).answer, LookupAnswer::no_policy);
}

TEST(ApplyTxt, ExpiredPolicyWhoseRefetchFailedIsNotRevivedByItsId) {
  // Policy A (max_age 10 min) expires while its refetch is backed off: RFC 8461
  // sec. 3.3, no policy could be fetched and none is valid, so there is none.
  const CacheRecord r0 = cached_policy(600);
  const CacheRecord failed = apply_fetch_failure(&r0, found("A"), fetch_error(), T0 + Seconds(500), settings());
  ASSERT_EQ(failed.valid_until, r0.valid_until);  // still valid when it failed
  const util::TimePoint now = T0 + Seconds(700);  // expired, retry due at 800
  ASSERT_FALSE(should_fetch(&failed, found("A"), now, false));
  const CacheRecord r = apply_txt(&failed, found("A"), now, settings());
  EXPECT_FALSE(r.policy_valid_at(now));
  EXPECT_EQ(r.negative_until, failed.next_retry);
  EXPECT_EQ(plan_lookup(&r, now, settings()).answer, LookupAnswer::no_policy);
  EXPECT_EQ(plan_lookup(&r, failed.next_retry, settings()).answer, LookupAnswer::resolve);
}

// ---------------------------------------------------------------- apply_fetch_failure

TEST(ApplyFetchFailure, KeepsValidPolicy) {
  const CacheRecord r0 = cached_policy(kDay);
  const util::TimePoint now = T0 + hours(23);
  const CacheRecord r = apply_fetch_failure(&r0, found("A"), fetch_error(), now, settings());
  EXPECT_EQ(r.policy_id, "A");
  EXPECT_EQ(r.policy_text, r0.policy_text);
  EXPECT_EQ(r.valid_until, r0.valid_until);
  EXPECT_EQ(r.fetched_at, r0.fetched_at);
  EXPECT_EQ(r.failure, FailureType::sts_policy_fetch_error);
  EXPECT_EQ(r.failure_detail, "HTTP 503");
  EXPECT_EQ(r.failed_id, "A");
  EXPECT_EQ(r.failed_at, now);
  EXPECT_EQ(r.next_retry, now + Seconds(300));
  EXPECT_EQ(r.consecutive_failures, 1u);
  EXPECT_EQ(r.last_id_check, now);
  EXPECT_EQ(r.negative_until, r0.negative_until);
  EXPECT_EQ(plan_lookup(&r, now, settings()).answer, LookupAnswer::policy);
}

TEST(ApplyFetchFailure, NewIdFailureKeepsOldValidPolicy) {
  const CacheRecord r0 = cached_policy(kDay);
  const CacheRecord r = apply_fetch_failure(&r0, found("B"), fetch_error(), T0 + hours(1), settings());
  EXPECT_EQ(r.policy_id, "A");
  EXPECT_EQ(r.failed_id, "B");
  EXPECT_EQ(plan_lookup(&r, T0 + hours(1), settings()).answer, LookupAnswer::policy);
}

TEST(ApplyFetchFailure, ExpiredPolicyGivesNoPolicyUntilRetry) {
  const CacheRecord r0 = cached_policy(kDay);
  const util::TimePoint now = T0 + Seconds(kDay) + hours(1);
  const CacheRecord r = apply_fetch_failure(&r0, found("A"), fetch_error(), now, settings());
  EXPECT_EQ(r.negative_until, now + Seconds(300));
  EXPECT_EQ(plan_lookup(&r, now, settings()).answer, LookupAnswer::no_policy);
  EXPECT_EQ(plan_lookup(&r, now + Seconds(300), settings()).answer, LookupAnswer::resolve);
}

TEST(ApplyFetchFailure, CountsConsecutiveFailuresAndSuccessResets) {
  CacheRecord r = apply_fetch_failure(nullptr, found("A"), fetch_error(), T0, settings());
  r = apply_fetch_failure(&r, found("A"), FetchFailed{FailureType::sts_policy_invalid, "no mx"}, T0 + minutes(5),
                          settings());
  EXPECT_EQ(r.consecutive_failures, 2u);
  EXPECT_EQ(r.failure, FailureType::sts_policy_invalid);
  EXPECT_EQ(r.next_retry, T0 + minutes(10));
  r = apply_fetch_success(&r, found("A"), fetched(kDay), T0 + minutes(10), settings());
  EXPECT_EQ(r.consecutive_failures, 0u);
}

// ---------------------------------------------------------------- needs_refresh

TEST(NeedsRefresh, WithinRefreshMarginBeforeExpiry) {
  const CacheRecord r = cached_policy(7 * kDay);  // margin: min(1 day, 3.5 days) = 1 day
  EXPECT_FALSE(needs_refresh(r, T0 + Seconds(6 * kDay - 1), settings()));
  EXPECT_TRUE(needs_refresh(r, T0 + Seconds(6 * kDay), settings()));
}

TEST(NeedsRefresh, MarginCappedAtHalfMaxAge) {
  const CacheRecord r = cached_policy(3600);  // margin: min(1 day, 30 min) = 30 min
  EXPECT_FALSE(needs_refresh(r, T0 + Seconds(1799), settings()));
  EXPECT_TRUE(needs_refresh(r, T0 + Seconds(1800), settings()));
}

TEST(NeedsRefresh, NoPolicyNothingToRefresh) {
  const CacheRecord r = apply_txt(nullptr, absent(), T0, settings());
  EXPECT_FALSE(needs_refresh(r, T0 + Seconds(kDay), settings()));
}

TEST(NeedsRefresh, UnusedDomainsAreNotRefreshed) {
  CacheRecord r = cached_policy(40 * kDay);
  const util::TimePoint now = T0 + Seconds(39 * kDay + 1);  // within the margin
  r.last_used = now - Seconds(30 * kDay - 1);
  EXPECT_TRUE(needs_refresh(r, now, settings()));
  r.last_used = now - Seconds(30 * kDay);
  EXPECT_FALSE(needs_refresh(r, now, settings()));
}

TEST(NeedsRefresh, WaitsForBackOffOfCachedId) {
  const CacheRecord r0 = cached_policy(kDay);
  const util::TimePoint t1 = T0 + Seconds(kDay) - hours(2);
  ASSERT_TRUE(needs_refresh(r0, t1, settings()));
  const CacheRecord failed = apply_fetch_failure(&r0, found("A"), fetch_error(), t1, settings());
  EXPECT_FALSE(needs_refresh(failed, t1 + Seconds(299), settings()));
  EXPECT_TRUE(needs_refresh(failed, t1 + Seconds(300), settings()));
}

TEST(NeedsRefresh, WaitsForBackOffOfNewlyPublishedId) {
  const CacheRecord r0 = cached_policy(kDay);
  const util::TimePoint t1 = T0 + Seconds(kDay) - hours(2);
  const CacheRecord failed = apply_fetch_failure(&r0, found("B"), fetch_error(), t1, settings());
  EXPECT_FALSE(needs_refresh(failed, t1 + Seconds(299), settings()));
  EXPECT_TRUE(needs_refresh(failed, t1 + Seconds(300), settings()));
}

TEST(NeedsRefresh, ExpiredPolicyWaitsForCachedNoPolicy) {
  const CacheRecord r0 = cached_policy(kDay);
  const util::TimePoint expired = T0 + Seconds(kDay) + hours(1);
  EXPECT_TRUE(needs_refresh(r0, expired, settings()));
  const CacheRecord gone = apply_txt(&r0, absent(Seconds(600)), expired, settings());
  EXPECT_FALSE(needs_refresh(gone, expired + Seconds(599), settings()));
  EXPECT_TRUE(needs_refresh(gone, expired + Seconds(600), settings()));
}

// ---------------------------------------------------------------- refresh_due_at

TEST(RefreshDueAt, ValidUntilMinusTheMarginCappedAtHalfMaxAge) {
  EXPECT_EQ(refresh_due_at(cached_policy(7 * kDay), settings()), T0 + Seconds(6 * kDay));
  EXPECT_EQ(refresh_due_at(cached_policy(3600), settings()), T0 + Seconds(1800));
}

TEST(RefreshDueAt, NoneWithoutPolicy) {
  EXPECT_EQ(refresh_due_at(apply_txt(nullptr, absent(), T0, settings()), settings()), std::nullopt);
}

TEST(RefreshDueAt, IsWhereNeedsRefreshTurnsTrue) {
  const CacheRecord r = cached_policy(2 * kDay);
  const util::TimePoint due = *refresh_due_at(r, settings());
  EXPECT_FALSE(needs_refresh(r, due - Seconds(1), settings()));
  EXPECT_TRUE(needs_refresh(r, due, settings()));
}

// ---------------------------------------------------------------- should_drop

TEST(ShouldDrop, UnusedAndExpiredIsDropped) {
  const CacheRecord r = cached_policy(kDay);  // last_used = T0
  EXPECT_FALSE(should_drop(r, T0 + Seconds(90 * kDay - 1), settings()));
  EXPECT_TRUE(should_drop(r, T0 + Seconds(90 * kDay), settings()));
}

TEST(ShouldDrop, ValidPolicyIsKeptHoweverOld) {
  CacheRecord r = cached_policy(kMaxAgeLimit);  // valid for a year
  EXPECT_FALSE(should_drop(r, T0 + Seconds(100 * kDay), settings()));
}

TEST(ShouldDrop, ActiveNegativeIsKept) {
  CacheRecord r = apply_txt(nullptr, absent(), T0, settings());
  r.last_used = T0 - Seconds(100 * kDay);
  EXPECT_FALSE(should_drop(r, T0 + Seconds(599), settings()));
  EXPECT_TRUE(should_drop(r, T0 + Seconds(600), settings()));
}

// ------------------------------------------------------------ DANE verdicts

DaneDecision dane_decision(DaneVerdict verdict, std::optional<Seconds> ttl) {
  DaneDecision d;
  d.verdict = verdict;
  d.reason = "because";
  d.hosts = {{"mx.example.com", verdict == DaneVerdict::dane_only}};
  d.ttl = ttl;
  return d;
}

TEST(DaneState, CachedForTheTtlWithinBounds) {
  const CacheSettings s = settings();  // dane_ttl_min 60 s, dane_ttl_max 3600 s
  DaneState state = dane_state(dane_decision(DaneVerdict::dane_only, Seconds(300)), T0, s);
  EXPECT_EQ(state.verdict, DaneVerdict::dane_only);
  EXPECT_EQ(state.reason, "because");
  EXPECT_EQ(state.checked_at, T0);
  EXPECT_EQ(state.valid_until, T0 + Seconds(300));
  EXPECT_EQ(state.hosts, (std::vector<DaneHost>{{"mx.example.com", true}}));
  EXPECT_EQ(dane_state(dane_decision(DaneVerdict::dane, Seconds(1)), T0, s).valid_until, T0 + Seconds(60));
  EXPECT_EQ(dane_state(dane_decision(DaneVerdict::dane, Seconds(86400)), T0, s).valid_until, T0 + Seconds(3600));
  EXPECT_EQ(dane_state(dane_decision(DaneVerdict::not_applicable, Seconds(0)), T0, s).valid_until, T0 + Seconds(60));
}

TEST(DaneState, TempErrorIsRetriedAfterDnsErrorRetry) {
  CacheSettings s = settings();
  s.dns_error_retry = Seconds(17);
  EXPECT_EQ(dane_state(dane_decision(DaneVerdict::temp_error, std::nullopt), T0, s).valid_until, T0 + Seconds(17));
}

TEST(ApplyDane, ReplacesOnlyTheDaneState) {
  const CacheRecord before = cached_policy();
  CacheRecord r = apply_dane(&before, dane_decision(DaneVerdict::dane, Seconds(300)), T0 + Seconds(5), settings());
  ASSERT_TRUE(r.dane.has_value());
  EXPECT_EQ(r.dane->verdict, DaneVerdict::dane);
  EXPECT_EQ(r.dane->checked_at, T0 + Seconds(5));
  EXPECT_EQ(r.policy_text, before.policy_text);
  EXPECT_EQ(r.valid_until, before.valid_until);
  EXPECT_EQ(r.last_used, before.last_used);
  r = apply_dane(&r, dane_decision(DaneVerdict::not_applicable, Seconds(300)), T0 + Seconds(9), settings());
  EXPECT_EQ(r.dane->verdict, DaneVerdict::not_applicable);

  const CacheRecord fresh = apply_dane(nullptr, dane_decision(DaneVerdict::dane_only, Seconds(300)), T0, settings());
  EXPECT_FALSE(fresh.has_policy());
  EXPECT_EQ(fresh.dane->verdict, DaneVerdict::dane_only);
}

TEST(PlanDane, ResolveWithoutRecordOrVerdict) {
  EXPECT_EQ(plan_dane(nullptr, T0).action, DaneAction::resolve);
  const CacheRecord r = cached_policy();
  EXPECT_EQ(plan_dane(&r, T0).action, DaneAction::resolve);
  EXPECT_FALSE(plan_dane(&r, T0).refresh_in_background);
}

TEST(PlanDane, CachedUntilValidUntilAndRefreshedInItsLastQuarter) {
  const CacheRecord r = apply_dane(nullptr, dane_decision(DaneVerdict::dane, Seconds(400)), T0, settings());
  DanePlan plan = plan_dane(&r, T0);
  EXPECT_EQ(plan.action, DaneAction::use_cached);
  EXPECT_FALSE(plan.refresh_in_background);
  plan = plan_dane(&r, T0 + Seconds(299));
  EXPECT_EQ(plan.action, DaneAction::use_cached);
  EXPECT_FALSE(plan.refresh_in_background);
  plan = plan_dane(&r, T0 + Seconds(300));
  EXPECT_EQ(plan.action, DaneAction::use_cached);
  EXPECT_TRUE(plan.refresh_in_background);
  plan = plan_dane(&r, T0 + Seconds(399));
  EXPECT_EQ(plan.action, DaneAction::use_cached);
  plan = plan_dane(&r, T0 + Seconds(400));
  EXPECT_EQ(plan.action, DaneAction::resolve);
  EXPECT_FALSE(plan.refresh_in_background);
}

TEST(PlanDane, VerdictIsResolvedAheadWhenTheClockWentBack) {
  const CacheRecord r = apply_dane(nullptr, dane_decision(DaneVerdict::dane, Seconds(400)), T0, settings());
  const DanePlan plan = plan_dane(&r, T0 - hours(1));
  EXPECT_EQ(plan.action, DaneAction::use_cached);
  EXPECT_TRUE(plan.refresh_in_background);
}

TEST(PlanDane, TempErrorIsCachedLikeAnyVerdict) {
  const CacheRecord r = apply_dane(nullptr, dane_decision(DaneVerdict::temp_error, std::nullopt), T0, settings());
  EXPECT_EQ(plan_dane(&r, T0 + Seconds(59)).action, DaneAction::use_cached);
  EXPECT_EQ(plan_dane(&r, T0 + Seconds(60)).action, DaneAction::resolve);
}

// ---------------------------------------------------------------- whole flows

TEST(Flow, ColdLookupFetchThenServeFromCache) {
  const CacheSettings s = settings();
  ASSERT_EQ(plan_lookup(nullptr, T0, s).answer, LookupAnswer::resolve);
  ASSERT_TRUE(should_fetch(nullptr, found("A"), T0, false));
  CacheRecord r = apply_fetch_success(nullptr, found("A"), fetched(kDay), T0, s);
  r.last_used = T0;
  // Lookups hit the cache; after id_check_interval one starts a background check.
  LookupPlan plan = plan_lookup(&r, T0 + minutes(6), s);
  EXPECT_EQ(plan.answer, LookupAnswer::policy);
  ASSERT_TRUE(plan.refresh_in_background);
  ASSERT_FALSE(should_fetch(&r, found("A"), T0 + minutes(6), false));
  r = apply_txt(&r, found("A"), T0 + minutes(6), s);
  EXPECT_FALSE(plan_lookup(&r, T0 + minutes(7), s).refresh_in_background);
}

}  // namespace cache_rules_test
}  // namespace mtastsd::core

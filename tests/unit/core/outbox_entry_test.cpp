// The life of a queued TLS-RPT delivery: planning (one report per rua list, one entry
// per URI), claims (due, leased, abandoned by a dead or hung claimant), results
// (delivered, permanent, back-off, giving up after the retry period), make_due, and
// the stored encoding of entries and keys.
#include "core/outbox_entry.hpp"

#include <gtest/gtest.h>

namespace mtastsd::core {
namespace outbox_entry_test {

using namespace std::chrono_literals;
using util::from_unix;

constexpr std::int64_t kApril1st2024 = 1711929600;  // 2024-04-01T00:00:00Z
const UtcDay kDay = *UtcDay::parse("2024-04-01");
const util::TimePoint kMidnightAfter = from_unix(kApril1st2024 + 86400);

const ReportOrigin kOrigin{"Example Mail", "tlsrpt@example.net", "example.net"};

DomainDay day_with(std::vector<std::vector<std::string>> rua_lists) {
  DomainDay day;
  for (auto& rua : rua_lists) {
    PolicyAggregate p;
    p.rua = std::move(rua);
    p.policy = {PolicyType::sts, {"version: STSv1", "mode: testing", "mx: mx.example.com", "max_age: 86400"},
                "example.com", {"mx.example.com"}};
    p.successful_sessions = 3;
    day.policies.push_back(std::move(p));
  }
  return day;
}

std::function<std::string()> counting_tokens() {
  return [n = 0]() mutable { return "tok" + std::to_string(++n); };
}

OutboxEntry planned_entry() {
  auto entries = plan_deliveries(kOrigin, {kDay, "example.com"}, day_with({{"mailto:r@example.com"}}), kMidnightAfter,
                                 kMidnightAfter, counting_tokens());
  EXPECT_TRUE(entries.has_value());
  return entries->front();
}

ClaimRules rules(std::int64_t claimant = 100, bool others_alive = true) {
  return ClaimRules{24h, 6min, claimant, [=](std::int64_t pid) { return pid == claimant || others_alive; }};
}

const DeliveryResult kDelivered = Delivered{"250 2.0.0 Ok: queued as ABC"};
const DeliveryResult kTemporary = std::unexpected(DeliveryFailure{DeliveryError::temporary, "421 busy"});
const DeliveryResult kPermanent = std::unexpected(DeliveryFailure{DeliveryError::permanent, "550 no such user"});

TEST(OutboxPlan, OneReportPerRuaListAndOneEntryPerUri) {
  const DomainDay day = day_with({{"mailto:a@example.com", "https://r.example.com/tlsrpt"}, {"mailto:b@example.com"}});
  auto entries = plan_deliveries(kOrigin, {kDay, "example.com"}, day, kMidnightAfter + 1h, kMidnightAfter,
                                 counting_tokens());
  ASSERT_TRUE(entries.has_value());
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_EQ((*entries)[0].rua, "mailto:a@example.com");
  EXPECT_EQ((*entries)[1].rua, "https://r.example.com/tlsrpt");
  EXPECT_EQ((*entries)[2].rua, "mailto:b@example.com");
  // The same report (same report-id) to both URIs of one record; its own for the other.
  EXPECT_EQ((*entries)[0].report, (*entries)[1].report);
  EXPECT_NE((*entries)[0].report.report_id, (*entries)[2].report.report_id);
  EXPECT_NE((*entries)[0].report.report_id.find("tok1"), std::string::npos);
  for (const OutboxEntry& e : *entries) {
    EXPECT_EQ(e.state, OutboxState::queued);
    EXPECT_EQ(e.next_attempt, kMidnightAfter + 1h);
    EXPECT_EQ(e.planned_at, kMidnightAfter);
    EXPECT_EQ(e.submitter, "example.net");
    EXPECT_EQ(e.attempts, 0u);
  }
}

TEST(OutboxPlan, RefusesWhatCannotBeReported) {
  auto no_origin = plan_deliveries({"", "", "example.net"}, {kDay, "example.com"}, day_with({{"mailto:a@example.com"}}),
                                   kMidnightAfter, kMidnightAfter, counting_tokens());
  ASSERT_FALSE(no_origin.has_value());
  EXPECT_EQ(no_origin.error().error, ReportError::bad_origin);
  auto nothing = plan_deliveries(kOrigin, {kDay, "example.com"}, DomainDay{}, kMidnightAfter, kMidnightAfter,
                                 counting_tokens());
  ASSERT_FALSE(nothing.has_value());
  EXPECT_EQ(nothing.error().error, ReportError::no_policies);
}

TEST(OutboxPlan, FanOutIsCapped) {
  std::vector<std::string> many;
  for (int i = 0; i < 150; ++i) many.push_back("mailto:r" + std::to_string(i) + "@example.com");
  auto entries = plan_deliveries(kOrigin, {kDay, "example.com"}, day_with({many}), kMidnightAfter, kMidnightAfter,
                                 counting_tokens());
  ASSERT_TRUE(entries.has_value());
  EXPECT_EQ(entries->size(), kMaxDeliveriesPerDomainDay);
}

TEST(OutboxSchedule, FirstSendIsSpreadOverTheDelayAfterTheDayEnds) {
  EXPECT_EQ(first_send_time(kDay, 4h, 0.0), kMidnightAfter);
  EXPECT_EQ(first_send_time(kDay, 4h, 0.5), kMidnightAfter + 2h);
  EXPECT_LE(first_send_time(kDay, 4h, 0.99999), kMidnightAfter + 4h);
  EXPECT_EQ(first_send_time(kDay, 0s, 0.7), kMidnightAfter);
  EXPECT_EQ(first_send_time(kDay, 4h, 7.0), kMidnightAfter + 4h);  // out-of-range fraction clamped
}

TEST(OutboxClaim, QueuedEntryIsClaimedOnlyWhenDue) {
  OutboxEntry e = planned_entry();
  e.next_attempt = kMidnightAfter + 1h;
  EXPECT_EQ(claim(e, kMidnightAfter + 59min, rules()), ClaimOutcome::not_due);
  EXPECT_EQ(e.state, OutboxState::queued);
  ASSERT_EQ(claim(e, kMidnightAfter + 1h, rules()), ClaimOutcome::claimed);
  EXPECT_EQ(e.state, OutboxState::sending);
  EXPECT_EQ(e.attempts, 1u);
  EXPECT_EQ(e.first_attempt, kMidnightAfter + 1h);
  EXPECT_EQ(e.claimed_by, 100);
  EXPECT_EQ(e.lease_until, kMidnightAfter + 1h + 6min);
  EXPECT_EQ(next_attention(e), kMidnightAfter + 1h + 6min);
}

TEST(OutboxClaim, ALiveClaimantKeepsItsEntryUntilTheLeaseRunsOut) {
  OutboxEntry e = planned_entry();
  ASSERT_EQ(claim(e, kMidnightAfter, rules(100)), ClaimOutcome::claimed);
  EXPECT_EQ(claim(e, kMidnightAfter + 5min, rules(200, true)), ClaimOutcome::not_due);
  EXPECT_EQ(e.claimed_by, 100);
  // Hung past its lease: taken over, the attempt counted as interrupted.
  ASSERT_EQ(claim(e, kMidnightAfter + 6min, rules(200, true)), ClaimOutcome::taken_over);
  EXPECT_EQ(e.claimed_by, 200);
  EXPECT_EQ(e.attempts, 2u);
  EXPECT_EQ(e.first_attempt, kMidnightAfter);  // the retry period still counts from the first
  EXPECT_NE(e.last_result.find("interrupted"), std::string::npos);
}

TEST(OutboxClaim, ADeadClaimantsEntryIsTakenOverAtOnceWithTheSameReport) {
  OutboxEntry e = planned_entry();
  const TlsRptReport report = e.report;
  ASSERT_EQ(claim(e, kMidnightAfter, rules(100)), ClaimOutcome::claimed);
  ASSERT_EQ(claim(e, kMidnightAfter + 1s, rules(200, false)), ClaimOutcome::taken_over);
  EXPECT_NE(e.last_result.find("process 100"), std::string::npos);
  EXPECT_EQ(e.claimed_by, 200);
  EXPECT_EQ(e.report, report);
}

TEST(OutboxClaim, AnInterruptedAttemptAfterTheRetryPeriodGivesUp) {
  OutboxEntry e = planned_entry();
  ASSERT_EQ(claim(e, kMidnightAfter, rules(100)), ClaimOutcome::claimed);
  EXPECT_EQ(claim(e, kMidnightAfter + 24h, rules(200, false)), ClaimOutcome::gave_up);
  EXPECT_EQ(e.state, OutboxState::failed);
  EXPECT_EQ(e.finished_at, kMidnightAfter + 24h);
  EXPECT_EQ(next_attention(e), std::nullopt);
  EXPECT_EQ(claim(e, kMidnightAfter + 25h, rules(200)), ClaimOutcome::finished);
}

TEST(OutboxResult, DeliveredAndPermanentAreFinal) {
  OutboxEntry a = planned_entry();
  ASSERT_EQ(claim(a, kMidnightAfter, rules()), ClaimOutcome::claimed);
  record_attempt(a, kDelivered, kMidnightAfter + 2s, 24h);
  EXPECT_EQ(a.state, OutboxState::delivered);
  EXPECT_EQ(a.last_result, "250 2.0.0 Ok: queued as ABC");
  EXPECT_EQ(a.finished_at, kMidnightAfter + 2s);
  EXPECT_EQ(a.claimed_by, 0);
  EXPECT_EQ(claim(a, kMidnightAfter + 1h, rules()), ClaimOutcome::finished);

  OutboxEntry p = planned_entry();
  ASSERT_EQ(claim(p, kMidnightAfter, rules()), ClaimOutcome::claimed);
  record_attempt(p, kPermanent, kMidnightAfter + 2s, 24h);
  EXPECT_EQ(p.state, OutboxState::failed);
  EXPECT_EQ(p.last_result, "permanent failure: 550 no such user");
}

TEST(OutboxResult, TemporaryFailuresBackOffExponentiallyWithinTheRetryPeriod) {
  OutboxEntry e = planned_entry();
  util::TimePoint now = kMidnightAfter;
  std::vector<std::chrono::seconds> delays;
  for (;;) {
    ASSERT_EQ(claim(e, now, rules()), ClaimOutcome::claimed);
    record_attempt(e, kTemporary, now, 24h);
    if (e.state == OutboxState::failed) break;
    ASSERT_EQ(e.state, OutboxState::queued);
    EXPECT_EQ(e.last_result, "temporary failure: 421 busy");
    delays.push_back(std::chrono::duration_cast<std::chrono::seconds>(e.next_attempt - now));
    now = e.next_attempt;
    ASSERT_LT(delays.size(), 50u);
  }
  ASSERT_GE(delays.size(), 8u);
  EXPECT_EQ(delays[0], 5min);
  EXPECT_EQ(delays[1], 10min);
  EXPECT_EQ(delays[2], 20min);
  EXPECT_EQ(delays[5], 160min);
  EXPECT_EQ(delays[6], 4h);  // capped
  // The last attempt is made at the end of the period, then it is given up.
  EXPECT_EQ(now, kMidnightAfter + 24h);
  EXPECT_EQ(e.finished_at, kMidnightAfter + 24h);
}

TEST(OutboxMakeDue, BringsQueuedAndFailedForwardAndDeliveredOnlyOnRequest) {
  OutboxEntry q = planned_entry();
  q.next_attempt = kMidnightAfter + 3h;
  EXPECT_TRUE(make_due(q, kMidnightAfter, false));
  EXPECT_EQ(q.next_attempt, kMidnightAfter);

  OutboxEntry f = planned_entry();
  ASSERT_EQ(claim(f, kMidnightAfter, rules()), ClaimOutcome::claimed);
  record_attempt(f, kPermanent, kMidnightAfter, 24h);
  EXPECT_TRUE(make_due(f, kMidnightAfter + 30h, false));
  EXPECT_EQ(f.state, OutboxState::queued);
  EXPECT_EQ(f.first_attempt, std::nullopt);  // a fresh retry period
  EXPECT_EQ(f.finished_at, std::nullopt);

  OutboxEntry d = planned_entry();
  const std::string id = d.report.report_id;
  ASSERT_EQ(claim(d, kMidnightAfter, rules()), ClaimOutcome::claimed);
  EXPECT_FALSE(make_due(d, kMidnightAfter, true));  // sending: left alone
  record_attempt(d, kDelivered, kMidnightAfter, 24h);
  EXPECT_FALSE(make_due(d, kMidnightAfter, false));
  EXPECT_EQ(d.state, OutboxState::delivered);
  EXPECT_TRUE(make_due(d, kMidnightAfter, true));
  EXPECT_EQ(d.state, OutboxState::queued);
  EXPECT_EQ(d.report.report_id, id);  // a resend carries the same report-id
}

TEST(OutboxEncoding, EntriesRoundTrip) {
  OutboxEntry e = planned_entry();
  EXPECT_EQ(decode_outbox_entry(encode_outbox_entry(e)).value(), e);
  ASSERT_EQ(claim(e, kMidnightAfter, rules()), ClaimOutcome::claimed);
  record_attempt(e, kTemporary, kMidnightAfter + 3s, 24h);
  EXPECT_EQ(decode_outbox_entry(encode_outbox_entry(e)).value(), e);
  ASSERT_EQ(claim(e, e.next_attempt, rules()), ClaimOutcome::claimed);
  EXPECT_EQ(decode_outbox_entry(encode_outbox_entry(e)).value(), e);
  record_attempt(e, kDelivered, e.next_attempt, 24h);
  EXPECT_EQ(decode_outbox_entry(encode_outbox_entry(e)).value(), e);
}

TEST(OutboxEncoding, CorruptValuesAreErrorsNotExceptions) {
  const std::string good = encode_outbox_entry(planned_entry());
  for (const std::string& bad : {std::string(""), std::string("[]"), std::string("{\"v\":2}"), good.substr(0, 40),
                                std::string("{\"v\":1,\"rua\":1}")}) {
    EXPECT_FALSE(decode_outbox_entry(bad).has_value()) << bad;
  }
  std::string unknown_state = good;
  unknown_state.replace(unknown_state.find("\"queued\""), 8, "\"lost\"");
  auto decoded = decode_outbox_entry(unknown_state);
  ASSERT_FALSE(decoded.has_value());
  EXPECT_NE(decoded.error().detail.find("lost"), std::string::npos);
}

TEST(OutboxEncoding, KeysSortByDayAndRoundTrip) {
  const OutboxKey key{{kDay, "example.com"}, 7};
  EXPECT_EQ(encode_outbox_key(key), "2024-04-01/example.com/007");
  EXPECT_EQ(decode_outbox_key("2024-04-01/example.com/007").value(), key);
  EXPECT_EQ(outbox_key_prefix({kDay, "example.com"}), "2024-04-01/example.com/");
  for (const char* bad : {"2024-04-01/example.com", "2024-04-01/example.com/7", "2024-04-01/example.com/100",
                          "2024-04-01/Example.com/001", "x/example.com/001", "2024-04-01/example.com/0a1"})
    EXPECT_FALSE(decode_outbox_key(bad).has_value()) << bad;
}

}  // namespace outbox_entry_test
}  // namespace mtastsd::core

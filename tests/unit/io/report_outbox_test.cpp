// The TLS-RPT delivery queue on a temporary LMDB environment: planning from the counts
// (once per day and domain, only finished days, a refusing planner leaves it unplanned),
// claims that keep another claimant off and never take an attempt still in flight, filters
// that do not mix up domains sharing a prefix, make_due, listing, pruning, and persistence
// across a reopen.
#include "io/report_outbox.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include "io/tlsrpt_store.hpp"

namespace mtastsd::io {
namespace report_outbox_test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using core::DomainDayKey;
using core::UtcDay;

const UtcDay kDay1 = *UtcDay::parse("2024-04-01");
const UtcDay kDay2 = *UtcDay::parse("2024-04-02");
const UtcDay kDay3 = *UtcDay::parse("2024-04-03");
const util::TimePoint kNow = kDay3.start() + 1h;
const core::ReportOrigin kOrigin{"Example Mail", "tlsrpt@example.net", "example.net"};

KeyedSession session(UtcDay day, std::string domain) {
  core::SessionEvent e;
  e.report_domain = domain;
  e.tlsrpt_record = "v=TLSRPTv1; rua=mailto:tlsrpt@" + domain + ",https://r." + domain + "/";
  e.policy = {core::PolicyType::sts, {"version: STSv1", "mode: enforce"}, domain, {"mail." + domain}};
  return KeyedSession{DomainDayKey{day, domain}, std::move(e)};
}

DeliveryPlanner planner(util::TimePoint send_at = kNow) {
  return [=, n = 0](const DomainDayKey& key, const core::DomainDay& day) mutable
             -> std::expected<std::vector<core::OutboxEntry>, std::string> {
    auto entries = core::plan_deliveries(kOrigin, key, day, send_at, kNow, [&] { return "t" + std::to_string(++n); });
    if (!entries) return std::unexpected(std::string(core::to_string(entries.error().error)));
    return std::move(*entries);
  };
}

core::ClaimRules rules(std::int64_t claimant) {
  return core::ClaimRules{24h, 10min, claimant, [](std::int64_t) { return true; }};
}

class ReportOutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "report_outbox_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    open();
    auto merged = counts_->merge({session(kDay1, "example.com"), session(kDay1, "example.community"),
                                  session(kDay2, "example.com"), session(kDay3, "example.com")});
    ASSERT_TRUE(merged.has_value());
  }
  void TearDown() override { fs::remove_all(root_); }

  void open() {
    outbox_.reset();
    counts_.reset();
    env_.reset();
    auto env = StoreEnv::open(StoreSettings{(root_ / "state").string(), 8u << 20, false});
    ASSERT_TRUE(env.has_value()) << env.error().detail;
    env_ = *env;
    counts_ = std::move(TlsrptStore::open(env_).value());
    outbox_ = std::move(ReportOutbox::open(env_).value());
  }

  std::vector<StoredEntry> all(const OutboxFilter& filter = {}) {
    std::vector<StoredEntry> out;
    auto ok = outbox_->for_each(
        [&](std::string_view key, const std::expected<StoredEntry, StoreError>& e) {
          EXPECT_TRUE(e.has_value()) << key;
          if (e) out.push_back(*e);
        },
        filter);
    EXPECT_TRUE(ok.has_value());
    return out;
  }

  fs::path root_;
  std::shared_ptr<StoreEnv> env_;
  std::unique_ptr<TlsrptStore> counts_;
  std::unique_ptr<ReportOutbox> outbox_;
};

TEST_F(ReportOutboxTest, PlansFinishedDaysOnceEach) {
  auto plan = outbox_->plan(kDay3, planner());
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(plan->planned.size(), 3u);  // day 1 (two domains) and day 2; day 3 is not over
  EXPECT_TRUE(plan->problems.empty());
  const auto entries = all();
  ASSERT_EQ(entries.size(), 6u);  // two URIs each
  EXPECT_EQ(core::encode_outbox_key(entries[0].key), "2024-04-01/example.com/000");
  EXPECT_EQ(entries[0].entry.rua, "mailto:tlsrpt@example.com");
  EXPECT_EQ(core::encode_outbox_key(entries[1].key), "2024-04-01/example.com/001");
  EXPECT_EQ(entries[1].entry.rua, "https://r.example.com/");

  auto again = outbox_->plan(kDay3, planner());
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(again->planned.empty());
  EXPECT_EQ(all().size(), 6u);
  EXPECT_EQ(all()[0].entry.report.report_id, entries[0].entry.report.report_id);
}

TEST_F(ReportOutboxTest, ARefusingPlannerLeavesTheDayForLater) {
  DeliveryPlanner refuse = [](const DomainDayKey&, const core::DomainDay&)
      -> std::expected<std::vector<core::OutboxEntry>, std::string> { return std::unexpected("no origin"); };
  auto plan = outbox_->plan(kDay2, refuse);
  ASSERT_TRUE(plan.has_value());
  EXPECT_TRUE(plan->planned.empty());
  ASSERT_EQ(plan->problems.size(), 2u);
  EXPECT_EQ(plan->problems[0], "2024-04-01/example.com: no origin");
  EXPECT_TRUE(all().empty());
  EXPECT_EQ(outbox_->plan(kDay2, planner())->planned.size(), 2u);
}

TEST_F(ReportOutboxTest, ADomainFilterDoesNotMatchALongerDomain) {
  const OutboxFilter only{kDay1, "example.com"};
  auto plan = outbox_->plan(kDay3, planner(), only);
  ASSERT_TRUE(plan.has_value());
  ASSERT_EQ(plan->planned.size(), 1u);
  EXPECT_EQ(plan->planned[0].report_domain, "example.com");
  EXPECT_EQ(outbox_->plan(kDay3, planner(), {kDay1, "example.community"})->planned.size(), 1u);
  EXPECT_EQ(all(only).size(), 2u);
  EXPECT_EQ(all({kDay1, std::nullopt}).size(), 4u);

  auto claims = outbox_->claim_due(kNow, rules(1), 10, only);
  ASSERT_TRUE(claims.has_value());
  ASSERT_EQ(claims->claimed.size(), 2u);
  for (const auto& c : claims->claimed) EXPECT_EQ(c.key.day.report_domain, "example.com");
}

TEST_F(ReportOutboxTest, ClaimsKeepOtherClaimantsOffAndResultsPersist) {
  ASSERT_TRUE(outbox_->plan(kDay2, planner(kNow + 1h)).has_value());
  auto early = outbox_->claim_due(kNow, rules(1), 10);
  ASSERT_TRUE(early.has_value());
  EXPECT_TRUE(early->claimed.empty());
  EXPECT_EQ(early->next_attention, kNow + 1h);

  auto claims = outbox_->claim_due(kNow + 1h, rules(1), 3);
  ASSERT_TRUE(claims.has_value());
  ASSERT_EQ(claims->claimed.size(), 3u);
  EXPECT_EQ(claims->next_attention, kNow + 1h);  // the fourth, left for the next round

  // Another claimant (process 2; LMDB forbids a second handle in one process, so the
  // same one) finds the claims and takes only the rest.
  auto rest = outbox_->claim_due(kNow + 1h, rules(2), 10);
  ASSERT_TRUE(rest.has_value());
  ASSERT_EQ(rest->claimed.size(), 1u);
  EXPECT_EQ(rest->next_attention, kNow + 1h + 10min);  // the leases of process 1

  StoredEntry done = claims->claimed[0];
  core::record_attempt(done.entry, core::Delivered{"250 ok"}, kNow + 1h, 24h);
  ASSERT_TRUE(outbox_->record(done).has_value());
  open();
  const auto entries = all();
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries[0].entry.state, core::OutboxState::delivered);
  EXPECT_EQ(entries[0].entry.last_result, "250 ok");
  EXPECT_EQ(entries[1].entry.state, core::OutboxState::sending);
}

TEST_F(ReportOutboxTest, AnAttemptInFlightIsNotClaimedAgainWhenItsLeaseRunsOut) {
  ASSERT_TRUE(outbox_->plan(kDay2, planner()).has_value());
  auto first = outbox_->claim_due(kNow, rules(1), 1);
  ASSERT_TRUE(first.has_value());
  ASSERT_EQ(first->claimed.size(), 1u);
  const std::string running = core::encode_outbox_key(first->claimed[0].key);

  // Past the lease (an attempt waiting behind others, or a clock step): the claimant's own
  // attempt still runs, so it is skipped, and does not set the next attention either.
  auto later = outbox_->claim_due(kNow + 1h, rules(1), 10, {}, {running});
  ASSERT_TRUE(later.has_value());
  ASSERT_EQ(later->claimed.size(), 3u);
  for (const auto& c : later->claimed) EXPECT_NE(core::encode_outbox_key(c.key), running);
  EXPECT_EQ(later->next_attention, std::nullopt);
  EXPECT_EQ(all()[0].entry.attempts, 1u);

  // Once it is no longer in flight (its result could not be stored), the lease rule applies.
  auto after = outbox_->claim_due(kNow + 2h, rules(1), 10);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->claimed.size(), 4u);
  EXPECT_EQ(after->claimed[0].entry.attempts, 2u);
}

TEST_F(ReportOutboxTest, MakeDueSelectsByFilterAndResendsOnlyWhenAsked) {
  ASSERT_TRUE(outbox_->plan(kDay2, planner(kNow + 3h)).has_value());
  auto claims = outbox_->claim_due(kNow + 3h, rules(1), 1);
  ASSERT_TRUE(claims.has_value());
  StoredEntry done = claims->claimed.at(0);
  core::record_attempt(done.entry, core::Delivered{"250 ok"}, kNow + 3h, 24h);
  ASSERT_TRUE(outbox_->record(done).has_value());

  auto due = outbox_->make_due(kNow, false, {kDay1, "example.com"});
  ASSERT_TRUE(due.has_value());
  EXPECT_EQ(*due, 1u);  // the other one of that day and domain; the delivered stays
  EXPECT_EQ(*outbox_->make_due(kNow, true, {kDay1, "example.com"}), 2u);
  EXPECT_EQ(all({kDay1, "example.com"})[0].entry.state, core::OutboxState::queued);
  EXPECT_EQ(all({kDay1, "example.community"})[0].entry.next_attempt, kNow + 3h);
}

TEST_F(ReportOutboxTest, PruneDeletesFinishedEntriesOfOldDaysOnly) {
  ASSERT_TRUE(outbox_->plan(kDay3, planner()).has_value());
  auto claims = outbox_->claim_due(kNow, rules(1), 10);
  ASSERT_TRUE(claims.has_value());
  ASSERT_EQ(claims->claimed.size(), 6u);
  for (std::size_t i = 0; i < claims->claimed.size(); ++i) {
    StoredEntry& s = claims->claimed[i];
    // The second entry of day 1 is still being retried.
    const core::DeliveryResult result =
        i == 1 ? core::DeliveryResult(std::unexpected(core::DeliveryFailure{core::DeliveryError::temporary, "451"}))
               : core::DeliveryResult(core::Delivered{"250 ok"});
    core::record_attempt(s.entry, result, kNow, 24h);
    ASSERT_TRUE(outbox_->record(s).has_value());
  }
  auto pruned = outbox_->prune_days(kDay2);
  ASSERT_TRUE(pruned.has_value());
  EXPECT_EQ(*pruned, 3u);
  const auto entries = all();
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(core::encode_outbox_key(entries[0].key), "2024-04-01/example.com/001");
  EXPECT_EQ(entries[0].entry.state, core::OutboxState::queued);
  EXPECT_EQ(entries[1].key.day.day, kDay2);
}

TEST_F(ReportOutboxTest, ReadOnlyHandleListsButDoesNotWrite) {
  ASSERT_TRUE(outbox_->plan(kDay3, planner()).has_value());
  auto env = StoreEnv::open(StoreSettings{(root_ / "state").string(), 8u << 20, true});
  ASSERT_TRUE(env.has_value());
  auto ro = std::move(ReportOutbox::open(*env).value());
  std::size_t seen = 0;
  ASSERT_TRUE(ro->for_each([&](std::string_view, const auto&) { ++seen; }).has_value());
  EXPECT_EQ(seen, 6u);
  auto claim = ro->claim_due(kNow, rules(3), 10);
  ASSERT_FALSE(claim.has_value());
  EXPECT_EQ(claim.error().kind, StoreErrorKind::read_only);
}

}  // namespace report_outbox_test
}  // namespace mtastsd::io

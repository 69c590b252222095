// The aggregator on a real LMDB environment in a temporary directory and a fixed
// clock: sessions wait in memory until flush() writes them in one batch with the
// log positions, log sessions get their policy from the policy cache, a failing
// policy fetch fails the sessions made meanwhile (RFC 8461 sec. 6), sessions to
// testing-mode domains take the MX validation's verdict (issue 5), and pruning
// keeps tlsrpt.retention_days before today.
#include "daemon/tlsrpt_aggregator.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <boost/asio/io_context.hpp>
#include "core/cache_rules.hpp"

namespace mtastsd::daemon {
namespace tlsrpt_aggregator_test {

namespace fs = std::filesystem;
using core::DomainDayKey;
using core::PolicyType;

const util::TimePoint kNow = util::from_unix(1'711'972'800);  // 2024-04-01T12:00:00Z
const core::UtcDay kToday = core::UtcDay::containing(kNow);
constexpr const char* kRecord = "v=TLSRPTv1; rua=mailto:tlsrpt@example.com";

core::SessionEvent datagram_session(PolicyType type, bool failed = false) {
  core::SessionEvent e;
  e.report_domain = "example.com";
  e.tlsrpt_record = kRecord;
  e.policy.type = type;
  e.policy.domain = "example.com";
  e.failed = failed;
  e.mx_hostname = "mail.example.com";
  return e;
}

// What the Postfix log correlator produces: no policy, record filled in later.
core::SessionEvent log_session() {
  core::SessionEvent e = datagram_session(PolicyType::unknown);
  e.policy.domain = "example.com";
  return e;
}

class AggregatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "tlsrpt_aggregator_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    auto env = io::StoreEnv::open({(root_ / "state").string(), 8u << 20, false});
    ASSERT_TRUE(env.has_value()) << env.error().detail;
    env_ = *env;
    policies_ = std::move(io::PolicyStore::open(env_).value());
    validations_ = std::move(io::MxValidationStore::open(env_).value());
    store_ = std::move(io::TlsrptStore::open(env_).value());
    config_ = default_config();
  }
  void TearDown() override {
    store_.reset();
    validations_.reset();
    policies_.reset();
    env_.reset();
    fs::remove_all(root_);
  }

  TlsrptAggregator make() {
    return TlsrptAggregator(io_.get_executor(), config_, *policies_, *validations_, *store_, [this] { return now_; });
  }
  std::optional<core::DomainDay> today(const std::string& domain = "example.com") {
    return store_->get(DomainDayKey{kToday, domain}).value();
  }

  boost::asio::io_context io_;  // never run: the aggregator's only timer is its warning's
  fs::path root_;
  std::shared_ptr<io::StoreEnv> env_;
  std::unique_ptr<io::PolicyStore> policies_;
  std::unique_ptr<io::MxValidationStore> validations_;
  std::unique_ptr<io::TlsrptStore> store_;
  Config config_;
  util::TimePoint now_ = kNow;
};

TEST_F(AggregatorTest, SessionsWaitForTheFlushAndCountOnce) {
  TlsrptAggregator aggregator = make();
  aggregator.add(datagram_session(PolicyType::sts));
  aggregator.add(datagram_session(PolicyType::sts, true));
  EXPECT_EQ(aggregator.pending(), 2u);
  EXPECT_FALSE(today().has_value());  // nothing written before the flush

  EXPECT_EQ(aggregator.flush(), 2u);
  EXPECT_EQ(aggregator.pending(), 0u);
  auto day = today();
  ASSERT_TRUE(day.has_value());
  ASSERT_EQ(day->policies.size(), 1u);
  EXPECT_EQ(day->policies[0].successful_sessions, 1u);
  EXPECT_EQ(day->policies[0].failed_sessions, 1u);
  EXPECT_EQ(aggregator.flush(), 0u);  // an empty flush writes nothing again
  EXPECT_EQ(today()->policies[0].successful_sessions, 1u);
  EXPECT_EQ(aggregator.stats().counted, 2u);
}

TEST_F(AggregatorTest, TheDayIsTheUtcDayOfArrival) {
  TlsrptAggregator aggregator = make();
  now_ = kToday.last_second();
  aggregator.add(datagram_session(PolicyType::sts));
  now_ = kToday.last_second() + std::chrono::seconds(1);
  aggregator.add(datagram_session(PolicyType::sts));
  aggregator.flush();
  EXPECT_EQ(today()->policies[0].successful_sessions, 1u);
  const core::UtcDay tomorrow{kToday.days_since_epoch + 1};
  EXPECT_EQ(store_->get(DomainDayKey{tomorrow, "example.com"}).value()->policies[0].successful_sessions, 1u);
}

TEST_F(AggregatorTest, LogSessionsTakeTheCachedPolicy) {
  core::CacheRecord record;
  record.policy_id = "A";
  record.policy_text = "version: STSv1\nmode: enforce\nmx: mail.example.com\nmax_age: 86400\n";
  record.policy = core::parse_sts_policy(record.policy_text).value();
  record.valid_until = kNow + std::chrono::hours(1);
  ASSERT_TRUE(policies_->put("example.com", record));

  TlsrptAggregator aggregator = make();
  aggregator.add(log_session());
  aggregator.flush();
  auto day = today();
  ASSERT_TRUE(day && day->policies.size() == 1);
  EXPECT_EQ(day->policies[0].policy.type, PolicyType::sts);
  EXPECT_EQ(day->policies[0].policy.mx_hosts, std::vector<std::string>{"mail.example.com"});
  EXPECT_EQ(day->policies[0].policy.strings, record.policy.lines);
}

TEST_F(AggregatorTest, LogSessionsWithoutACachedPolicyAreNoPolicyFound) {
  TlsrptAggregator aggregator = make();
  aggregator.add(log_session());
  aggregator.flush();
  EXPECT_EQ(today()->policies.at(0).policy.type, PolicyType::no_policy_found);
}

// RFC 8461 sec. 6: the TXT record is valid, the policy cannot be fetched; Postfix
// (answered NOTFOUND) reports no-policy-found successes.
TEST_F(AggregatorTest, AFailingPolicyFetchFailsTheSessions) {
  const core::TxtOutcome txt{core::TxtStatus::found, "B", util::Seconds(300), ""};
  const core::CacheRecord failing = core::apply_fetch_failure(
      nullptr, txt, core::FetchFailed{core::FailureType::sts_policy_fetch_error, "HTTP 404"}, kNow, {});
  ASSERT_TRUE(policies_->put("example.com", failing));

  TlsrptAggregator aggregator = make();
  aggregator.add(datagram_session(PolicyType::no_policy_found));
  aggregator.add(datagram_session(PolicyType::tlsa));  // DANE applied: MTA-STS has no say
  aggregator.flush();
  auto day = today();
  ASSERT_TRUE(day && day->policies.size() == 2);
  const core::PolicyAggregate& sts = day->policies[0];
  EXPECT_EQ(sts.policy.type, PolicyType::sts);
  EXPECT_EQ(sts.successful_sessions, 0u);
  EXPECT_EQ(sts.failed_sessions, 1u);
  ASSERT_EQ(sts.failure_details.size(), 1u);
  EXPECT_EQ(sts.failure_details[0].detail.result_type, core::FailureType::sts_policy_fetch_error);
  EXPECT_EQ(sts.failure_details[0].detail.failure_reason_code, "HTTP 404");
  EXPECT_EQ(day->policies[1].policy.type, PolicyType::tlsa);
  EXPECT_EQ(day->policies[1].successful_sessions, 1u);
  EXPECT_EQ(aggregator.stats().policy_failures, 1u);
}

// Issue 5: Postfix was answered NOTFOUND for a testing-mode domain and reports
// no-policy-found; mtastsd's validation of the MX host decides.
TEST_F(AggregatorTest, TestingModeSessionsTakeTheMxValidationsVerdict) {
  core::CacheRecord record;
  record.policy_id = "T";
  record.policy_text = "version: STSv1\nmode: testing\nmx: mail.example.com\nmax_age: 86400\n";
  record.policy = core::parse_sts_policy(record.policy_text).value();
  record.valid_until = kNow + std::chrono::hours(1);
  ASSERT_TRUE(policies_->put("example.com", record));
  const core::MxCheck expired{.address = "192.0.2.25",
                              .checked_at = kNow,
                              .outcome = core::MxOutcome::failed,
                              .failure = core::FailureType::certificate_expired,
                              .detail = "certificate expired",
                              .helo = "mail.example.com"};
  ASSERT_TRUE(validations_->put("example.com", {.checked_at = kNow, .policy_id = "T",
                                                .hosts = {{"mail.example.com", {expired}}}}));

  TlsrptAggregator aggregator = make();
  core::SessionEvent datagram = datagram_session(PolicyType::no_policy_found);
  datagram.mx_hostname.clear();  // a successful session's datagram names no MX host
  aggregator.add(datagram);
  aggregator.add(log_session());  // no policy answered: no-policy-found, then the same verdict
  aggregator.flush();
  auto day = today();
  ASSERT_TRUE(day && day->policies.size() == 1);
  const core::PolicyAggregate& sts = day->policies[0];
  EXPECT_EQ(sts.policy.type, PolicyType::sts);
  EXPECT_EQ(sts.policy.strings, record.policy.lines);
  EXPECT_EQ(sts.policy.mx_hosts, std::vector<std::string>{"mail.example.com"});
  EXPECT_EQ(sts.successful_sessions, 0u);
  EXPECT_EQ(sts.failed_sessions, 2u);
  ASSERT_EQ(sts.failure_details.size(), 1u);
  const core::FailureDetail& detail = sts.failure_details[0].detail;
  EXPECT_EQ(detail.result_type, core::FailureType::certificate_expired);
  EXPECT_EQ(detail.receiving_mx_hostname, "mail.example.com");
  EXPECT_EQ(detail.receiving_ip, "192.0.2.25");
  EXPECT_EQ(detail.failure_reason_code, "certificate expired");
  EXPECT_EQ(aggregator.stats().validation_failures, 2u);

  // A validation that passed: counted under the sts policy, successful.
  ASSERT_TRUE(validations_->put("example.com",
                                {.checked_at = kNow, .policy_id = "T",
                                 .hosts = {{"mail.example.com", {{.address = "192.0.2.25",
                                                                  .checked_at = kNow,
                                                                  .outcome = core::MxOutcome::ok}}}}}));
  aggregator.add(datagram);
  aggregator.flush();
  EXPECT_EQ(today()->policies.at(0).successful_sessions, 1u);
  EXPECT_EQ(aggregator.stats().validation_failures, 2u);

  // Validation off: Postfix's report stands.
  config_.mx_validation.enabled = false;
  TlsrptAggregator without = make();
  without.add(datagram);
  without.flush();
  ASSERT_EQ(today()->policies.size(), 2u);
  EXPECT_EQ(today()->policies[1].policy.type, PolicyType::no_policy_found);
}

// Enforce-mode domains are Postfix's to report, whatever mtastsd validated.
TEST_F(AggregatorTest, EnforceModeSessionsKeepPostfixsPolicy) {
  core::CacheRecord record;
  record.policy_id = "E";
  record.policy_text = "version: STSv1\nmode: enforce\nmx: mail.example.com\nmax_age: 86400\n";
  record.policy = core::parse_sts_policy(record.policy_text).value();
  record.valid_until = kNow + std::chrono::hours(1);
  ASSERT_TRUE(policies_->put("example.com", record));
  ASSERT_TRUE(validations_->put("example.com", {.checked_at = kNow, .policy_id = "E",
                                                .hosts = {{"mail.example.com", {core::not_in_policy_check(kNow)}}}}));
  TlsrptAggregator aggregator = make();
  aggregator.add(datagram_session(PolicyType::no_policy_found));
  aggregator.flush();
  EXPECT_EQ(today()->policies.at(0).policy.type, PolicyType::no_policy_found);
  EXPECT_EQ(today()->policies.at(0).successful_sessions, 1u);
  EXPECT_EQ(aggregator.stats().validation_failures, 0u);
}

TEST_F(AggregatorTest, UncountableSessionsAreRejectedNotWritten) {
  TlsrptAggregator aggregator = make();
  core::SessionEvent bad_domain = datagram_session(PolicyType::sts);
  bad_domain.report_domain = "not a domain";
  aggregator.add(bad_domain);
  core::SessionEvent bad_record = datagram_session(PolicyType::sts);
  bad_record.tlsrpt_record = "v=TLSRPTv1; rua=ftp://example.com/";
  aggregator.add(bad_record);
  aggregator.add(datagram_session(PolicyType::sts));
  EXPECT_EQ(aggregator.flush(), 1u);
  EXPECT_EQ(aggregator.stats().rejected, 2u);
  EXPECT_EQ(today()->policies.at(0).successful_sessions, 1u);
}

TEST_F(AggregatorTest, PositionsAreStoredWithTheNextFlush) {
  TlsrptAggregator aggregator = make();
  aggregator.set_position("/var/log/mail.log", {1, 2, 10});
  aggregator.add(datagram_session(PolicyType::sts));
  aggregator.set_position("/var/log/mail.log", {1, 2, 20});  // the latest one wins
  EXPECT_FALSE(store_->get_position("/var/log/mail.log").value().has_value());
  aggregator.flush();
  EXPECT_EQ(store_->get_position("/var/log/mail.log").value(), (io::LogPosition{1, 2, 20}));
}

TEST_F(AggregatorTest, AFloodIsFlushedEarly) {
  TlsrptAggregator aggregator = make();
  for (std::size_t i = 0; i < kMaxPendingSessions; ++i) aggregator.add(datagram_session(PolicyType::sts));
  EXPECT_EQ(aggregator.pending(), 0u);
  EXPECT_EQ(today()->policies.at(0).successful_sessions, kMaxPendingSessions);
}

TEST_F(AggregatorTest, PruneKeepsRetentionDaysBeforeToday) {
  config_.tlsrpt.retention_days = 2;
  for (const int days_ago : {3, 2, 0}) {
    now_ = kNow - std::chrono::days(days_ago);
    TlsrptAggregator aggregator = make();
    aggregator.add(datagram_session(PolicyType::sts));
    aggregator.flush();
  }
  ASSERT_TRUE(store_->put_record("old.example", {kRecord, kNow - std::chrono::seconds(1)}));
  ASSERT_TRUE(store_->put_record("new.example", {kRecord, kNow + std::chrono::hours(1)}));
  now_ = kNow;
  make().prune();
  const auto on = [&](int days_ago) {
    return store_->get(DomainDayKey{core::UtcDay{kToday.days_since_epoch - days_ago}, "example.com"})
        .value()
        .has_value();
  };
  EXPECT_FALSE(on(3));
  EXPECT_TRUE(on(2));
  EXPECT_TRUE(on(0));
  EXPECT_FALSE(store_->get_record("old.example").value().has_value());
  EXPECT_TRUE(store_->get_record("new.example").value().has_value());
}

}  // namespace tlsrpt_aggregator_test
}  // namespace mtastsd::daemon

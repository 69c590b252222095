// The TLS-RPT tables on a temporary directory: sessions merged per (day, domain)
// in one transaction per batch, all or nothing (a full map), log positions
// committed with their batch, listing and pruning by day, the TLSRPT record
// cache, persistence, and the environment shared with the policy cache.
#include "io/tlsrpt_store.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include "io/policy_store.hpp"
#include "util/lmdb.hpp"

namespace mtastsd::io {
namespace tlsrpt_store_test {

namespace fs = std::filesystem;
using core::DomainDayKey;
using core::UtcDay;

const UtcDay kDay1 = *UtcDay::parse("2024-04-01");
const UtcDay kDay2 = *UtcDay::parse("2024-04-02");
const UtcDay kDay3 = *UtcDay::parse("2024-04-03");
constexpr const char* kRecord = "v=TLSRPTv1; rua=mailto:tlsrpt@example.com";

core::SessionEvent session(std::string domain, bool failed, std::string reason = "") {
  core::SessionEvent e;
  e.report_domain = domain;
  e.tlsrpt_record = kRecord;
  e.policy.type = core::PolicyType::sts;
  e.policy.domain = domain;
  e.policy.strings = {"version: STSv1", "mode: enforce"};
  e.policy.mx_hosts = {"mail." + domain};
  e.failed = failed;
  if (failed) {
    core::FailureDetail d;
    d.result_type = core::FailureType::certificate_host_mismatch;
    d.receiving_mx_hostname = "mail." + domain;
    d.failure_reason_code = std::move(reason);
    e.failure_details.push_back(std::move(d));
  }
  return e;
}

KeyedSession keyed(UtcDay day, std::string domain, bool failed, std::string reason = "") {
  return KeyedSession{DomainDayKey{day, domain}, session(domain, failed, std::move(reason))};
}

class TlsrptStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "tlsrpt_store_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    dir_ = (root_ / "state").string();
  }
  void TearDown() override { fs::remove_all(root_); }

  std::shared_ptr<StoreEnv> open_env(bool read_only = false, std::size_t map_size = 8u << 20) {
    auto env = StoreEnv::open(StoreSettings{dir_, map_size, read_only});
    EXPECT_TRUE(env.has_value()) << env.error().detail;
    return env ? *env : nullptr;
  }
  std::unique_ptr<TlsrptStore> open_store(bool read_only = false, std::size_t map_size = 8u << 20) {
    auto env = open_env(read_only, map_size);
    if (!env) return nullptr;
    auto store = TlsrptStore::open(env);
    EXPECT_TRUE(store.has_value()) << store.error().detail;
    return store ? std::move(*store) : nullptr;
  }

  // The single aggregate of (day, domain), which every test session shares.
  static core::PolicyAggregate only_policy(TlsrptStore& store, UtcDay day, const std::string& domain) {
    auto got = store.get(DomainDayKey{day, domain});
    EXPECT_TRUE(got.has_value()) << got.error().detail;
    if (!got || !*got || (*got)->policies.size() != 1) {
      ADD_FAILURE() << "expected one aggregate for " << day.to_string() << "/" << domain;
      return {};
    }
    return (*got)->policies[0];
  }

  fs::path root_;
  std::string dir_;
};

TEST_F(TlsrptStoreTest, MergeCountsSessionsPerDayAndDomain) {
  auto store = open_store();
  ASSERT_TRUE(store);
  auto report = store->merge({keyed(kDay1, "example.com", false), keyed(kDay1, "example.com", true, "mismatch"),
                              keyed(kDay1, "example.com", true, "mismatch"), keyed(kDay1, "example.net", false),
                              keyed(kDay2, "example.com", false)});
  ASSERT_TRUE(report.has_value()) << report.error().detail;
  EXPECT_EQ(report->merged, 5u);
  EXPECT_TRUE(report->rejected.empty());

  const auto com = only_policy(*store, kDay1, "example.com");
  EXPECT_EQ(com.successful_sessions, 1u);
  EXPECT_EQ(com.failed_sessions, 2u);
  ASSERT_EQ(com.failure_details.size(), 1u);
  EXPECT_EQ(com.failure_details[0].sessions, 2u);
  EXPECT_EQ(com.rua, std::vector<std::string>{"mailto:tlsrpt@example.com"});
  EXPECT_EQ(only_policy(*store, kDay1, "example.net").successful_sessions, 1u);
  EXPECT_EQ(only_policy(*store, kDay2, "example.com").successful_sessions, 1u);
  EXPECT_FALSE(store->get(DomainDayKey{kDay2, "example.net"}).value().has_value());
}

TEST_F(TlsrptStoreTest, LaterBatchesAddToStoredCountsAndSurviveReopen) {
  {
    auto store = open_store();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->merge({keyed(kDay1, "example.com", false), keyed(kDay1, "example.com", true, "a")}));
    ASSERT_TRUE(store->merge({keyed(kDay1, "example.com", false), keyed(kDay1, "example.com", true, "b")}));
  }
  auto store = open_store();
  ASSERT_TRUE(store);
  const auto com = only_policy(*store, kDay1, "example.com");
  EXPECT_EQ(com.successful_sessions, 2u);
  EXPECT_EQ(com.failed_sessions, 2u);
  ASSERT_EQ(com.failure_details.size(), 2u);
  EXPECT_EQ(com.failure_details[0].detail.failure_reason_code, "a");
  EXPECT_EQ(com.failure_details[1].detail.failure_reason_code, "b");
}

TEST_F(TlsrptStoreTest, RejectedSessionsAreReportedAndTheOthersCount) {
  auto store = open_store();
  ASSERT_TRUE(store);
  KeyedSession unresolved = keyed(kDay1, "example.com", false);
  unresolved.event.policy.type = core::PolicyType::unknown;
  KeyedSession no_record = keyed(kDay1, "example.org", false);
  no_record.event.tlsrpt_record.clear();
  auto report = store->merge({unresolved, keyed(kDay1, "example.com", false), no_record});
  ASSERT_TRUE(report.has_value()) << report.error().detail;
  EXPECT_EQ(report->merged, 1u);
  ASSERT_EQ(report->rejected.size(), 2u);
  EXPECT_EQ(report->rejected[0].error, core::AggregateError::unresolved_policy_type);
  EXPECT_EQ(report->rejected[1].error, core::AggregateError::no_tlsrpt_record);
  EXPECT_EQ(only_policy(*store, kDay1, "example.com").successful_sessions, 1u);
  // A key none of whose sessions counted is not written at all.
  EXPECT_FALSE(store->get(DomainDayKey{kDay1, "example.org"}).value().has_value());
}

// One transaction per batch: a batch that does not fit counts nothing, and the
// log position sent with it does not move.
TEST_F(TlsrptStoreTest, ABatchThatFailsCountsNothingAndKeepsThePosition) {
  auto store = open_store(false, 1u << 20);
  ASSERT_TRUE(store);
  const LogPosition before{1, 2, 300};
  ASSERT_TRUE(store->merge({keyed(kDay1, "example.com", false)}, {{"/var/log/mail.log", before}}));

  std::vector<KeyedSession> huge;
  for (int i = 0; i < 3000; ++i)
    huge.push_back(keyed(kDay1, "d" + std::to_string(i) + ".example", true, std::string(500, 'x')));
  huge.push_back(keyed(kDay1, "example.com", false));
  auto failed = store->merge(huge, {{"/var/log/mail.log", LogPosition{1, 2, 999}}});
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().kind, StoreErrorKind::map_full);

  EXPECT_EQ(only_policy(*store, kDay1, "example.com").successful_sessions, 1u);
  EXPECT_FALSE(store->get(DomainDayKey{kDay1, "d0.example"}).value().has_value());
  EXPECT_EQ(store->get_position("/var/log/mail.log").value(), before);
  // The store stays usable.
  ASSERT_TRUE(store->merge({keyed(kDay1, "example.com", false)}));
  EXPECT_EQ(only_policy(*store, kDay1, "example.com").successful_sessions, 2u);
}

TEST_F(TlsrptStoreTest, PositionsAreStoredPerSource) {
  auto store = open_store();
  ASSERT_TRUE(store);
  EXPECT_FALSE(store->get_position("/var/log/mail.log").value().has_value());
  ASSERT_TRUE(store->merge({}, {{"/var/log/mail.log", LogPosition{8, 1234567, 42}}, {"/other.log", {9, 1, 0}}}));
  EXPECT_EQ(store->get_position("/var/log/mail.log").value(), (LogPosition{8, 1234567, 42}));
  EXPECT_EQ(store->get_position("/other.log").value(), (LogPosition{9, 1, 0}));
}

TEST_F(TlsrptStoreTest, ForEachWalksDaysInOrderAndCanKeepToOneDay) {
  auto store = open_store();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->merge({keyed(kDay2, "b.example", false), keyed(kDay1, "z.example", false),
                            keyed(kDay2, "a.example", false), keyed(kDay3, "a.example", false)}));
  std::vector<std::string> all;
  ASSERT_TRUE(store->for_each([&](const DomainDayKey& key, const auto& day) {
    EXPECT_TRUE(day.has_value());
    all.push_back(core::encode_domain_day_key(key));
    return true;
  }));
  EXPECT_EQ(all, (std::vector<std::string>{"2024-04-01/z.example", "2024-04-02/a.example", "2024-04-02/b.example",
                                           "2024-04-03/a.example"}));
  std::vector<std::string> day2;
  ASSERT_TRUE(store->for_each(
      [&](const DomainDayKey& key, const auto&) {
        day2.push_back(key.report_domain);
        return true;
      },
      kDay2));
  EXPECT_EQ(day2, (std::vector<std::string>{"a.example", "b.example"}));
  int visited = 0;
  ASSERT_TRUE(store->for_each([&](const DomainDayKey&, const auto&) { return ++visited < 2; }));
  EXPECT_EQ(visited, 2);
}

TEST_F(TlsrptStoreTest, PruneDeletesDaysBeforeTheFirstKept) {
  auto store = open_store();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->merge({keyed(kDay1, "a.example", false), keyed(kDay1, "zz.example", false),
                            keyed(kDay2, "a.example", false), keyed(kDay3, "a.example", false)}));
  EXPECT_EQ(store->prune_days(kDay2).value(), 2u);
  EXPECT_EQ(store->prune_days(kDay2).value(), 0u);
  EXPECT_FALSE(store->get(DomainDayKey{kDay1, "zz.example"}).value().has_value());
  EXPECT_TRUE(store->get(DomainDayKey{kDay2, "a.example"}).value().has_value());
  EXPECT_TRUE(store->get(DomainDayKey{kDay3, "a.example"}).value().has_value());
}

TEST_F(TlsrptStoreTest, CorruptStoredDayIsReportedAndStartedAfresh) {
  auto env = open_env();
  ASSERT_TRUE(env);
  auto store = TlsrptStore::open(env);
  ASSERT_TRUE(store.has_value());
  {
    auto table = env->table("tlsrpt_days");
    ASSERT_TRUE(table && *table);
    auto txn = util::lmdb::Txn::begin(env->env(), util::lmdb::Txn::Mode::write);
    ASSERT_TRUE(txn);
    ASSERT_TRUE(util::lmdb::put(*txn, **table, "2024-04-01/example.com", "{not json"));
    ASSERT_TRUE(txn->commit());
  }
  auto got = (*store)->get(DomainDayKey{kDay1, "example.com"});
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().kind, StoreErrorKind::corrupt);

  auto report = (*store)->merge({keyed(kDay1, "example.com", false)});
  ASSERT_TRUE(report.has_value());
  ASSERT_EQ(report->corrupt_days.size(), 1u);
  EXPECT_NE(report->corrupt_days[0].find("2024-04-01/example.com"), std::string::npos);
  EXPECT_EQ(only_policy(**store, kDay1, "example.com").successful_sessions, 1u);
}

TEST_F(TlsrptStoreTest, RecordCacheStoresPrunesAndToleratesGarbage) {
  auto store = open_store();
  ASSERT_TRUE(store);
  const auto now = util::from_unix(1'700'000'000);
  EXPECT_FALSE(store->get_record("example.com").value().has_value());
  const CachedTlsrptRecord with{kRecord, now + std::chrono::hours(1)};
  const CachedTlsrptRecord without{"", now - std::chrono::seconds(1)};
  ASSERT_TRUE(store->put_record("example.com", with));
  ASSERT_TRUE(store->put_record("none.example", without));
  EXPECT_EQ(store->get_record("example.com").value(), with);
  EXPECT_EQ(store->get_record("none.example").value(), without);
  EXPECT_EQ(store->prune_records(now).value(), 1u);
  EXPECT_FALSE(store->get_record("none.example").value().has_value());
  EXPECT_EQ(store->get_record("example.com").value(), with);
}

// LMDB allows one environment per file and process: both tables live in the one
// the daemon opens.
TEST_F(TlsrptStoreTest, SharesTheEnvironmentWithThePolicyStore) {
  {
    auto env = open_env();
    ASSERT_TRUE(env);
    auto policies = PolicyStore::open(env);
    ASSERT_TRUE(policies.has_value()) << policies.error().detail;
    auto tlsrpt = TlsrptStore::open(env);
    ASSERT_TRUE(tlsrpt.has_value()) << tlsrpt.error().detail;
    core::CacheRecord record;
    record.policy_id = "A";
    ASSERT_TRUE((*policies)->put("example.com", record));
    ASSERT_TRUE((*tlsrpt)->merge({keyed(kDay1, "example.com", false)}));
  }
  auto env = open_env(true);
  ASSERT_TRUE(env);
  auto policies = PolicyStore::open(env);
  ASSERT_TRUE(policies.has_value());
  EXPECT_EQ((*policies)->get("example.com").value()->policy_id, "A");
  auto tlsrpt = TlsrptStore::open(env);
  ASSERT_TRUE(tlsrpt.has_value());
  EXPECT_EQ(only_policy(**tlsrpt, kDay1, "example.com").successful_sessions, 1u);
}

// mtastsctl on the environment of a daemon that predates TLS-RPT: nothing counted.
TEST_F(TlsrptStoreTest, ReadOnlyWithoutTheTablesIsEmptyAndRefusesWrites) {
  ASSERT_TRUE(PolicyStore::open(StoreSettings{dir_, 1u << 20, false}).has_value());
  auto store = open_store(true);
  ASSERT_TRUE(store);
  EXPECT_FALSE(store->get(DomainDayKey{kDay1, "example.com"}).value().has_value());
  EXPECT_FALSE(store->get_record("example.com").value().has_value());
  EXPECT_FALSE(store->get_position("/var/log/mail.log").value().has_value());
  int visited = 0;
  ASSERT_TRUE(store->for_each([&](const DomainDayKey&, const auto&) { return ++visited > 0; }));
  EXPECT_EQ(visited, 0);
  auto merged = store->merge({keyed(kDay1, "example.com", false)});
  ASSERT_FALSE(merged.has_value());
  EXPECT_EQ(merged.error().kind, StoreErrorKind::read_only);
  auto pruned = store->prune_days(kDay2);
  ASSERT_FALSE(pruned.has_value());
  EXPECT_EQ(pruned.error().kind, StoreErrorKind::read_only);
}

}  // namespace tlsrpt_store_test
}  // namespace mtastsd::io

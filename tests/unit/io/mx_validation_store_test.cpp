// The MX validation table on a temporary directory: values stored per domain and
// read back, a corrupt value reported as such, pruning by the time of the last run,
// the environment shared with the policy cache, and a read-only handle on an
// environment without the table (mtastsctl on an older daemon's state).
#include "io/mx_validation_store.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include "io/policy_store.hpp"
#include "util/lmdb.hpp"

namespace mtastsd::io {
namespace mx_validation_store_test {

namespace fs = std::filesystem;

const util::TimePoint T0 = util::from_unix(1'700'000'000);

core::MxValidations sample(util::TimePoint at, core::MxOutcome outcome = core::MxOutcome::ok) {
  core::MxCheck check{.address = "192.0.2.1", .checked_at = at, .outcome = outcome, .helo = "mail.example.com"};
  if (outcome == core::MxOutcome::failed) {
    check.failure = core::FailureType::certificate_expired;
    check.detail = "certificate expired";
  }
  return core::MxValidations{.checked_at = at, .policy_id = "pol1", .hosts = {{"mail.example.com", {check}}}};
}

class MxValidationStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "mx_validation_store_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    dir_ = (root_ / "state").string();
  }
  void TearDown() override { fs::remove_all(root_); }

  std::shared_ptr<StoreEnv> open_env(bool read_only = false) {
    auto env = StoreEnv::open(StoreSettings{dir_, 8u << 20, read_only});
    EXPECT_TRUE(env.has_value()) << env.error().detail;
    return env ? *env : nullptr;
  }
  std::unique_ptr<MxValidationStore> open_store(std::shared_ptr<StoreEnv> env) {
    auto store = MxValidationStore::open(std::move(env));
    EXPECT_TRUE(store.has_value()) << store.error().detail;
    return store ? std::move(*store) : nullptr;
  }

  fs::path root_;
  std::string dir_;
};

TEST_F(MxValidationStoreTest, StoresPerDomainAndReplaces) {
  auto store = open_store(open_env());
  ASSERT_TRUE(store);
  EXPECT_FALSE(store->get("example.com").value().has_value());
  ASSERT_TRUE(store->put("example.com", sample(T0)));
  ASSERT_TRUE(store->put("other.example", sample(T0, core::MxOutcome::failed)));
  EXPECT_EQ(store->get("example.com").value(), sample(T0));
  EXPECT_EQ(store->get("other.example").value(), sample(T0, core::MxOutcome::failed));
  ASSERT_TRUE(store->put("example.com", sample(T0 + std::chrono::hours(1), core::MxOutcome::unreachable)));
  EXPECT_EQ(store->get("example.com").value(), sample(T0 + std::chrono::hours(1), core::MxOutcome::unreachable));
}

TEST_F(MxValidationStoreTest, CorruptValueIsReportedAndPruned) {
  auto env = open_env();
  ASSERT_TRUE(env);
  auto store = open_store(env);
  ASSERT_TRUE(store);
  {
    auto table = env->table("mx_validations");
    ASSERT_TRUE(table && *table);
    auto txn = util::lmdb::Txn::begin(env->env(), util::lmdb::Txn::Mode::write);
    ASSERT_TRUE(txn);
    ASSERT_TRUE(util::lmdb::put(*txn, **table, "example.com", "{\"v\":99}"));
    ASSERT_TRUE(txn->commit());
  }
  auto got = store->get("example.com");
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().kind, StoreErrorKind::corrupt);
  EXPECT_NE(got.error().detail.find("unsupported format 99"), std::string::npos) << got.error().detail;
  EXPECT_EQ(store->prune(T0).value(), 1u);
  EXPECT_FALSE(store->get("example.com").value().has_value());
}

TEST_F(MxValidationStoreTest, PruneDeletesDomainsLastValidatedBefore) {
  auto store = open_store(open_env());
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->put("old.example", sample(T0 - std::chrono::seconds(1))));
  ASSERT_TRUE(store->put("kept.example", sample(T0)));
  EXPECT_EQ(store->prune(T0).value(), 1u);
  EXPECT_FALSE(store->get("old.example").value().has_value());
  EXPECT_TRUE(store->get("kept.example").value().has_value());
  EXPECT_EQ(store->prune(T0).value(), 0u);
}

TEST_F(MxValidationStoreTest, SharesTheEnvironmentAndReadOnlyHandlesSeeIt) {
  {
    auto env = open_env();
    ASSERT_TRUE(env);
    auto policies = PolicyStore::open(env);
    ASSERT_TRUE(policies.has_value());
    auto store = open_store(env);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->put("example.com", sample(T0)));
  }
  auto store = open_store(open_env(true));
  ASSERT_TRUE(store);
  EXPECT_EQ(store->get("example.com").value(), sample(T0));
  auto put = store->put("example.com", sample(T0));
  ASSERT_FALSE(put.has_value());
  EXPECT_EQ(put.error().kind, StoreErrorKind::read_only);
}

// mtastsctl on the environment of a daemon that predates MX validation: nothing validated.
TEST_F(MxValidationStoreTest, ReadOnlyWithoutTheTableIsEmptyAndRefusesWrites) {
  ASSERT_TRUE(PolicyStore::open(StoreSettings{dir_, 1u << 20, false}).has_value());
  auto store = open_store(open_env(true));
  ASSERT_TRUE(store);
  EXPECT_FALSE(store->get("example.com").value().has_value());
  auto pruned = store->prune(T0);
  ASSERT_FALSE(pruned.has_value());
  EXPECT_EQ(pruned.error().kind, StoreErrorKind::read_only);
}

}  // namespace mx_validation_store_test
}  // namespace mtastsd::io

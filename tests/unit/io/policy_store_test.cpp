// The LMDB policy store on a temporary directory: CRUD, persistence, a full map,
// corrupt values, files that are not LMDB, and a read-only reader in another
// process (as mtastsctl is) seeing the writer's commits.
#include "io/policy_store.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>
#include "util/lmdb.hpp"

namespace mtastsd::io {
namespace policy_store_test {

namespace fs = std::filesystem;

core::CacheRecord record(std::string id, std::size_t text_size = 64) {
  core::CacheRecord r;
  r.policy_id = std::move(id);
  r.policy_text = std::string(text_size, 'x');
  r.policy.mode = core::StsMode::enforce;
  r.policy.max_age = 86400;
  r.policy.mx = {"mx.example.com"};
  r.valid_until = util::from_unix(1'700'086'400);
  return r;
}

class PolicyStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "policy_store_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    dir_ = (root_ / "state").string();
  }
  void TearDown() override { fs::remove_all(root_); }

  std::unique_ptr<PolicyStore> open_store(bool read_only = false, std::size_t map_size = 1u << 20) {
    auto store = PolicyStore::open(StoreSettings{dir_, map_size, read_only});
    EXPECT_TRUE(store.has_value()) << store.error().detail;
    return store ? std::move(*store) : nullptr;
  }

  std::string db_path() const { return dir_ + "/cache.mdb"; }

  fs::path root_;
  std::string dir_;
};

TEST_F(PolicyStoreTest, CreatesStateDirectoryWithMode0750) {
  auto store = open_store();
  ASSERT_TRUE(store);
  struct stat st {};
  ASSERT_EQ(::stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  EXPECT_TRUE(fs::exists(db_path()));
  EXPECT_TRUE(fs::exists(db_path() + "-lock"));
}

TEST_F(PolicyStoreTest, PutGetEraseCount) {
  auto store = open_store();
  ASSERT_TRUE(store);
  auto missing = store->get("example.com");
  ASSERT_TRUE(missing.has_value()) << missing.error().detail;
  EXPECT_FALSE(missing->has_value());

  ASSERT_TRUE(store->put("example.com", record("A")).has_value());
  ASSERT_TRUE(store->put("example.net", record("N")).has_value());
  auto got = store->get("example.com");
  ASSERT_TRUE(got.has_value()) << got.error().detail;
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->policy_id, "A");
  EXPECT_EQ((*got)->policy.mx, std::vector<std::string>{"mx.example.com"});
  EXPECT_EQ(store->count().value(), 2u);

  // Overwrite replaces.
  ASSERT_TRUE(store->put("example.com", record("B")).has_value());
  EXPECT_EQ(store->get("example.com").value()->policy_id, "B");
  EXPECT_EQ(store->count().value(), 2u);

  EXPECT_TRUE(store->erase("example.com").value());
  EXPECT_FALSE(store->erase("example.com").value());
  EXPECT_FALSE(store->get("example.com").value().has_value());
  EXPECT_EQ(store->count().value(), 1u);
}

TEST_F(PolicyStoreTest, EraseAllReportsHowMany) {
  auto store = open_store();
  ASSERT_TRUE(store);
  for (const char* d : {"a.example", "b.example", "c.example"}) ASSERT_TRUE(store->put(d, record(d)).has_value());
  EXPECT_EQ(store->erase_all().value(), 3u);
  EXPECT_EQ(store->count().value(), 0u);
  EXPECT_EQ(store->erase_all().value(), 0u);
  ASSERT_TRUE(store->put("d.example", record("D")).has_value());  // the table is still there
  EXPECT_EQ(store->count().value(), 1u);
}

TEST_F(PolicyStoreTest, ForEachVisitsInKeyOrderAndCanStop) {
  auto store = open_store();
  ASSERT_TRUE(store);
  for (const char* d : {"c.example", "a.example", "b.example"}) ASSERT_TRUE(store->put(d, record(d)).has_value());

  std::vector<std::string> seen;
  auto all = store->for_each([&](std::string_view domain, const auto& r) {
    EXPECT_TRUE(r.has_value());
    if (r) {
      EXPECT_EQ(r->policy_id, domain);
    }
    seen.emplace_back(domain);
    return true;
  });
  ASSERT_TRUE(all.has_value()) << all.error().detail;
  EXPECT_EQ(seen, (std::vector<std::string>{"a.example", "b.example", "c.example"}));

  seen.clear();
  ASSERT_TRUE(store->for_each([&](std::string_view domain, const auto&) {
    seen.emplace_back(domain);
    return seen.size() < 2;
  }));
  EXPECT_EQ(seen.size(), 2u);
}

// Slices of two walk every record once, in order, each starting after the last
// one seen, even when the record it stopped at is deleted between slices.
TEST_F(PolicyStoreTest, SlicesWalkEveryRecordOnce) {
  auto store = open_store();
  ASSERT_TRUE(store);
  for (const char* d : {"e.example", "c.example", "a.example", "d.example", "b.example"})
    ASSERT_TRUE(store->put(d, record(d)).has_value());

  std::vector<std::string> seen;
  const auto visit = [&](std::string_view domain, const auto& r) {
    EXPECT_TRUE(r.has_value());
    seen.emplace_back(domain);
  };
  auto first = store->for_each_slice("", 2, visit);
  ASSERT_TRUE(first.has_value()) << first.error().detail;
  EXPECT_EQ(*first, std::optional<std::string>("b.example"));
  ASSERT_TRUE(store->erase("b.example").value());
  auto second = store->for_each_slice(**first, 2, visit);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(*second, std::optional<std::string>("d.example"));
  auto last = store->for_each_slice(**second, 2, visit);
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(*last, std::nullopt);
  EXPECT_EQ(seen, (std::vector<std::string>{"a.example", "b.example", "c.example", "d.example", "e.example"}));

  // A slice starting after the last key, or at a key that sorts between two, is well defined.
  seen.clear();
  EXPECT_EQ(store->for_each_slice("e.example", 2, visit).value(), std::nullopt);
  EXPECT_TRUE(seen.empty());
  EXPECT_EQ(store->for_each_slice("c.f", 1, visit).value(), std::optional<std::string>("d.example"));
  EXPECT_EQ(seen, (std::vector<std::string>{"d.example"}));
}

TEST_F(PolicyStoreTest, ForEachCallbackMayWrite) {
  auto store = open_store();
  ASSERT_TRUE(store);
  for (const char* d : {"a.example", "b.example"}) ASSERT_TRUE(store->put(d, record(d)).has_value());
  // The refresher drops records while scanning.
  std::size_t visited = 0;
  ASSERT_TRUE(store->for_each([&](std::string_view domain, const auto&) {
    ++visited;
    EXPECT_TRUE(store->erase(domain).value());
    return true;
  }));
  EXPECT_EQ(visited, 2u);
  EXPECT_EQ(store->count().value(), 0u);
}

TEST_F(PolicyStoreTest, PersistsAcrossReopen) {
  {
    auto store = open_store();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->put("example.com", record("A")).has_value());
    store->sync();
  }
  auto store = open_store();
  ASSERT_TRUE(store);
  auto got = store->get("example.com");
  ASSERT_TRUE(got.has_value() && got->has_value());
  EXPECT_EQ((*got)->policy_id, "A");
}

TEST_F(PolicyStoreTest, MapFullRefusesTheWriteAndKeepsTheStoreUsable) {
  std::size_t written = 0;
  {
    auto store = open_store(false, 64u << 10);  // 16 pages
    ASSERT_TRUE(store);
    std::optional<StoreError> failure;
    for (int i = 0; i < 100 && !failure; ++i) {
      auto put = store->put("d" + std::to_string(i) + ".example", record("id" + std::to_string(i), 3000));
      if (put)
        ++written;
      else
        failure = put.error();
    }
    ASSERT_TRUE(failure.has_value()) << "a 64 KiB map never filled";
    EXPECT_EQ(failure->kind, StoreErrorKind::map_full) << failure->detail;
    EXPECT_NE(failure->detail.find("MDB_MAP_FULL"), std::string::npos) << failure->detail;
    ASSERT_GT(written, 0u);
    // The failed transaction was aborted: earlier records are intact and readable.
    EXPECT_EQ(store->count().value(), written);
    EXPECT_EQ(store->get("d0.example").value()->policy_id, "id0");
    EXPECT_FALSE(store->get("d" + std::to_string(written) + ".example").value().has_value());
  }
  // A larger map_size (the operator's fix) makes room again.
  auto store = open_store(false, 1u << 20);
  ASSERT_TRUE(store);
  EXPECT_TRUE(store->put("more.example", record("M", 3000)).has_value());
  EXPECT_EQ(store->count().value(), written + 1);
}

TEST_F(PolicyStoreTest, CorruptRecordIsReportedNotFatal) {
  {
    auto store = open_store();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->put("good.example", record("G")).has_value());
  }
  {  // Write a value that is not a cache record, behind the store's back.
    auto env = util::lmdb::Env::open({.path = db_path(), .flags = MDB_NOSUBDIR, .max_dbs = 8});
    ASSERT_TRUE(env.has_value()) << env.error().message;
    auto txn = util::lmdb::Txn::begin(*env, util::lmdb::Txn::Mode::write);
    ASSERT_TRUE(txn.has_value());
    auto db = util::lmdb::open_db(*txn, "policies", 0);
    ASSERT_TRUE(db.has_value());
    ASSERT_TRUE(util::lmdb::put(*txn, *db, "bad.example", "\x01garbage{").has_value());
    ASSERT_TRUE(txn->commit().has_value());
  }
  auto store = open_store();
  ASSERT_TRUE(store);
  auto bad = store->get("bad.example");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().kind, StoreErrorKind::corrupt);
  EXPECT_NE(bad.error().detail.find("bad.example"), std::string::npos) << bad.error().detail;
  EXPECT_EQ(store->get("good.example").value()->policy_id, "G");  // the reader survives the error

  std::vector<std::pair<std::string, StoreErrorKind>> errors;
  std::size_t good = 0;
  ASSERT_TRUE(store->for_each([&](std::string_view domain, const auto& r) {
    if (r)
      ++good;
    else
      errors.emplace_back(domain, r.error().kind);
    return true;
  }));
  EXPECT_EQ(good, 1u);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].first, "bad.example");
  EXPECT_EQ(errors[0].second, StoreErrorKind::corrupt);
  // Overwriting repairs it.
  ASSERT_TRUE(store->put("bad.example", record("R")).has_value());
  EXPECT_EQ(store->get("bad.example").value()->policy_id, "R");
}

void write_garbage(const std::string& path) {
  std::ofstream out(path, std::ios::binary);
  for (int i = 0; i < 512; ++i) out << "this is not an LMDB database\n";
}

TEST_F(PolicyStoreTest, GarbageFileIsReportedCorrupt) {
  fs::create_directories(dir_);
  write_garbage(db_path());
  auto store = PolicyStore::open(StoreSettings{dir_, 1u << 20, false});
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().kind, StoreErrorKind::corrupt);
  EXPECT_NE(store.error().detail.find("is not an LMDB database"), std::string::npos) << store.error().detail;

  auto reader = PolicyStore::open(StoreSettings{dir_, 0, true});
  ASSERT_FALSE(reader.has_value());
  EXPECT_EQ(reader.error().kind, StoreErrorKind::corrupt);
  EXPECT_NE(reader.error().detail.find("is not an LMDB database"), std::string::npos) << reader.error().detail;
  EXPECT_EQ(PolicyStore::data_file(dir_), db_path());
}

TEST_F(PolicyStoreTest, ReadOnlyWithoutCacheIsOpenFailedAndCreatesNothing) {
  auto reader = PolicyStore::open(StoreSettings{dir_, 0, true});
  ASSERT_FALSE(reader.has_value());
  EXPECT_EQ(reader.error().kind, StoreErrorKind::open_failed);
  EXPECT_NE(reader.error().detail.find("no cache at " + db_path()), std::string::npos) << reader.error().detail;
  EXPECT_FALSE(fs::exists(dir_));
}

TEST_F(PolicyStoreTest, ReadOnlyRefusesWrites) {
  open_store();  // create, then close
  auto reader = open_store(true);
  ASSERT_TRUE(reader);
  auto put = reader->put("example.com", record("A"));
  ASSERT_FALSE(put.has_value());
  EXPECT_EQ(put.error().kind, StoreErrorKind::read_only);
  auto erase = reader->erase("example.com");
  ASSERT_FALSE(erase.has_value());
  EXPECT_EQ(erase.error().kind, StoreErrorKind::read_only);
  auto erase_all = reader->erase_all();
  ASSERT_FALSE(erase_all.has_value());
  EXPECT_EQ(erase_all.error().kind, StoreErrorKind::read_only);
  EXPECT_EQ(reader->count().value(), 0u);
}

// The read-only side, run in a child process (LMDB forbids opening one
// environment twice in a process). Exit status 0 = all checks passed.
int read_only_child(const std::string& dir, int from_parent, int to_parent) {
  auto opened = PolicyStore::open(StoreSettings{dir, 0, true});
  if (!opened) return 10;
  PolicyStore& reader = **opened;
  auto a = reader.get("a.example");
  if (!a || !*a || (*a)->policy_id != "A") return 11;
  auto b = reader.get("b.example");
  if (!b || b->has_value()) return 12;
  char byte = 'r';
  if (::write(to_parent, &byte, 1) != 1) return 13;
  if (::read(from_parent, &byte, 1) != 1) return 14;  // the writer has committed b.example
  b = reader.get("b.example");                         // the reused read transaction sees it
  if (!b || !*b || (*b)->policy_id != "B") return 15;
  if (reader.count().value_or(0) != 2) return 16;
  return 0;
}

TEST_F(PolicyStoreTest, ReadOnlyHandleInAnotherProcessSeesWrites) {
  auto writer = open_store();
  ASSERT_TRUE(writer);
  ASSERT_TRUE(writer->put("a.example", record("A")).has_value());

  int to_child[2];
  int to_parent[2];
  ASSERT_EQ(::pipe(to_child), 0);
  ASSERT_EQ(::pipe(to_parent), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(to_child[1]);
    ::close(to_parent[0]);
    ::_exit(read_only_child(dir_, to_child[0], to_parent[1]));
  }
  ::close(to_child[0]);
  ::close(to_parent[1]);
  char byte = 0;
  const bool child_ready = ::read(to_parent[0], &byte, 1) == 1;  // EOF if the child failed early
  if (child_ready) {
    EXPECT_TRUE(writer->put("b.example", record("B")).has_value());
    EXPECT_EQ(::write(to_child[1], &byte, 1), 1);  // the child is blocked reading: no SIGPIPE
  }
  ::close(to_child[1]);
  ::close(to_parent[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "read_only_child failed check " << WEXITSTATUS(status);
  EXPECT_TRUE(child_ready);
}

TEST(StoreErrorKind, Names) {
  EXPECT_EQ(to_string(StoreErrorKind::map_full), "map_full");
  EXPECT_EQ(to_string(StoreErrorKind::corrupt), "corrupt");
  EXPECT_EQ(to_string(StoreErrorKind::open_failed), "open_failed");
  EXPECT_EQ(to_string(StoreErrorKind::read_only), "read_only");
  EXPECT_EQ(to_string(StoreErrorKind::io), "io");
}

}  // namespace policy_store_test
}  // namespace mtastsd::io

// The policy cache table in LMDB: key = domain name, value = encoded CacheRecord
// (core/cache_record), in the environment of io/store_env (file layout and flags
// are described there).
// get() keeps one read transaction and renews it per call (cheaper than a new
// one); MDB_NOTLS lets it move between threads, a mutex keeps it to one at a time.
// Read-only handles (mtastsctl while the daemon runs) refuse writes.
#include "io/policy_store.hpp"

#include <mutex>
#include "util/lmdb.hpp"

namespace mtastsd::io {
namespace {

namespace lmdb = util::lmdb;

constexpr const char* kPolicyTable = "policies";

// A stored value back to a record; one that does not decode is reported, not fatal.
std::expected<core::CacheRecord, StoreError> decode_value(std::string_view domain, std::string_view bytes) {
  auto record = core::decode_cache_record(bytes);
  if (!record) {
    return store_error(StoreErrorKind::corrupt,
                       "cache record for " + std::string(domain) + ": " + record.error().detail);
  }
  return std::move(*record);
}

}  // namespace

std::string PolicyStore::data_file(const std::string& directory) { return StoreEnv::data_file(directory); }

struct PolicyStore::Impl {
  // Declared first: destroyed last, after the reader transaction below is aborted.
  std::shared_ptr<StoreEnv> env;
  MDB_dbi policies;
  // get()'s read transaction, reset between calls so it pins no old snapshot.
  std::mutex reader_mutex;
  std::optional<lmdb::Txn> reader;

  Impl(std::shared_ptr<StoreEnv> e, MDB_dbi db) : env(std::move(e)), policies(db) {}
};

std::expected<std::unique_ptr<PolicyStore>, StoreError> PolicyStore::open(std::shared_ptr<StoreEnv> env) {
  auto db = env->table(kPolicyTable);
  if (!db) return std::unexpected(db.error());
  // Only a reader can miss it: the writer creates it.
  if (!*db) return store_error(StoreErrorKind::open_failed, env->path() + " has no \"" + kPolicyTable + "\" table");
  return std::unique_ptr<PolicyStore>(new PolicyStore(std::make_unique<Impl>(std::move(env), **db)));
}

std::expected<std::unique_ptr<PolicyStore>, StoreError> PolicyStore::open(const StoreSettings& settings) {
  auto env = StoreEnv::open(settings);
  if (!env) return std::unexpected(env.error());
  return open(std::move(*env));
}

PolicyStore::PolicyStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PolicyStore::~PolicyStore() = default;

std::expected<std::optional<core::CacheRecord>, StoreError> PolicyStore::get(std::string_view domain) {
  std::lock_guard lock(impl_->reader_mutex);
  if (impl_->reader) {
    if (auto renewed = impl_->reader->renew(); !renewed) {
      impl_->reader.reset();
      return impl_->env->failure("read", renewed.error());
    }
  } else {
    auto txn = lmdb::Txn::begin(impl_->env->env(), lmdb::Txn::Mode::read);
    if (!txn) return impl_->env->failure("read", txn.error());
    impl_->reader.emplace(std::move(*txn));
  }
  // The value points into the map: decode it before the snapshot is released.
  struct ResetOnExit {
    lmdb::Txn& txn;
    ~ResetOnExit() { txn.reset(); }
  } release{*impl_->reader};

  auto value = lmdb::get(*impl_->reader, impl_->policies, domain);
  if (!value) return impl_->env->failure("get " + std::string(domain), value.error());
  if (!*value) return std::optional<core::CacheRecord>{};
  auto record = decode_value(domain, **value);
  if (!record) return std::unexpected(std::move(record.error()));
  return std::optional<core::CacheRecord>(std::move(*record));
}

std::expected<void, StoreError> PolicyStore::put(std::string_view domain, const core::CacheRecord& record) {
  if (auto writable = impl_->env->refuse_if_read_only("put"); !writable) return writable;
  const std::string what = "put " + std::string(domain);
  const std::string bytes = core::encode_cache_record(record);
  // On any failure the transaction is aborted by its destructor; the store stays usable.
  auto txn = lmdb::Txn::begin(impl_->env->env(), lmdb::Txn::Mode::write);
  if (!txn) return impl_->env->failure(what, txn.error());
  if (auto written = lmdb::put(*txn, impl_->policies, domain, bytes); !written)
    return impl_->env->failure(what, written.error());
  if (auto committed = txn->commit(); !committed) return impl_->env->failure(what, committed.error());
  return {};
}

std::expected<bool, StoreError> PolicyStore::erase(std::string_view domain) {
  if (auto writable = impl_->env->refuse_if_read_only("erase"); !writable) return std::unexpected(writable.error());
  const std::string what = "erase " + std::string(domain);
  auto txn = lmdb::Txn::begin(impl_->env->env(), lmdb::Txn::Mode::write);
  if (!txn) return impl_->env->failure(what, txn.error());
  auto existed = lmdb::del(*txn, impl_->policies, domain);
  if (!existed) return impl_->env->failure(what, existed.error());
  if (!*existed) return false;  // nothing changed: the transaction is simply aborted
  if (auto committed = txn->commit(); !committed) return impl_->env->failure(what, committed.error());
  return true;
}

std::expected<std::size_t, StoreError> PolicyStore::erase_all() {
  if (auto writable = impl_->env->refuse_if_read_only("erase_all"); !writable) return std::unexpected(writable.error());
  auto txn = lmdb::Txn::begin(impl_->env->env(), lmdb::Txn::Mode::write);
  if (!txn) return impl_->env->failure("erase_all", txn.error());
  auto n = lmdb::entries(*txn, impl_->policies);
  if (!n) return impl_->env->failure("erase_all", n.error());
  if (auto cleared = lmdb::clear(*txn, impl_->policies); !cleared)
    return impl_->env->failure("erase_all", cleared.error());
  if (auto committed = txn->commit(); !committed) return impl_->env->failure("erase_all", committed.error());
  return *n;
}

std::expected<void, StoreError> PolicyStore::for_each(
    const std::function<bool(std::string_view domain, const std::expected<core::CacheRecord, StoreError>&)>& fn) {
  // Its own snapshot (not get()'s reader), so fn may call get/put/erase; it does not see its own writes.
  auto txn = lmdb::Txn::begin(impl_->env->env(), lmdb::Txn::Mode::read);
  if (!txn) return impl_->env->failure("scan", txn.error());
  auto cursor = lmdb::Cursor::open(*txn, impl_->policies);
  if (!cursor) return impl_->env->failure("scan", cursor.error());
  for (;;) {
    auto entry = cursor->next();
    if (!entry) return impl_->env->failure("scan", entry.error());
    if (!*entry) return {};
    const auto& [domain, bytes] = **entry;
    if (!fn(domain, decode_value(domain, bytes))) return {};
  }
}

std::expected<std::optional<std::string>, StoreError> PolicyStore::for_each_slice(std::string_view after,
                                                                                   std::size_t limit,
                                                                                   const Visitor& fn) {
  auto txn = lmdb::Txn::begin(impl_->env->env(), lmdb::Txn::Mode::read);
  if (!txn) return impl_->env->failure("scan", txn.error());
  auto cursor = lmdb::Cursor::open(*txn, impl_->policies);
  if (!cursor) return impl_->env->failure("scan", cursor.error());
  if (!after.empty()) {
    if (auto sought = cursor->seek_after(after); !sought) return impl_->env->failure("scan", sought.error());
  }
  for (std::size_t visited = 0; visited < limit; ++visited) {
    auto entry = cursor->next();
    if (!entry) return impl_->env->failure("scan", entry.error());
    if (!*entry) return std::optional<std::string>{};
    const auto& [domain, bytes] = **entry;
    fn(domain, decode_value(domain, bytes));
    if (visited + 1 == limit) return std::optional<std::string>(domain);
  }
  return std::optional<std::string>{};  // limit 0
}

std::expected<std::size_t, StoreError> PolicyStore::count() {
  auto txn = lmdb::Txn::begin(impl_->env->env(), lmdb::Txn::Mode::read);
  if (!txn) return impl_->env->failure("count", txn.error());
  auto n = lmdb::entries(*txn, impl_->policies);
  if (!n) return impl_->env->failure("count", n.error());
  return *n;
}

void PolicyStore::sync() { impl_->env->sync(); }

}  // namespace mtastsd::io

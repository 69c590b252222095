// The policy cache table in LMDB: key = domain name, value = encoded CacheRecord.
// Layout: one data file <directory>/cache.mdb plus LMDB's lock file
// cache.mdb-lock (MDB_NOSUBDIR), so the state directory can hold other files.
// Flags:
//  - MDB_NOSYNC: commits do not fsync. Committed pages are in the OS page cache,
//    so a crashed or killed (-9) daemon loses nothing; only an OS crash or power
//    loss can lose recent commits or, LMDB warns, damage the file. For a cache
//    that can be rebuilt from DNS/HTTPS that trade is right: every lookup that
//    writes would otherwise wait for the disk. The daemon calls sync() now and then
//    to bound the loss; after an OS crash the cache can be cleared safely.
//  - MDB_NOTLS: reader slots belong to transactions, not threads, so the reusable
//    read transaction of get() may move between threads (it is guarded by a mutex).
// Read-only handles (mtastsctl while the daemon runs) use MDB_RDONLY; they need
// write access to the lock file like any LMDB reader, and never create files, so
// an absent cache is reported instead of being created with the wrong owner.
// Limit: LMDB's locks are per process, so a process opens one PolicyStore per directory.
#include "io/policy_store.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cerrno>
#include <filesystem>
#include <mutex>
#include "util/lmdb.hpp"

namespace mtastsd::io {
namespace {

namespace lmdb = util::lmdb;
namespace fs = std::filesystem;

constexpr const char* kEnvFile = "cache.mdb";
constexpr const char* kPolicyTable = "policies";
constexpr unsigned kMaxTables = 8;  // "policies" now; TLS-RPT tables later
constexpr mode_t kFileMode = 0640;  // data and lock file: owner writes, group may read

std::unexpected<StoreError> store_error(StoreErrorKind kind, std::string detail) {
  return std::unexpected(StoreError{kind, std::move(detail)});
}

// An LMDB error during an operation on an open store.
std::unexpected<StoreError> lmdb_failure(const std::string& path, std::string_view what, const lmdb::Error& e) {
  const StoreErrorKind kind = e.code == MDB_MAP_FULL ? StoreErrorKind::map_full : StoreErrorKind::io;
  return store_error(kind, "cache " + path + ": " + std::string(what) + ": " + e.message);
}

// An LMDB error while opening, worded for the administrator.
std::unexpected<StoreError> open_failure(const std::string& path, const lmdb::Error& e) {
  switch (e.code) {
    case MDB_INVALID:
      return store_error(StoreErrorKind::corrupt,
                         path + " is not an LMDB database (move it away; mtastsd creates a new cache)");
    case MDB_VERSION_MISMATCH:
      return store_error(StoreErrorKind::corrupt, path + " was written by an incompatible LMDB version");
    case EACCES:
      return store_error(StoreErrorKind::open_failed,
                         path + ": permission denied (LMDB readers need write access to " + path + "-lock)");
    default:
      return store_error(StoreErrorKind::open_failed, "cannot open " + path + ": " + e.message);
  }
}

// The state directory, mode 0750 when we create it.
std::expected<void, StoreError> ensure_directory(const std::string& directory) {
  std::error_code ec;
  if (fs::create_directories(directory, ec)) {
    fs::permissions(directory, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec, ec);
  }
  if (ec) return store_error(StoreErrorKind::open_failed, "cannot create " + directory + ": " + ec.message());
  if (!fs::is_directory(directory, ec))
    return store_error(StoreErrorKind::open_failed, directory + " is not a directory");
  return {};
}

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

std::string PolicyStore::data_file(const std::string& directory) {
  return (fs::path(directory) / kEnvFile).string();
}

std::string_view to_string(StoreErrorKind k) {
  switch (k) {
    case StoreErrorKind::open_failed: return "open_failed";
    case StoreErrorKind::map_full: return "map_full";
    case StoreErrorKind::corrupt: return "corrupt";
    case StoreErrorKind::io: return "io";
    case StoreErrorKind::read_only: return "read_only";
  }
  return "io";
}

struct PolicyStore::Impl {
  std::string path;
  bool read_only;
  lmdb::Env env;
  MDB_dbi policies;
  // get()'s read transaction, reset between calls so it pins no old snapshot.
  // Declared after env: destroyed (aborted) before the environment closes.
  std::mutex reader_mutex;
  std::optional<lmdb::Txn> reader;

  std::expected<void, StoreError> refuse_if_read_only(std::string_view what) const {
    if (read_only) {
      return store_error(StoreErrorKind::read_only, "cache " + path + " is open read-only: " + std::string(what));
    }
    return {};
  }
};

std::expected<std::unique_ptr<PolicyStore>, StoreError> PolicyStore::open(const StoreSettings& settings) {
  const std::string path = data_file(settings.directory);
  lmdb::EnvOptions options{.path = path, .flags = MDB_NOSUBDIR | MDB_NOTLS, .max_dbs = kMaxTables, .mode = kFileMode};
  if (settings.read_only) {
    std::error_code ec;
    if (!fs::exists(path, ec) || !fs::exists(path + "-lock", ec))
      return store_error(StoreErrorKind::open_failed, "no cache at " + path + " (mtastsd creates it when it starts)");
    options.flags |= MDB_RDONLY;
  } else {
    if (auto dir = ensure_directory(settings.directory); !dir) return std::unexpected(dir.error());
    options.flags |= MDB_NOSYNC;
    options.map_size = settings.map_size;
  }

  auto env = lmdb::Env::open(options);
  if (!env) return open_failure(path, env.error());

  // The table: created by the writer, only looked up by a reader.
  auto txn = lmdb::Txn::begin(*env, settings.read_only ? lmdb::Txn::Mode::read : lmdb::Txn::Mode::write);
  if (!txn) return open_failure(path, txn.error());
  auto db = lmdb::open_db(*txn, kPolicyTable, settings.read_only ? 0u : unsigned{MDB_CREATE});
  if (!db) {
    if (db.error().code == MDB_NOTFOUND)
      return store_error(StoreErrorKind::open_failed, path + " has no \"" + kPolicyTable + "\" table");
    return open_failure(path, db.error());
  }
  if (auto committed = txn->commit(); !committed) return open_failure(path, committed.error());

  auto impl = std::make_unique<Impl>(path, settings.read_only, std::move(*env), *db);
  return std::unique_ptr<PolicyStore>(new PolicyStore(std::move(impl)));
}

PolicyStore::PolicyStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PolicyStore::~PolicyStore() = default;

std::expected<std::optional<core::CacheRecord>, StoreError> PolicyStore::get(std::string_view domain) {
  std::lock_guard lock(impl_->reader_mutex);
  if (impl_->reader) {
    if (auto renewed = impl_->reader->renew(); !renewed) {
      impl_->reader.reset();
      return lmdb_failure(impl_->path, "read", renewed.error());
    }
  } else {
    auto txn = lmdb::Txn::begin(impl_->env, lmdb::Txn::Mode::read);
    if (!txn) return lmdb_failure(impl_->path, "read", txn.error());
    impl_->reader.emplace(std::move(*txn));
  }
  // The value points into the map: decode it before the snapshot is released.
  struct ResetOnExit {
    lmdb::Txn& txn;
    ~ResetOnExit() { txn.reset(); }
  } release{*impl_->reader};

  auto value = lmdb::get(*impl_->reader, impl_->policies, domain);
  if (!value) return lmdb_failure(impl_->path, "get " + std::string(domain), value.error());
  if (!*value) return std::optional<core::CacheRecord>{};
  auto record = decode_value(domain, **value);
  if (!record) return std::unexpected(std::move(record.error()));
  return std::optional<core::CacheRecord>(std::move(*record));
}

std::expected<void, StoreError> PolicyStore::put(std::string_view domain, const core::CacheRecord& record) {
  if (auto writable = impl_->refuse_if_read_only("put"); !writable) return writable;
  const std::string what = "put " + std::string(domain);
  const std::string bytes = core::encode_cache_record(record);
  // On any failure the transaction is aborted by its destructor; the store stays usable.
  auto txn = lmdb::Txn::begin(impl_->env, lmdb::Txn::Mode::write);
  if (!txn) return lmdb_failure(impl_->path, what, txn.error());
  if (auto written = lmdb::put(*txn, impl_->policies, domain, bytes); !written)
    return lmdb_failure(impl_->path, what, written.error());
  if (auto committed = txn->commit(); !committed) return lmdb_failure(impl_->path, what, committed.error());
  return {};
}

std::expected<bool, StoreError> PolicyStore::erase(std::string_view domain) {
  if (auto writable = impl_->refuse_if_read_only("erase"); !writable) return std::unexpected(writable.error());
  const std::string what = "erase " + std::string(domain);
  auto txn = lmdb::Txn::begin(impl_->env, lmdb::Txn::Mode::write);
  if (!txn) return lmdb_failure(impl_->path, what, txn.error());
  auto existed = lmdb::del(*txn, impl_->policies, domain);
  if (!existed) return lmdb_failure(impl_->path, what, existed.error());
  if (!*existed) return false;  // nothing changed: the transaction is simply aborted
  if (auto committed = txn->commit(); !committed) return lmdb_failure(impl_->path, what, committed.error());
  return true;
}

std::expected<std::size_t, StoreError> PolicyStore::erase_all() {
  if (auto writable = impl_->refuse_if_read_only("erase_all"); !writable) return std::unexpected(writable.error());
  auto txn = lmdb::Txn::begin(impl_->env, lmdb::Txn::Mode::write);
  if (!txn) return lmdb_failure(impl_->path, "erase_all", txn.error());
  auto n = lmdb::entries(*txn, impl_->policies);
  if (!n) return lmdb_failure(impl_->path, "erase_all", n.error());
  if (auto cleared = lmdb::clear(*txn, impl_->policies); !cleared)
    return lmdb_failure(impl_->path, "erase_all", cleared.error());
  if (auto committed = txn->commit(); !committed) return lmdb_failure(impl_->path, "erase_all", committed.error());
  return *n;
}

std::expected<void, StoreError> PolicyStore::for_each(
    const std::function<bool(std::string_view domain, const std::expected<core::CacheRecord, StoreError>&)>& fn) {
  // Its own snapshot (not get()'s reader), so fn may call get/put/erase; it does not see its own writes.
  auto txn = lmdb::Txn::begin(impl_->env, lmdb::Txn::Mode::read);
  if (!txn) return lmdb_failure(impl_->path, "scan", txn.error());
  auto cursor = lmdb::Cursor::open(*txn, impl_->policies);
  if (!cursor) return lmdb_failure(impl_->path, "scan", cursor.error());
  for (;;) {
    auto entry = cursor->next();
    if (!entry) return lmdb_failure(impl_->path, "scan", entry.error());
    if (!*entry) return {};
    const auto& [domain, bytes] = **entry;
    if (!fn(domain, decode_value(domain, bytes))) return {};
  }
}

std::expected<std::size_t, StoreError> PolicyStore::count() {
  auto txn = lmdb::Txn::begin(impl_->env, lmdb::Txn::Mode::read);
  if (!txn) return lmdb_failure(impl_->path, "count", txn.error());
  auto n = lmdb::entries(*txn, impl_->policies);
  if (!n) return lmdb_failure(impl_->path, "count", n.error());
  return *n;
}

void PolicyStore::sync() {
  if (impl_->read_only) return;
  if (auto synced = impl_->env.sync(); !synced)
    spdlog::warn("cache {}: sync failed: {}", impl_->path, synced.error().message);
}

}  // namespace mtastsd::io

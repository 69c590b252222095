// The shared LMDB environment of the state directory; see the header.
#include "io/store_env.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cerrno>
#include <filesystem>

namespace mtastsd::io {
namespace {

namespace lmdb = util::lmdb;
namespace fs = std::filesystem;

constexpr const char* kEnvFile = "cache.mdb";
// "policies", the TLS-RPT tables, and room for the report queue.
constexpr unsigned kMaxTables = 16;
constexpr mode_t kFileMode = 0640;  // data and lock file: owner writes, group may read

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

}  // namespace

std::unexpected<StoreError> store_error(StoreErrorKind kind, std::string detail) {
  return std::unexpected(StoreError{kind, std::move(detail)});
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

std::string StoreEnv::data_file(const std::string& directory) { return (fs::path(directory) / kEnvFile).string(); }

std::expected<std::shared_ptr<StoreEnv>, StoreError> StoreEnv::open(const StoreSettings& settings) {
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
  return std::shared_ptr<StoreEnv>(new StoreEnv(path, settings.read_only, std::move(*env)));
}

std::expected<std::optional<MDB_dbi>, StoreError> StoreEnv::table(const char* name) {
  auto txn = lmdb::Txn::begin(env_, read_only_ ? lmdb::Txn::Mode::read : lmdb::Txn::Mode::write);
  if (!txn) return open_failure(path_, txn.error());
  auto db = lmdb::open_db(*txn, name, read_only_ ? 0u : unsigned{MDB_CREATE});
  if (!db) {
    if (db.error().code == MDB_NOTFOUND) return std::optional<MDB_dbi>{};
    return open_failure(path_, db.error());
  }
  // Committing a read transaction keeps the handle open for later transactions (mdb_dbi_open).
  if (auto committed = txn->commit(); !committed) return open_failure(path_, committed.error());
  return std::optional<MDB_dbi>(*db);
}

std::expected<void, StoreError> StoreEnv::refuse_if_read_only(std::string_view what) const {
  if (read_only_)
    return store_error(StoreErrorKind::read_only, "cache " + path_ + " is open read-only: " + std::string(what));
  return {};
}

std::unexpected<StoreError> StoreEnv::failure(std::string_view what, const lmdb::Error& e) const {
  const StoreErrorKind kind = e.code == MDB_MAP_FULL ? StoreErrorKind::map_full : StoreErrorKind::io;
  return store_error(kind, "cache " + path_ + ": " + std::string(what) + ": " + e.message);
}

void StoreEnv::sync() {
  if (read_only_) return;
  auto synced = env_.sync();
  if (synced) {
    if (failed_syncs_ > 0) spdlog::info("cache {}: sync works again after {} failed attempt(s)", path_, failed_syncs_);
    failed_syncs_ = 0;
  } else if (failed_syncs_++ == 0) {
    spdlog::warn("cache {}: sync failed: {}; logged again when it works", path_, synced.error().message);
  }
}

}  // namespace mtastsd::io

// RAII over the LMDB C API; see lmdb.hpp for the rules callers keep.
#include "util/lmdb.hpp"

namespace mtastsd::util::lmdb {
namespace {

std::unexpected<Error> fail(const char* operation, int rc) {
  return std::unexpected(Error{rc, std::string(operation) + ": " + mdb_strerror(rc)});
}

MDB_val as_val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
std::string_view as_view(const MDB_val& v) { return {static_cast<const char*>(v.mv_data), v.mv_size}; }

}  // namespace

// ---- Env ----

std::expected<Env, Error> Env::open(const EnvOptions& options) {
  MDB_env* raw = nullptr;
  if (int rc = mdb_env_create(&raw); rc != 0) return fail("mdb_env_create", rc);
  Env env(raw);  // closes the handle on every early return, as LMDB requires after a failed open
  if (options.map_size != 0) {
    if (int rc = mdb_env_set_mapsize(raw, options.map_size); rc != 0) return fail("mdb_env_set_mapsize", rc);
  }
  if (options.max_dbs != 0) {
    if (int rc = mdb_env_set_maxdbs(raw, options.max_dbs); rc != 0) return fail("mdb_env_set_maxdbs", rc);
  }
  if (int rc = mdb_env_open(raw, options.path.c_str(), options.flags, options.mode); rc != 0)
    return fail("mdb_env_open", rc);
  return env;
}

Env& Env::operator=(Env&& other) noexcept {
  if (this != &other) {
    if (env_) mdb_env_close(env_);
    env_ = std::exchange(other.env_, nullptr);
  }
  return *this;
}

Env::~Env() {
  if (env_) mdb_env_close(env_);
}

std::expected<void, Error> Env::sync() {
  if (int rc = mdb_env_sync(env_, 1); rc != 0) return fail("mdb_env_sync", rc);
  return {};
}

// ---- Txn ----

std::expected<Txn, Error> Txn::begin(Env& env, Mode mode) {
  MDB_txn* raw = nullptr;
  if (int rc = mdb_txn_begin(env.get(), nullptr, mode == Mode::read ? MDB_RDONLY : 0u, &raw); rc != 0)
    return fail("mdb_txn_begin", rc);
  return Txn(raw);
}

Txn& Txn::operator=(Txn&& other) noexcept {
  if (this != &other) {
    if (txn_) mdb_txn_abort(txn_);
    txn_ = std::exchange(other.txn_, nullptr);
  }
  return *this;
}

Txn::~Txn() {
  if (txn_) mdb_txn_abort(txn_);
}

std::expected<void, Error> Txn::commit() {
  if (int rc = mdb_txn_commit(std::exchange(txn_, nullptr)); rc != 0) return fail("mdb_txn_commit", rc);
  return {};
}

void Txn::reset() { mdb_txn_reset(txn_); }

std::expected<void, Error> Txn::renew() {
  if (int rc = mdb_txn_renew(txn_); rc != 0) return fail("mdb_txn_renew", rc);
  return {};
}

// ---- data ----

std::expected<MDB_dbi, Error> open_db(Txn& txn, const char* name, unsigned flags) {
  MDB_dbi db = 0;
  if (int rc = mdb_dbi_open(txn.get(), name, flags, &db); rc != 0) return fail("mdb_dbi_open", rc);
  return db;
}

std::expected<std::optional<std::string_view>, Error> get(Txn& txn, MDB_dbi db, std::string_view key) {
  MDB_val k = as_val(key);
  MDB_val v{};
  const int rc = mdb_get(txn.get(), db, &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<std::string_view>{};
  if (rc != 0) return fail("mdb_get", rc);
  return as_view(v);
}

std::expected<void, Error> put(Txn& txn, MDB_dbi db, std::string_view key, std::string_view value) {
  MDB_val k = as_val(key);
  MDB_val v = as_val(value);
  if (int rc = mdb_put(txn.get(), db, &k, &v, 0); rc != 0) return fail("mdb_put", rc);
  return {};
}

std::expected<bool, Error> del(Txn& txn, MDB_dbi db, std::string_view key) {
  MDB_val k = as_val(key);
  const int rc = mdb_del(txn.get(), db, &k, nullptr);
  if (rc == MDB_NOTFOUND) return false;
  if (rc != 0) return fail("mdb_del", rc);
  return true;
}

std::expected<std::size_t, Error> entries(Txn& txn, MDB_dbi db) {
  MDB_stat stat{};
  if (int rc = mdb_stat(txn.get(), db, &stat); rc != 0) return fail("mdb_stat", rc);
  return stat.ms_entries;
}

std::expected<void, Error> clear(Txn& txn, MDB_dbi db) {
  if (int rc = mdb_drop(txn.get(), db, 0); rc != 0) return fail("mdb_drop", rc);
  return {};
}

// ---- Cursor ----

std::expected<Cursor, Error> Cursor::open(Txn& txn, MDB_dbi db) {
  MDB_cursor* raw = nullptr;
  if (int rc = mdb_cursor_open(txn.get(), db, &raw); rc != 0) return fail("mdb_cursor_open", rc);
  return Cursor(raw);
}

Cursor::~Cursor() {
  if (cursor_) mdb_cursor_close(cursor_);
}

std::expected<std::optional<Cursor::Entry>, Error> Cursor::next() {
  if (pending_) return std::exchange(pending_, std::nullopt);
  if (at_end_) return std::optional<Entry>{};
  MDB_val k{};
  MDB_val v{};
  const int rc = mdb_cursor_get(cursor_, &k, &v, started_ ? MDB_NEXT : MDB_FIRST);
  started_ = true;
  if (rc == MDB_NOTFOUND) return std::optional<Entry>{};
  if (rc != 0) return fail("mdb_cursor_get", rc);
  return Entry{as_view(k), as_view(v)};
}

std::expected<void, Error> Cursor::seek_after(std::string_view key) {
  MDB_val k{key.size(), const_cast<char*>(key.data())};
  MDB_val v{};
  started_ = true;
  pending_.reset();
  at_end_ = false;
  int rc = mdb_cursor_get(cursor_, &k, &v, MDB_SET_RANGE);  // the first key >= `key`
  if (rc == 0 && as_view(k) == key) rc = mdb_cursor_get(cursor_, &k, &v, MDB_NEXT);
  if (rc == MDB_NOTFOUND) {
    at_end_ = true;
    return {};
  }
  if (rc != 0) return fail("mdb_cursor_get", rc);
  pending_ = Entry{as_view(k), as_view(v)};
  return {};
}

}  // namespace mtastsd::util::lmdb

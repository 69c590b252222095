// A thin RAII layer over the LMDB C API (liblmdb): environment, transactions,
// named databases and cursors, with errors as values. It knows nothing of what
// is stored; tables built on it (the policy cache, later TLS-RPT) add meaning.
// LMDB's own rules still hold for callers:
//  - open one Env per file per process (LMDB's locks are per process);
//  - a write Txn is begun, used and ended on one thread;
//  - the views returned by get() and Cursor::next() point into the map and are
//    valid only until their transaction ends (or, in a write Txn, the next write).
#pragma once
#include <lmdb.h>
#include <sys/types.h>

#include <cstddef>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace mtastsd::util::lmdb {

struct Error {
  int code = 0;         // an MDB_* code or an errno value
  std::string message;  // "<operation>: <mdb_strerror(code)>"
};

struct EnvOptions {
  std::string path;          // the directory, or with MDB_NOSUBDIR the data file (lock file: path + "-lock")
  unsigned flags = 0;        // MDB_NOSUBDIR, MDB_RDONLY, MDB_NOSYNC, MDB_NOTLS, ...
  std::size_t map_size = 0;  // 0: keep LMDB's default, or the size recorded in an existing file
  unsigned max_dbs = 0;      // number of named databases
  mode_t mode = 0640;        // permissions of files LMDB creates
};

class Env {
 public:
  static std::expected<Env, Error> open(const EnvOptions& options);
  Env(Env&& other) noexcept : env_(std::exchange(other.env_, nullptr)) {}
  Env& operator=(Env&& other) noexcept;
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;
  ~Env();

  MDB_env* get() const { return env_; }
  // Flush committed data to disk (needed under MDB_NOSYNC).
  std::expected<void, Error> sync();

 private:
  explicit Env(MDB_env* env) : env_(env) {}
  MDB_env* env_ = nullptr;
};

// A transaction; an open one is aborted when the object goes away.
class Txn {
 public:
  enum class Mode { read, write };
  static std::expected<Txn, Error> begin(Env& env, Mode mode);
  Txn(Txn&& other) noexcept : txn_(std::exchange(other.txn_, nullptr)) {}
  Txn& operator=(Txn&& other) noexcept;
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  ~Txn();

  MDB_txn* get() const { return txn_; }
  // Ends the transaction whatever the outcome (LMDB frees it on failure too).
  std::expected<void, Error> commit();
  // Read transactions only: reset() drops the snapshot but keeps the reader slot,
  // renew() takes the newest snapshot again; cheaper than a new transaction.
  void reset();
  std::expected<void, Error> renew();

 private:
  explicit Txn(MDB_txn* txn) : txn_(txn) {}
  MDB_txn* txn_ = nullptr;
};

// A named database; without MDB_CREATE a missing one is an Error with code MDB_NOTFOUND.
// The handle stays usable after the transaction that opened it commits.
std::expected<MDB_dbi, Error> open_db(Txn& txn, const char* name, unsigned flags);

std::expected<std::optional<std::string_view>, Error> get(Txn& txn, MDB_dbi db, std::string_view key);
std::expected<void, Error> put(Txn& txn, MDB_dbi db, std::string_view key, std::string_view value);
// True if the key existed.
std::expected<bool, Error> del(Txn& txn, MDB_dbi db, std::string_view key);
std::expected<std::size_t, Error> entries(Txn& txn, MDB_dbi db);
// Delete every entry, keeping the database.
std::expected<void, Error> clear(Txn& txn, MDB_dbi db);

// Walks a database in key order. Destroy it before its transaction ends.
class Cursor {
 public:
  using Entry = std::pair<std::string_view, std::string_view>;  // key, value
  static std::expected<Cursor, Error> open(Txn& txn, MDB_dbi db);
  Cursor(Cursor&& other) noexcept
      : cursor_(std::exchange(other.cursor_, nullptr)),
        started_(other.started_),
        pending_(other.pending_),
        at_end_(other.at_end_) {}
  Cursor& operator=(Cursor&&) = delete;
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  ~Cursor();

  // The first entry on the first call, then the following ones; nullopt at the end.
  std::expected<std::optional<Entry>, Error> next();
  // Positions the cursor so that the next next() returns the first entry whose
  // key sorts after `key` (LMDB's default order: bytewise, shorter first).
  std::expected<void, Error> seek_after(std::string_view key);

 private:
  explicit Cursor(MDB_cursor* cursor) : cursor_(cursor) {}
  MDB_cursor* cursor_ = nullptr;
  bool started_ = false;
  std::optional<Entry> pending_;  // found by seek_after, returned by the next next()
  bool at_end_ = false;
};

}  // namespace mtastsd::util::lmdb

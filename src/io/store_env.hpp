// The LMDB environment of a state directory, shared by every table mtastsd keeps
// there (PolicyStore: "policies"; TlsrptStore and ReportOutbox: the TLS-RPT tables;
// MxValidationStore: "mx_validations"). LMDB forbids
// opening one environment twice in a process, so the daemon opens it once and
// hands it to each store; mtastsctl opens it read-only while the daemon runs.
// Layout: one data file <directory>/cache.mdb plus LMDB's lock file cache.mdb-lock
// (MDB_NOSUBDIR), so the state directory can hold other files.
// Flags:
//  - MDB_NOSYNC: commits do not fsync. Committed pages are in the OS page cache,
//    so a killed (-9) process loses no commit; only an OS crash or power loss can
//    lose recent commits (LMDB keeps the file consistent as long as the file
//    system keeps write order). The daemon calls sync() every second, which bounds
//    that loss; every lookup that writes would otherwise wait for the disk.
//  - MDB_NOTLS: reader slots belong to transactions, not threads, so a reusable
//    read transaction may move between threads.
// Read-only handles use MDB_RDONLY; they need write access to the lock file like
// any LMDB reader, and never create files, so an absent environment is reported
// instead of being created with the wrong owner.
#pragma once
#include <cstddef>
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include "util/lmdb.hpp"

namespace mtastsd::io {

enum class StoreErrorKind {
  open_failed,  // cannot create/open the environment (permissions, corrupt file)
  map_full,     // MDB_MAP_FULL: write refused, reads still work
  corrupt,      // a record that does not decode (the caller treats it as absent), or at
                // open: the file is not a (compatible) LMDB environment
  io,           // any other LMDB error
  read_only,    // write attempted on a read-only store
};
struct StoreError {
  StoreErrorKind kind;
  std::string detail;
};
std::string_view to_string(StoreErrorKind k);
// A failed store operation's result.
std::unexpected<StoreError> store_error(StoreErrorKind kind, std::string detail);

struct StoreSettings {
  std::string directory;  // created if missing (mode 0750)
  std::size_t map_size = 256u << 20;
  bool read_only = false;
};

class StoreEnv {
 public:
  static std::expected<std::shared_ptr<StoreEnv>, StoreError> open(const StoreSettings& settings);
  // The environment's data file in `directory` (for moving an unusable one aside).
  static std::string data_file(const std::string& directory);

  util::lmdb::Env& env() { return env_; }
  const std::string& path() const { return path_; }
  bool read_only() const { return read_only_; }

  // A named table. A writer creates it if missing; a reader gets nullopt for a
  // table that does not exist (yet): an environment written by an older daemon.
  std::expected<std::optional<MDB_dbi>, StoreError> table(const char* name);

  // StoreErrorKind::read_only naming `what`, for writes through a read-only handle.
  std::expected<void, StoreError> refuse_if_read_only(std::string_view what) const;
  // An LMDB error of an operation on this environment (map_full or io).
  std::unexpected<StoreError> failure(std::string_view what, const util::lmdb::Error& e) const;

  // Flush committed data to disk (MDB_NOSYNC). No-op when read-only. A run of failures (a
  // disk gone read-only: the daemon syncs every second) is logged when it starts and when
  // syncing works again, not once per call.
  void sync();

 private:
  StoreEnv(std::string path, bool read_only, util::lmdb::Env env)
      : path_(std::move(path)), read_only_(read_only), env_(std::move(env)) {}
  std::string path_;
  bool read_only_;
  std::uint64_t failed_syncs_ = 0;  // of the current run of failures
  util::lmdb::Env env_;
};

}  // namespace mtastsd::io

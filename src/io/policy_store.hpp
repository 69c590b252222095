// The LMDB environment and the policy cache table. One environment per state
// directory ("cache.mdb"), named databases per table ("policies"; later tables
// for TLS-RPT). Readers never block the writer; mtastsctl may open the same
// environment while the daemon runs.
#pragma once
#include <cstddef>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include "core/cache_record.hpp"

namespace mtastsd::io {

enum class StoreErrorKind {
  open_failed,   // cannot create/open the environment (permissions, corrupt file)
  map_full,      // MDB_MAP_FULL: write refused, reads still work
  corrupt,       // a record that does not decode (the caller treats it as absent), or at
                 // open: the file is not a (compatible) LMDB environment

  io,            // any other LMDB error
  read_only,     // write attempted on a read-only store
};
struct StoreError {
  StoreErrorKind kind;
  std::string detail;
};
std::string_view to_string(StoreErrorKind k);

struct StoreSettings {
  std::string directory;           // created if missing (mode 0750)
  std::size_t map_size = 256u << 20;
  bool read_only = false;
};

class PolicyStore {
 public:
  static std::expected<std::unique_ptr<PolicyStore>, StoreError> open(const StoreSettings& settings);
  // The environment's data file in `directory` (for moving an unusable one aside).
  static std::string data_file(const std::string& directory);
  ~PolicyStore();

  // nullopt = no record. A corrupt record is StoreErrorKind::corrupt.
  std::expected<std::optional<core::CacheRecord>, StoreError> get(std::string_view domain);
  std::expected<void, StoreError> put(std::string_view domain, const core::CacheRecord& record);
  std::expected<bool, StoreError> erase(std::string_view domain);  // true if it existed
  std::expected<std::size_t, StoreError> erase_all();
  // Visit every record in key order; corrupt ones are passed as errors. Return false to stop.
  std::expected<void, StoreError> for_each(
      const std::function<bool(std::string_view domain, const std::expected<core::CacheRecord, StoreError>&)>& fn);
  std::expected<std::size_t, StoreError> count();
  // Flush to disk (the environment is opened MDB_NOSYNC; the daemon calls this periodically).
  void sync();

 private:
  struct Impl;
  explicit PolicyStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mtastsd::io

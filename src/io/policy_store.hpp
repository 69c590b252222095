// The policy cache table ("policies") in the state directory's LMDB environment
// (io/store_env), which it shares with the other tables. Readers never block the
// writer; mtastsctl may open the same environment while the daemon runs.
#pragma once
#include <cstddef>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include "core/cache_record.hpp"
#include "io/store_env.hpp"

namespace mtastsd::io {

class PolicyStore {
 public:
  // On the shared environment (the daemon: one environment, several tables).
  static std::expected<std::unique_ptr<PolicyStore>, StoreError> open(std::shared_ptr<StoreEnv> env);
  // Opens an environment of its own (for a process that uses no other table).
  static std::expected<std::unique_ptr<PolicyStore>, StoreError> open(const StoreSettings& settings);
  // The environment's data file in `directory` (StoreEnv::data_file).
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
  // Visit at most `limit` records whose domain sorts after `after` ("" = from the
  // first), in one read transaction. Returns the last domain visited when the
  // limit stopped the walk, nullopt when it reached the end: the next slice starts
  // after it, so a long walk can give the caller's thread back between slices.
  using Visitor = std::function<void(std::string_view domain, const std::expected<core::CacheRecord, StoreError>&)>;
  std::expected<std::optional<std::string>, StoreError> for_each_slice(std::string_view after, std::size_t limit,
                                                                       const Visitor& fn);
  std::expected<std::size_t, StoreError> count();
  // Flush the environment to disk (StoreEnv::sync).
  void sync();

 private:
  struct Impl;
  explicit PolicyStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mtastsd::io

// The MX validation table ("mx_validations") in the state directory's LMDB
// environment (io/store_env): domain -> core::encode_mx_validations, the latest
// validation of each testing-mode domain's MX hosts (issue 5). Written by the
// daemon's validator, read by the TLS-RPT aggregator and `mtastsctl cache show`.
// A value that does not decode is StoreErrorKind::corrupt (the validator then starts
// the domain afresh). A read-only handle (mtastsctl) sees the table an older daemon
// never created as empty.
#pragma once
#include <cstddef>
#include <expected>
#include <memory>
#include <optional>
#include <string_view>
#include "core/mx_validation.hpp"
#include "io/store_env.hpp"
#include "util/clock.hpp"

namespace mtastsd::io {

class MxValidationStore {
 public:
  static std::expected<std::unique_ptr<MxValidationStore>, StoreError> open(std::shared_ptr<StoreEnv> env);
  ~MxValidationStore();

  // nullopt = never validated.
  std::expected<std::optional<core::MxValidations>, StoreError> get(std::string_view domain);
  std::expected<void, StoreError> put(std::string_view domain, const core::MxValidations& validations);
  // Deletes the domains last validated before `before` (no longer looked up in testing
  // mode) and values that do not decode; returns how many.
  std::expected<std::size_t, StoreError> prune(util::TimePoint before);

 private:
  struct Impl;
  explicit MxValidationStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mtastsd::io

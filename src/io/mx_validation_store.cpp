// The MX validation table in LMDB; see the header.
#include "io/mx_validation_store.hpp"

#include <string>
#include <vector>
#include "util/lmdb.hpp"

namespace mtastsd::io {
namespace {

namespace lmdb = util::lmdb;

constexpr const char* kTable = "mx_validations";

}  // namespace

struct MxValidationStore::Impl {
  std::shared_ptr<StoreEnv> env;
  std::optional<MDB_dbi> table;  // nullopt only in a read-only handle on an older environment
};

std::expected<std::unique_ptr<MxValidationStore>, StoreError> MxValidationStore::open(std::shared_ptr<StoreEnv> env) {
  auto table = env->table(kTable);
  if (!table) return std::unexpected(table.error());
  auto impl = std::make_unique<Impl>(Impl{std::move(env), *table});
  return std::unique_ptr<MxValidationStore>(new MxValidationStore(std::move(impl)));
}

MxValidationStore::MxValidationStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MxValidationStore::~MxValidationStore() = default;

std::expected<std::optional<core::MxValidations>, StoreError> MxValidationStore::get(std::string_view domain) {
  if (!impl_->table) return std::optional<core::MxValidations>{};
  StoreEnv& env = *impl_->env;
  const std::string what = "get MX validations of " + std::string(domain);
  auto txn = lmdb::Txn::begin(env.env(), lmdb::Txn::Mode::read);
  if (!txn) return env.failure(what, txn.error());
  auto value = lmdb::get(*txn, *impl_->table, domain);
  if (!value) return env.failure(what, value.error());
  if (!*value) return std::optional<core::MxValidations>{};
  // The value points into the map: decoded while the transaction lives.
  auto decoded = core::decode_mx_validations(**value);
  if (!decoded) {
    const std::string detail = "MX validations of " + std::string(domain) + ": " + decoded.error().detail;
    return std::unexpected(StoreError{StoreErrorKind::corrupt, detail});
  }
  return std::optional<core::MxValidations>(std::move(*decoded));
}

std::expected<void, StoreError> MxValidationStore::put(std::string_view domain,
                                                       const core::MxValidations& validations) {
  const std::string what = "put MX validations of " + std::string(domain);
  StoreEnv& env = *impl_->env;
  if (auto writable = env.refuse_if_read_only(what); !writable) return writable;
  auto txn = lmdb::Txn::begin(env.env(), lmdb::Txn::Mode::write);
  if (!txn) return env.failure(what, txn.error());
  if (auto put = lmdb::put(*txn, *impl_->table, domain, core::encode_mx_validations(validations)); !put)
    return env.failure(what, put.error());
  if (auto committed = txn->commit(); !committed) return env.failure(what, committed.error());
  return {};
}

std::expected<std::size_t, StoreError> MxValidationStore::prune(util::TimePoint before) {
  constexpr std::string_view what = "prune MX validations";
  StoreEnv& env = *impl_->env;
  if (auto writable = env.refuse_if_read_only(what); !writable) return std::unexpected(writable.error());
  auto txn = lmdb::Txn::begin(env.env(), lmdb::Txn::Mode::write);
  if (!txn) return env.failure(what, txn.error());
  std::vector<std::string> doomed;
  {
    auto cursor = lmdb::Cursor::open(*txn, *impl_->table);
    if (!cursor) return env.failure(what, cursor.error());
    for (;;) {
      auto entry = cursor->next();
      if (!entry) return env.failure(what, entry.error());
      if (!*entry) break;
      const auto decoded = core::decode_mx_validations((*entry)->second);
      if (!decoded || decoded->checked_at < before) doomed.emplace_back((*entry)->first);
    }
  }
  for (const std::string& key : doomed)
    if (auto deleted = lmdb::del(*txn, *impl_->table, key); !deleted) return env.failure(what, deleted.error());
  if (doomed.empty()) return 0;  // nothing changed: the transaction is simply aborted
  if (auto committed = txn->commit(); !committed) return env.failure(what, committed.error());
  return doomed.size();
}

}  // namespace mtastsd::io

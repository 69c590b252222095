// TLS-RPT tables in LMDB; see the header. Value formats of the two small tables
// (plain text, version-tagged so a later format can tell them apart):
//   tlsrpt_records: "1 <until, unix seconds> <record>"   (record may be empty)
//   tlsrpt_sources: "1 <device> <inode> <offset>"
// A value that does not parse is treated as absent (a cache, re-learnt at once).
#include "io/tlsrpt_store.hpp"

#include <charconv>
#include <map>
#include <fmt/format.h>
#include "util/lmdb.hpp"

namespace mtastsd::io {
namespace {

namespace lmdb = util::lmdb;

constexpr const char* kRecordsTable = "tlsrpt_records";
constexpr const char* kSourcesTable = "tlsrpt_sources";
constexpr std::string_view kValueVersion = "1 ";

// Reads one unsigned decimal number and the single space after it (if `spaced`).
template <typename T>
bool take_number(std::string_view& text, T& out, bool spaced) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || end == text.data()) return false;
  text.remove_prefix(static_cast<std::size_t>(end - text.data()));
  if (!spaced) return text.empty();
  if (text.empty() || text.front() != ' ') return false;
  text.remove_prefix(1);
  return true;
}

std::string encode_record(const CachedTlsrptRecord& r) {
  return fmt::format("{}{} {}", kValueVersion, util::to_unix(r.until), r.record);
}

std::optional<CachedTlsrptRecord> decode_record(std::string_view text) {
  if (!text.starts_with(kValueVersion)) return std::nullopt;
  text.remove_prefix(kValueVersion.size());
  std::int64_t until = 0;
  if (!take_number(text, until, true)) return std::nullopt;
  return CachedTlsrptRecord{std::string(text), util::from_unix(until)};
}

std::string encode_position(const LogPosition& p) {
  return fmt::format("{}{} {} {}", kValueVersion, p.device, p.inode, p.offset);
}

std::optional<LogPosition> decode_position(std::string_view text) {
  if (!text.starts_with(kValueVersion)) return std::nullopt;
  text.remove_prefix(kValueVersion.size());
  LogPosition p;
  if (!take_number(text, p.device, true) || !take_number(text, p.inode, true) || !take_number(text, p.offset, false))
    return std::nullopt;
  return p;
}

}  // namespace

struct TlsrptStore::Impl {
  std::shared_ptr<StoreEnv> env;
  // nullopt only in a read-only handle on an environment that lacks the table.
  std::optional<MDB_dbi> days;
  std::optional<MDB_dbi> records;
  std::optional<MDB_dbi> sources;

  std::expected<std::optional<std::string>, StoreError> read(const std::optional<MDB_dbi>& table,
                                                             std::string_view key, std::string_view what) {
    if (!table) return std::optional<std::string>{};
    auto txn = lmdb::Txn::begin(env->env(), lmdb::Txn::Mode::read);
    if (!txn) return env->failure(what, txn.error());
    auto value = lmdb::get(*txn, *table, key);
    if (!value) return env->failure(what, value.error());
    if (!*value) return std::optional<std::string>{};
    return std::optional<std::string>(std::string(**value));
  }

  // Deletes, in one write transaction, every key of `table` for which doomed(key, value) holds.
  std::expected<std::size_t, StoreError> delete_where(
      MDB_dbi table, std::string_view what, const std::function<bool(std::string_view, std::string_view)>& doomed) {
    if (auto writable = env->refuse_if_read_only(what); !writable) return std::unexpected(writable.error());
    auto txn = lmdb::Txn::begin(env->env(), lmdb::Txn::Mode::write);
    if (!txn) return env->failure(what, txn.error());
    std::vector<std::string> keys;
    {
      auto cursor = lmdb::Cursor::open(*txn, table);
      if (!cursor) return env->failure(what, cursor.error());
      for (;;) {
        auto entry = cursor->next();
        if (!entry) return env->failure(what, entry.error());
        if (!*entry) break;
        if (doomed((*entry)->first, (*entry)->second)) keys.emplace_back((*entry)->first);
      }
    }
    for (const std::string& key : keys)
      if (auto deleted = lmdb::del(*txn, table, key); !deleted) return env->failure(what, deleted.error());
    if (keys.empty()) return 0;  // nothing changed: the transaction is simply aborted
    if (auto committed = txn->commit(); !committed) return env->failure(what, committed.error());
    return keys.size();
  }
};

std::expected<std::unique_ptr<TlsrptStore>, StoreError> TlsrptStore::open(std::shared_ptr<StoreEnv> env) {
  auto impl = std::make_unique<Impl>();
  for (const auto& [name, slot] : {std::pair{kTlsRptDaysTable, &impl->days}, std::pair{kRecordsTable, &impl->records},
                                   std::pair{kSourcesTable, &impl->sources}}) {
    auto table = env->table(name);
    if (!table) return std::unexpected(table.error());
    *slot = *table;
  }
  impl->env = std::move(env);
  return std::unique_ptr<TlsrptStore>(new TlsrptStore(std::move(impl)));
}

TlsrptStore::TlsrptStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TlsrptStore::~TlsrptStore() = default;

std::expected<MergeReport, StoreError> TlsrptStore::merge(
    const std::vector<KeyedSession>& batch, const std::vector<std::pair<std::string, LogPosition>>& positions) {
  constexpr std::string_view what = "merge TLS-RPT sessions";
  StoreEnv& env = *impl_->env;
  if (auto writable = env.refuse_if_read_only(what); !writable) return std::unexpected(writable.error());
  auto txn = lmdb::Txn::begin(env.env(), lmdb::Txn::Mode::write);
  if (!txn) return env.failure(what, txn.error());

  MergeReport report;
  // Each (day, domain) is read once, updated by all its sessions, written once.
  std::map<std::string, core::DomainDay> touched;
  for (const KeyedSession& session : batch) {
    const std::string key = core::encode_domain_day_key(session.key);
    auto day = touched.find(key);
    if (day == touched.end()) {
      auto stored = lmdb::get(*txn, *impl_->days, key);
      if (!stored) return env.failure(what, stored.error());
      core::DomainDay value;
      if (*stored) {
        auto decoded = core::decode_domain_day(**stored);
        if (decoded)
          value = std::move(*decoded);
        else
          report.corrupt_days.push_back(key + ": " + decoded.error().detail);
      }
      day = touched.emplace(key, std::move(value)).first;
    }
    if (auto merged = core::merge_session(day->second, session.event); merged)
      ++report.merged;
    else
      report.rejected.push_back(std::move(merged.error()));
  }
  for (const auto& [key, day] : touched) {
    if (day.policies.empty()) continue;  // every session of a new key was rejected
    if (auto put = lmdb::put(*txn, *impl_->days, key, core::encode_domain_day(day)); !put)
      return env.failure(what, put.error());
  }
  for (const auto& [source, position] : positions) {
    if (auto put = lmdb::put(*txn, *impl_->sources, source, encode_position(position)); !put)
      return env.failure(what, put.error());
  }
  if (auto committed = txn->commit(); !committed) return env.failure(what, committed.error());
  return report;
}

std::expected<std::optional<core::DomainDay>, StoreError> TlsrptStore::get(const core::DomainDayKey& key) {
  const std::string encoded = core::encode_domain_day_key(key);
  auto bytes = impl_->read(impl_->days, encoded, "get " + encoded);
  if (!bytes) return std::unexpected(bytes.error());
  if (!*bytes) return std::optional<core::DomainDay>{};
  auto day = core::decode_domain_day(**bytes);
  if (!day) return store_error(StoreErrorKind::corrupt, "TLS-RPT counts " + encoded + ": " + day.error().detail);
  return std::optional<core::DomainDay>(std::move(*day));
}

std::expected<void, StoreError> TlsrptStore::for_each(const DayVisitor& fn, std::optional<core::UtcDay> only_day) {
  if (!impl_->days) return {};
  constexpr std::string_view what = "scan TLS-RPT counts";
  StoreEnv& env = *impl_->env;
  auto txn = lmdb::Txn::begin(env.env(), lmdb::Txn::Mode::read);
  if (!txn) return env.failure(what, txn.error());
  auto cursor = lmdb::Cursor::open(*txn, *impl_->days);
  if (!cursor) return env.failure(what, cursor.error());
  // Keys start with the day, so one day's entries are adjacent.
  const std::string prefix = only_day ? only_day->to_string() + "/" : std::string();
  for (;;) {
    auto entry = cursor->next();
    if (!entry) return env.failure(what, entry.error());
    if (!*entry) return {};
    const auto& [raw_key, bytes] = **entry;
    if (!raw_key.starts_with(prefix)) {
      if (raw_key > prefix) return {};
      continue;
    }
    auto key = core::decode_domain_day_key(raw_key);
    if (!key) continue;  // not written by this program; never produced by merge()
    auto day = core::decode_domain_day(bytes);
    const std::expected<core::DomainDay, StoreError> value =
        day ? std::expected<core::DomainDay, StoreError>(std::move(*day))
            : store_error(StoreErrorKind::corrupt,
                          "TLS-RPT counts " + std::string(raw_key) + ": " + day.error().detail);
    if (!fn(*key, value)) return {};
  }
}

std::expected<std::size_t, StoreError> TlsrptStore::prune_days(core::UtcDay first_kept) {
  // A missing table means a read-only handle, which may not delete anyway.
  if (!impl_->days) return std::unexpected(impl_->env->refuse_if_read_only("prune TLS-RPT counts").error());
  // "YYYY-MM-DD/domain" sorts by day: every key below "YYYY-MM-DD" of first_kept is older.
  const std::string limit = first_kept.to_string();
  return impl_->delete_where(*impl_->days, "prune TLS-RPT counts",
                             [&](std::string_view key, std::string_view) { return key < limit; });
}

std::expected<std::optional<CachedTlsrptRecord>, StoreError> TlsrptStore::get_record(std::string_view domain) {
  auto bytes = impl_->read(impl_->records, domain, "get TLSRPT record of " + std::string(domain));
  if (!bytes) return std::unexpected(bytes.error());
  if (!*bytes) return std::optional<CachedTlsrptRecord>{};
  return decode_record(**bytes);
}

std::expected<void, StoreError> TlsrptStore::put_record(std::string_view domain, const CachedTlsrptRecord& record) {
  const std::string what = "put TLSRPT record of " + std::string(domain);
  StoreEnv& env = *impl_->env;
  if (auto writable = env.refuse_if_read_only(what); !writable) return writable;
  auto txn = lmdb::Txn::begin(env.env(), lmdb::Txn::Mode::write);
  if (!txn) return env.failure(what, txn.error());
  if (auto put = lmdb::put(*txn, *impl_->records, domain, encode_record(record)); !put)
    return env.failure(what, put.error());
  if (auto committed = txn->commit(); !committed) return env.failure(what, committed.error());
  return {};
}

std::expected<std::size_t, StoreError> TlsrptStore::prune_records(util::TimePoint now) {
  if (!impl_->records) return std::unexpected(impl_->env->refuse_if_read_only("prune TLSRPT records").error());
  return impl_->delete_where(*impl_->records, "prune TLSRPT records", [&](std::string_view, std::string_view value) {
    const auto record = decode_record(value);
    return !record || record->until <= now;
  });
}

std::expected<std::optional<LogPosition>, StoreError> TlsrptStore::get_position(std::string_view source) {
  auto bytes = impl_->read(impl_->sources, source, "get position of " + std::string(source));
  if (!bytes) return std::unexpected(bytes.error());
  if (!*bytes) return std::optional<LogPosition>{};
  return decode_position(**bytes);
}

}  // namespace mtastsd::io

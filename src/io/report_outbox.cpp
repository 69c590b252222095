// The TLS-RPT delivery queue in LMDB; see the header.
#include "io/report_outbox.hpp"

#include <set>
#include <fmt/format.h>
#include "io/tlsrpt_store.hpp"
#include "util/lmdb.hpp"

namespace mtastsd::io {
namespace {

namespace lmdb = util::lmdb;

constexpr const char* kOutboxTable = "tlsrpt_outbox";

// The key prefix the filter selects in either table ("" = all).
std::string prefix_of(const OutboxFilter& filter) {
  if (!filter.day) return {};
  if (!filter.domain) return filter.day->to_string() + "/";
  return core::encode_domain_day_key({*filter.day, *filter.domain});
}

// "DAY/domain/NNN" -> "DAY/domain".
std::string_view day_part(std::string_view outbox_key) {
  const std::size_t slash = outbox_key.rfind('/');
  return slash == std::string_view::npos ? outbox_key : outbox_key.substr(0, slash);
}

}  // namespace

struct ReportOutbox::Impl {
  std::shared_ptr<StoreEnv> env;
  std::optional<MDB_dbi> outbox;  // nullopt only in a read-only handle on an older environment
  std::optional<MDB_dbi> days;

  // Walks `table` in key order from the first key with `prefix`, while keys have it.
  template <typename Fn>
  std::expected<void, StoreError> scan(lmdb::Txn& txn, MDB_dbi table, std::string_view prefix, std::string_view what,
                                       Fn&& fn) {
    auto cursor = lmdb::Cursor::open(txn, table);
    if (!cursor) return env->failure(what, cursor.error());
    for (;;) {
      auto entry = cursor->next();
      if (!entry) return env->failure(what, entry.error());
      if (!*entry) return {};
      const auto& [key, value] = **entry;
      if (!key.starts_with(prefix)) {
        if (key > prefix) return {};
        continue;
      }
      if (!fn(key, value)) return {};
    }
  }

  std::expected<lmdb::Txn, StoreError> begin_write(std::string_view what) {
    if (auto writable = env->refuse_if_read_only(what); !writable) return std::unexpected(writable.error());
    auto txn = lmdb::Txn::begin(env->env(), lmdb::Txn::Mode::write);
    if (!txn) return env->failure(what, txn.error());
    return std::move(*txn);
  }

  // Decoded entries under `prefix` (corrupt ones skipped and named in `corrupt`).
  std::expected<std::vector<StoredEntry>, StoreError> entries(lmdb::Txn& txn, std::string_view prefix,
                                                              std::string_view what,
                                                              std::vector<std::string>* corrupt = nullptr) {
    std::vector<StoredEntry> out;
    auto ok = scan(txn, *outbox, prefix, what, [&](std::string_view key, std::string_view value) {
      auto k = core::decode_outbox_key(key);
      auto e = core::decode_outbox_entry(value);
      if (k && e)
        out.push_back({std::move(*k), std::move(*e)});
      else if (corrupt)
        corrupt->push_back(fmt::format("{}: {}", key, k ? e.error().detail : k.error().detail));
      return true;
    });
    if (!ok) return std::unexpected(ok.error());
    return out;
  }

  std::expected<void, StoreError> put(lmdb::Txn& txn, const StoredEntry& s, std::string_view what) {
    if (auto put = lmdb::put(txn, *outbox, core::encode_outbox_key(s.key), core::encode_outbox_entry(s.entry)); !put)
      return env->failure(what, put.error());
    return {};
  }
};

std::expected<std::unique_ptr<ReportOutbox>, StoreError> ReportOutbox::open(std::shared_ptr<StoreEnv> env) {
  auto impl = std::make_unique<Impl>();
  auto outbox = env->table(kOutboxTable);
  if (!outbox) return std::unexpected(outbox.error());
  auto days = env->table(kTlsRptDaysTable);
  if (!days) return std::unexpected(days.error());
  impl->outbox = *outbox;
  impl->days = *days;
  impl->env = std::move(env);
  return std::unique_ptr<ReportOutbox>(new ReportOutbox(std::move(impl)));
}

ReportOutbox::ReportOutbox(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ReportOutbox::~ReportOutbox() = default;

std::expected<PlanReport, StoreError> ReportOutbox::plan(core::UtcDay before, const DeliveryPlanner& planner,
                                                         const OutboxFilter& filter) {
  constexpr std::string_view what = "plan TLS-RPT reports";
  auto txn = impl_->begin_write(what);
  if (!txn) return std::unexpected(txn.error());
  const std::string prefix = prefix_of(filter);
  const std::string limit = before.to_string();

  std::set<std::string, std::less<>> planned_already;  // "DAY/domain"
  auto scanned = impl_->scan(*txn, *impl_->outbox, prefix, what, [&](std::string_view key, std::string_view) {
    planned_already.emplace(day_part(key));
    return true;
  });
  if (!scanned) return std::unexpected(scanned.error());

  std::vector<std::string> unplanned;
  scanned = impl_->scan(*txn, *impl_->days, prefix, what, [&](std::string_view key, std::string_view) {
    if (key >= limit) return false;  // keys sort by day: the rest are `before` or later
    if (filter.domain && key != prefix) return true;
    if (!planned_already.contains(key)) unplanned.emplace_back(key);
    return true;
  });
  if (!scanned) return std::unexpected(scanned.error());

  PlanReport report;
  for (const std::string& raw_key : unplanned) {
    auto key = core::decode_domain_day_key(raw_key);
    if (!key) continue;  // not written by this program (io/tlsrpt_store skips it too)
    auto bytes = lmdb::get(*txn, *impl_->days, raw_key);
    if (!bytes) return impl_->env->failure(what, bytes.error());
    auto day = core::decode_domain_day(**bytes);
    if (!day) {
      report.problems.push_back(fmt::format("{}: stored counts do not decode: {}", raw_key, day.error().detail));
      continue;
    }
    auto entries = planner(*key, *day);
    if (!entries) {
      report.problems.push_back(fmt::format("{}: {}", raw_key, entries.error()));
      continue;
    }
    for (std::size_t i = 0; i < entries->size() && i < core::kMaxDeliveriesPerDomainDay; ++i) {
      const StoredEntry stored{{*key, static_cast<unsigned>(i)}, std::move((*entries)[i])};
      if (auto put = impl_->put(*txn, stored, what); !put) return std::unexpected(put.error());
    }
    report.planned.push_back(std::move(*key));
  }
  if (report.planned.empty()) return report;  // nothing written: the transaction is aborted
  if (auto committed = txn->commit(); !committed) return impl_->env->failure(what, committed.error());
  return report;
}

std::expected<ClaimReport, StoreError> ReportOutbox::claim_due(util::TimePoint now, const core::ClaimRules& rules,
                                                               std::size_t max, const OutboxFilter& filter,
                                                               const std::set<std::string>& in_flight) {
  constexpr std::string_view what = "claim TLS-RPT deliveries";
  auto txn = impl_->begin_write(what);
  if (!txn) return std::unexpected(txn.error());
  auto entries = impl_->entries(*txn, prefix_of(filter), what);
  if (!entries) return std::unexpected(entries.error());

  ClaimReport report;
  for (StoredEntry& stored : *entries) {
    if (filter.domain && stored.key.day.report_domain != *filter.domain) continue;
    if (in_flight.contains(core::encode_outbox_key(stored.key))) continue;  // its end makes the caller look again
    if (report.claimed.size() == max) {
      if (auto next = core::next_attention(stored.entry))
        report.next_attention = std::min(report.next_attention.value_or(*next), *next);
      continue;
    }
    switch (core::claim(stored.entry, now, rules)) {
      case core::ClaimOutcome::claimed: report.claimed.push_back(stored); break;
      case core::ClaimOutcome::taken_over:
        report.taken_over.push_back(stored.key);
        report.claimed.push_back(stored);
        break;
      case core::ClaimOutcome::gave_up: report.gave_up.push_back(stored); break;
      case core::ClaimOutcome::not_due:
        if (auto next = core::next_attention(stored.entry))
          report.next_attention = std::min(report.next_attention.value_or(*next), *next);
        break;
      case core::ClaimOutcome::finished: break;
    }
  }
  if (report.claimed.empty() && report.gave_up.empty()) return report;
  for (const auto* list : {&report.claimed, &report.gave_up})
    for (const StoredEntry& stored : *list)
      if (auto put = impl_->put(*txn, stored, what); !put) return std::unexpected(put.error());
  if (auto committed = txn->commit(); !committed) return impl_->env->failure(what, committed.error());
  return report;
}

std::expected<void, StoreError> ReportOutbox::record(const StoredEntry& stored) {
  constexpr std::string_view what = "record a TLS-RPT delivery attempt";
  auto txn = impl_->begin_write(what);
  if (!txn) return std::unexpected(txn.error());
  if (auto put = impl_->put(*txn, stored, what); !put) return put;
  if (auto committed = txn->commit(); !committed) return impl_->env->failure(what, committed.error());
  return {};
}

std::expected<std::size_t, StoreError> ReportOutbox::make_due(util::TimePoint now, bool resend,
                                                              const OutboxFilter& filter) {
  constexpr std::string_view what = "make TLS-RPT deliveries due";
  auto txn = impl_->begin_write(what);
  if (!txn) return std::unexpected(txn.error());
  auto entries = impl_->entries(*txn, prefix_of(filter), what);
  if (!entries) return std::unexpected(entries.error());
  std::size_t changed = 0;
  for (StoredEntry& stored : *entries) {
    if (filter.domain && stored.key.day.report_domain != *filter.domain) continue;
    if (!core::make_due(stored.entry, now, resend)) continue;
    if (auto put = impl_->put(*txn, stored, what); !put) return std::unexpected(put.error());
    ++changed;
  }
  if (changed == 0) return changed;
  if (auto committed = txn->commit(); !committed) return impl_->env->failure(what, committed.error());
  return changed;
}

std::expected<void, StoreError> ReportOutbox::for_each(const Visitor& fn, const OutboxFilter& filter) {
  if (!impl_->outbox) return {};
  constexpr std::string_view what = "list TLS-RPT deliveries";
  auto txn = lmdb::Txn::begin(impl_->env->env(), lmdb::Txn::Mode::read);
  if (!txn) return impl_->env->failure(what, txn.error());
  return impl_->scan(*txn, *impl_->outbox, prefix_of(filter), what, [&](std::string_view key, std::string_view value) {
    auto k = core::decode_outbox_key(key);
    auto e = core::decode_outbox_entry(value);
    if (k && e) {
      if (filter.domain && k->day.report_domain != *filter.domain) return true;
      fn(key, StoredEntry{std::move(*k), std::move(*e)});
    } else {
      fn(key, std::unexpected(StoreError{StoreErrorKind::corrupt, k ? e.error().detail : k.error().detail}));
    }
    return true;
  });
}

std::expected<std::size_t, StoreError> ReportOutbox::prune_days(core::UtcDay first_kept) {
  constexpr std::string_view what = "prune TLS-RPT deliveries";
  auto txn = impl_->begin_write(what);
  if (!txn) return std::unexpected(txn.error());
  const std::string limit = first_kept.to_string();
  std::vector<std::string> doomed;
  auto scanned = impl_->scan(*txn, *impl_->outbox, "", what, [&](std::string_view key, std::string_view value) {
    if (key >= limit) return false;
    // A delivery still being retried (retry_period may outlast the retention) stays
    // until it ends; its day's counts are gone, so the day is not planned again.
    auto entry = core::decode_outbox_entry(value);
    if (!entry || !core::next_attention(*entry)) doomed.emplace_back(key);
    return true;
  });
  if (!scanned) return std::unexpected(scanned.error());
  for (const std::string& key : doomed)
    if (auto deleted = lmdb::del(*txn, *impl_->outbox, key); !deleted) return impl_->env->failure(what, deleted.error());
  if (doomed.empty()) return 0;
  if (auto committed = txn->commit(); !committed) return impl_->env->failure(what, committed.error());
  return doomed.size();
}

}  // namespace mtastsd::io

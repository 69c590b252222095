// The durable queue of TLS-RPT report deliveries: table "tlsrpt_outbox" in the state
// directory's LMDB environment (io/store_env), core::encode_outbox_key ->
// core::encode_outbox_entry. Entries are planned from the counts in "tlsrpt_days"
// (io/tlsrpt_store) once a day is over; the rules of an entry's life are core's
// (core/outbox_entry). Every change is one write transaction, and the caller syncs the
// environment after a claim and after an attempt's result so that neither is lost with
// the machine: an accepted report is never sent again because a crash forgot it was
// accepted, except in the moment between the receiver's acceptance and our commit.
// Several processes may use the table at once (the daemon and `mtastsctl report send`):
// LMDB serialises the writers, and a claim keeps the others off an entry being sent.
#pragma once
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>
#include "core/outbox_entry.hpp"
#include "core/tlsrpt_report.hpp"
#include "io/store_env.hpp"
#include "util/clock.hpp"

namespace mtastsd::io {

struct StoredEntry {
  core::OutboxKey key;
  core::OutboxEntry entry;
};

// Builds the deliveries of one day and domain (core::plan_deliveries with the origin,
// send time and tokens), or says why it cannot.
using DeliveryPlanner = std::function<std::expected<std::vector<core::OutboxEntry>, std::string>(
    const core::DomainDayKey&, const core::DomainDay&)>;

struct PlanReport {
  std::vector<core::DomainDayKey> planned;  // days and domains that got their deliveries
  std::vector<std::string> problems;        // "DAY/domain: why not", corrupt counts included
};

struct ClaimReport {
  std::vector<StoredEntry> claimed;  // ours now: make the attempts, then record() each
  std::vector<StoredEntry> gave_up;  // interrupted attempts past the retry period, now failed
  std::vector<core::OutboxKey> taken_over;  // of `claimed`: an interrupted attempt made again
  std::optional<util::TimePoint> next_attention;  // of the entries not claimed
};

// Which entries an operation looks at: all, one day, or one day and domain.
struct OutboxFilter {
  std::optional<core::UtcDay> day;
  std::optional<std::string> domain;  // with day only
};

class ReportOutbox {
 public:
  static std::expected<std::unique_ptr<ReportOutbox>, StoreError> open(std::shared_ptr<StoreEnv> env);
  ~ReportOutbox();

  // Plans every (day, domain) with counts, before `before` and matching `filter`, that has
  // no deliveries yet, in one write transaction. A day and domain the planner refuses stays
  // unplanned (planned again on the next call, e.g. after the configuration is fixed).
  std::expected<PlanReport, StoreError> plan(core::UtcDay before, const DeliveryPlanner& planner,
                                             const OutboxFilter& filter = {});

  // Claims up to `max` due entries matching `filter` (core::claim), in one write transaction.
  // Entries whose encoded key (core::encode_outbox_key) is in `in_flight`, the caller's own
  // attempts still running, are left alone whatever their lease says: an attempt waiting for
  // the mail worker, or a wall clock step, must not start a second attempt beside the first.
  std::expected<ClaimReport, StoreError> claim_due(util::TimePoint now, const core::ClaimRules& rules, std::size_t max,
                                                   const OutboxFilter& filter = {},
                                                   const std::set<std::string>& in_flight = {});

  // Stores an entry as it is now (after core::record_attempt).
  std::expected<void, StoreError> record(const StoredEntry& stored);

  // core::make_due on the entries matching `filter`; returns how many became due.
  std::expected<std::size_t, StoreError> make_due(util::TimePoint now, bool resend, const OutboxFilter& filter);

  // Entries matching `filter`, in key order; undecodable ones as errors (with their key text).
  using Visitor = std::function<void(std::string_view key, const std::expected<StoredEntry, StoreError>&)>;
  std::expected<void, StoreError> for_each(const Visitor& fn, const OutboxFilter& filter = {});

  // Deletes the finished (or undecodable) entries of days before first_kept, pruned with
  // their counts (io/tlsrpt_store); unfinished ones go once they are finished.
  std::expected<std::size_t, StoreError> prune_days(core::UtcDay first_kept);

 private:
  struct Impl;
  explicit ReportOutbox(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mtastsd::io

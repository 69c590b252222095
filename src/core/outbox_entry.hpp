// One queued TLS-RPT report delivery (report x rua) and the pure rules of its life:
// when it is first sent, when it is retried, when it is given up, and how it is stored.
// The LMDB table that holds the entries is io/report_outbox; who sends is daemon/.
//
// Life of an entry:
//   queued    --claim-->        sending   (an attempt runs; claimed_by/lease_until say who
//                                          and how long)
//   sending   --delivered-->    delivered (final)
//   sending   --permanent-->    failed    (final)
//   sending   --temporary-->    queued    (next_attempt after back-off) or failed once the
//                                          retry period is over
//   sending   --claim by another process after the claimant died or its lease ran out-->
//             the interrupted attempt counts as a temporary failure with an unknown outcome.
// The report (its report-id, JSON, file name and Subject) is frozen when the entry is
// planned, so every attempt sends the same bytes: a receiver can drop a duplicate by its
// report-id (RFC 8460 sec. 4.4) and, for mail, by its Message-ID (core/report_message).
//
// Retries: RFC 8460 sec. 5.5 asks for back-off and leaves the schedule open;
// interfaces.md sec. 6 (and common practice) says for up to 24 hours. Ours:
// kFirstRetryDelay after the first failure, doubling up to kMaxRetryDelay, the last
// attempt at the end of the retry period.
#pragma once
#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include "core/report_delivery.hpp"
#include "core/tlsrpt_report.hpp"
#include "util/clock.hpp"

namespace mtastsd::core {

inline constexpr int kOutboxFormat = 1;
inline constexpr std::chrono::seconds kFirstRetryDelay{std::chrono::minutes(5)};
inline constexpr std::chrono::seconds kMaxRetryDelay{std::chrono::hours(4)};
// A day's report fans out to at most this many deliveries (rua lists x URIs): RFC 8460
// sets no limit; ours keeps the three-digit key suffix (and a hostile record's reach) small.
inline constexpr std::size_t kMaxDeliveriesPerDomainDay = 100;

enum class OutboxState { queued, sending, delivered, failed };
std::string_view to_string(OutboxState s);

struct OutboxEntry {
  std::string rua;        // the URI as the TLSRPT record lists it
  std::string submitter;  // TLS-Report-Submitter
  TlsRptReport report;    // frozen when planned
  OutboxState state = OutboxState::queued;
  unsigned attempts = 0;
  util::TimePoint planned_at{};
  util::TimePoint next_attempt{};                // queued: not before this
  std::optional<util::TimePoint> first_attempt;  // the retry period counts from here
  std::int64_t claimed_by = 0;                   // sending: the claimant's process id
  util::TimePoint lease_until{};                 // sending: the claim holds until then
  std::string last_result;                       // what the last attempt ended with
  std::optional<util::TimePoint> finished_at;    // delivered or failed: when
  bool operator==(const OutboxEntry&) const = default;
};

// Where an entry is stored: "YYYY-MM-DD/domain/NNN", so that a day's (and a day and
// domain's) entries are adjacent and days sort in order, like the counts' keys.
struct OutboxKey {
  DomainDayKey day;
  unsigned index = 0;  // < kMaxDeliveriesPerDomainDay
  bool operator==(const OutboxKey&) const = default;
};
std::string encode_outbox_key(const OutboxKey& key);
std::string outbox_key_prefix(const DomainDayKey& day);  // "YYYY-MM-DD/domain/"

struct OutboxCorrupt {
  std::string detail;
};
std::expected<OutboxKey, OutboxCorrupt> decode_outbox_key(std::string_view bytes);
std::string encode_outbox_entry(const OutboxEntry& entry);
std::expected<OutboxEntry, OutboxCorrupt> decode_outbox_entry(std::string_view bytes);

// When the reports of `day` are first sent: a random point (random_fraction in [0, 1))
// within send_delay after the day ends (RFC 8460 sec. 4.1: spread the submissions).
util::TimePoint first_send_time(UtcDay day, std::chrono::seconds send_delay, double random_fraction);

// The deliveries of one day and domain: one report per rua list (group_by_rua), sent to
// each of its URIs, at most kMaxDeliveriesPerDomainDay. new_token gives each report its
// unique token (1-32 letters or digits).
std::expected<std::vector<OutboxEntry>, ReportFailure> plan_deliveries(const ReportOrigin& origin,
                                                                       const DomainDayKey& key, const DomainDay& day,
                                                                       util::TimePoint send_at, util::TimePoint now,
                                                                       const std::function<std::string()>& new_token);

struct ClaimRules {
  std::chrono::seconds retry_period{std::chrono::hours(24)};
  std::chrono::seconds lease{};  // how long an attempt may take at most, with margin
  std::int64_t claimant = 0;     // our process id
  // Whether a process id still runs (a claim by a dead process is void at once).
  std::function<bool(std::int64_t pid)> alive;
};

enum class ClaimOutcome {
  not_due,    // unchanged: queued for later, or claimed by a live process within its lease
  claimed,    // now `sending`, ours: make the attempt
  taken_over, // the same, after an attempt another sender did not finish (last_result says whose)
  gave_up,    // an interrupted attempt ended the retry period: now `failed`
  finished,   // delivered or failed already: unchanged
};

// Takes `entry` for an attempt at `now` if it is due.
ClaimOutcome claim(OutboxEntry& entry, util::TimePoint now, const ClaimRules& rules);

// Applies an attempt's result to a claimed entry.
void record_attempt(OutboxEntry& entry, const DeliveryResult& result, util::TimePoint now,
                    std::chrono::seconds retry_period);

// When a queued or claimed entry next needs attention (nullopt when finished).
std::optional<util::TimePoint> next_attention(const OutboxEntry& entry);

// Makes an entry due at `now` (mtastsctl report send): a queued one sooner, a failed one
// with a fresh retry period, a delivered one only with `resend` (same report, same
// report-id). False when it stays as it is (sending, or delivered without resend).
bool make_due(OutboxEntry& entry, util::TimePoint now, bool resend);

}  // namespace mtastsd::core

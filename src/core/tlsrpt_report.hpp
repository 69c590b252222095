// TLS-RPT aggregation and report building (RFC 8460 sec. 4 and 5), pure: the
// caller stores the aggregates (LMDB) and sends the reports.
//
// Aggregation: sessions are counted per UTC day (sec. 4.1: a report covers one
// full UTC day), report domain, TLSRPT record (its rua list) and applied policy
// (type, strings, domain, mx patterns): successful and failed session counts, and
// failure details counted per distinct (result type, sending-mta-ip,
// receiving-mx-hostname, receiving-mx-helo, receiving-ip, additional-information,
// failure-reason-code) (sec. 4.3, 4.4).
//
// Storage unit: one DomainDay per (day, report domain), holding that domain's
// aggregates for every (rua list, policy). The policy cannot be part of an LMDB
// key (keys are at most 511 bytes, a policy's strings are not bounded by that),
// and (day, domain) is exactly what reports are built from. Key
// "YYYY-MM-DD/domain" sorts by day, so pruning old days is a range delete.
// Value: versioned JSON (see tlsrpt_report.cpp); decoding never throws and turns
// anything unexpected into AggregateCorrupt.
//
// Limits (ours): kMaxPoliciesPerDomainDay distinct (rua, policy) pairs per domain
// and day, kMaxFailureDetailsPerPolicy distinct failure details per policy (further
// ones are counted in failure_details_dropped; the summary counts stay exact),
// detail fields truncated to kMaxDetailFieldLength bytes. Worst case a DomainDay
// encodes to about 25 MB; kMaxEncodedDomainDay bounds what decoding accepts.
//
// Reports: one per (day, report domain, rua list), see group_by_rua and
// build_report: the sec. 4.4 JSON, the sec. 5.1 file name and the sec. 5.3 Subject.
#pragma once
#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include "core/session_event.hpp"
#include "util/clock.hpp"

namespace mtastsd::core {

// A UTC calendar day.
struct UtcDay {
  std::int64_t days_since_epoch = 0;

  static UtcDay containing(util::TimePoint t);
  // Strictly "YYYY-MM-DD", a real date from 1970-01-01 to 9999-12-31.
  static std::optional<UtcDay> parse(std::string_view text);
  util::TimePoint start() const;        // 00:00:00Z
  util::TimePoint last_second() const;  // 23:59:59Z, the end RFC 8460's example report uses
  std::string to_string() const;        // "YYYY-MM-DD"
  auto operator<=>(const UtcDay&) const = default;
};

inline constexpr int kAggregateFormat = 1;
inline constexpr std::size_t kMaxPoliciesPerDomainDay = 32;
inline constexpr std::size_t kMaxFailureDetailsPerPolicy = 256;
inline constexpr std::size_t kMaxDetailFieldLength = 512;
inline constexpr std::size_t kMaxEncodedDomainDay = 32u << 20;

struct FailureDetailCount {
  FailureDetail detail;
  std::uint64_t sessions = 0;  // failed-session-count
  bool operator==(const FailureDetailCount&) const = default;
};

struct PolicyAggregate {
  std::vector<std::string> rua;  // the TLSRPT record's usable rua URIs, record order
  AppliedPolicy policy;          // type is never unknown; domain is never empty
  std::uint64_t successful_sessions = 0;
  std::uint64_t failed_sessions = 0;
  std::vector<FailureDetailCount> failure_details;  // distinct, in first-seen order
  std::uint64_t failure_details_dropped = 0;        // details beyond kMaxFailureDetailsPerPolicy
  bool operator==(const PolicyAggregate&) const = default;
};

// All sessions counted for one report domain on one UTC day.
struct DomainDay {
  std::vector<PolicyAggregate> policies;  // distinct (rua, policy), first-seen order
  bool operator==(const DomainDay&) const = default;
};

// The oldest day kept when `retention_days` days before today are kept.
UtcDay first_retained_day(util::TimePoint now, unsigned retention_days);

struct DomainDayKey {
  UtcDay day;
  std::string report_domain;  // lowercase host name
  bool operator==(const DomainDayKey&) const = default;
};

struct AggregateCorrupt {
  std::string detail;
};

std::string encode_domain_day_key(const DomainDayKey& key);  // "2024-04-01/example.com"
std::expected<DomainDayKey, AggregateCorrupt> decode_domain_day_key(std::string_view bytes);
std::string encode_domain_day(const DomainDay& day);
std::expected<DomainDay, AggregateCorrupt> decode_domain_day(std::string_view bytes);

enum class AggregateError {
  bad_report_domain,       // the event's report domain is not a host name
  unresolved_policy_type,  // PolicyType::unknown: resolve it first (log events)
  no_tlsrpt_record,        // tlsrpt_record is "": look it up first (log events)
  unusable_tlsrpt_record,  // the record does not parse or has no usable rua: nobody to report to
  too_many_policies,       // kMaxPoliciesPerDomainDay reached for this domain and day
};
std::string_view to_string(AggregateError e);

struct AggregateFailure {
  AggregateError error;
  std::string detail;
};

// Where an event received at `received_at` is counted.
std::expected<DomainDayKey, AggregateFailure> domain_day_key(const SessionEvent& event, util::TimePoint received_at);

// Counts one session into the DomainDay stored under domain_day_key(event, ...).
// On error the DomainDay is unchanged.
std::expected<void, AggregateFailure> merge_session(DomainDay& day, const SessionEvent& event);

// The aggregates of one DomainDay that go into one report: same rua list.
struct ReportGroup {
  std::vector<std::string> rua;
  std::vector<PolicyAggregate> policies;
};
std::vector<ReportGroup> group_by_rua(const DomainDay& day);

// Who sends the reports (from the configuration).
struct ReportOrigin {
  std::string organization_name;  // sec. 4.4 organization-name
  std::string contact_info;       // sec. 4.4 contact-info: an e-mail address
  std::string submitter;          // submitting domain: sec. 5.3 TLS-Report-Submitter, sec. 5.1 file name
};

struct TlsRptReport {
  std::string report_id;  // sec. 4.4 report-id: "<YYYYMMDD>.<token>.<report domain>@<submitter>"
  std::string json;       // the report, uncompressed (sec. 5.2 gzip is the sender's job)
  std::string file_name;  // sec. 5.1: "submitter!domain!begin!end!token.json.gz", unix seconds
  std::string subject;    // sec. 5.3: "Report Domain: D Submitter: S Report-ID: <report-id>"
  bool operator==(const TlsRptReport&) const = default;
};

enum class ReportError {
  bad_origin,         // empty organization name or contact info, submitter not a host name
  bad_report_domain,  // not a host name
  bad_unique_token,   // not 1-32 letters or digits (sec. 5.1 unique-id = 1*(ALPHA / DIGIT))
  no_policies,        // nothing to report
};
std::string_view to_string(ReportError e);

struct ReportFailure {
  ReportError error;
  std::string detail;
};

// The report for one ReportGroup of one day and domain. `unique_token` makes the
// report-id and file name unique; keep it with a queued report so that a resend
// carries the same report-id.
std::expected<TlsRptReport, ReportFailure> build_report(const ReportOrigin& origin, UtcDay day,
                                                        std::string_view report_domain,
                                                        const std::vector<PolicyAggregate>& policies,
                                                        std::string_view unique_token);

}  // namespace mtastsd::core

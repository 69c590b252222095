// The judging half of `mtastsctl check DOMAIN`: the facts the network steps gathered
// (TXT answers, the policy fetch, the MX answer and probes, the DANE decision, the policy
// mtastsd cached) become findings, each ok, warning or failure, with a plain-words
// explanation of what was seen, why it matters to senders and what to change; the
// common failure modes of the MTA-STS guide are named when found.
// Severity: failure = something published does not work as meant (senders refuse the
// policy, cannot validate or reach an MX under the policy, or lose reports); warning = it
// works, but is risky or incomplete; ok = checked and fine; skipped = not checked, and
// why (an earlier failure, or a fact the check has no access to). Pure: "now" is a parameter.
#pragma once
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include "core/cache_record.hpp"
#include "core/cache_rules.hpp"  // FetchFailed
#include "core/certificate_facts.hpp"
#include "core/dane.hpp"
#include "core/failure_type.hpp"
#include "core/sts_policy.hpp"
#include "util/clock.hpp"

namespace mtastsd::core {

enum class Severity { ok, skipped, warning, failure };  // in rising order
std::string_view to_string(Severity s);  // "ok", "skipped", "warning", "failure"

// The guide's "Common failure modes".
enum class FailureMode {
  wrong_content_type,            // "Policy file returns wrong content type"
  certificate_not_covering_host, // "Certificate on mta-sts subdomain doesn't cover the subdomain"
  mx_certificate_mismatch,       // "MX host certificate doesn't match hostname"
  id_not_updated,                // "id not updated after policy change"
  policy_redirect,               // "HTTP redirect on the policy URL"
};
std::string_view to_string(FailureMode m);  // "wrong-content-type", ... (stable, for tools)
std::string_view title(FailureMode m);      // the guide's heading

// Where a finding belongs, in the order the check runs.
enum class CheckArea { sts_record, policy_fetch, policy, cache, mx, mx_tls, dane, tlsrpt_record };
std::string_view to_string(CheckArea a);  // "sts-record", "policy-fetch", ...

struct Finding {
  CheckArea area = CheckArea::sts_record;
  Severity severity = Severity::ok;
  std::string code;                         // stable identifier per kind of finding, e.g. "content-type"
  std::optional<FailureMode> failure_mode;  // when it is one of the guide's
  std::string subject;                      // what it is about (a host, "host address"); "" = the area
  std::string text;                         // plain words
};

Severity worst(const std::vector<Finding>& findings);  // ok for none

// An area that was not checked, and why.
Finding not_checked(CheckArea area, std::string reason);

// One TXT lookup (_mta-sts or _smtp._tls), records concatenated per RFC 8461 sec. 3.1.
struct TxtLookup {
  enum class Status { records, absent, dns_error };
  Status status = Status::absent;
  std::vector<std::string> records;
  std::string detail;  // absent: "NXDOMAIN" / "no records"; dns_error: what failed
};

// ---- _mta-sts.<domain> (RFC 8461 sec. 3.1) ----
std::vector<Finding> judge_sts_record(std::string_view domain, const TxtLookup& txt);

// ---- the policy fetch (RFC 8461 sec. 3.3) ----
// A certificate valid for less than this still works but is about to fail: renew it (ours;
// ACME clients renew at 30 days left).
inline constexpr util::Seconds kCertificateRenewalWarning{14 * 86400};

struct PolicyFetchFacts {
  std::string host;                                     // mta-sts.<domain>
  std::expected<std::string, FetchFailed> body;         // as io::PolicyFetcher classifies it
  std::optional<CertificateFacts> certificate;          // when the TLS handshake got that far
  std::string tls_version;                              // "TLS 1.3", when the handshake succeeded
  std::optional<unsigned> http_status;                  // when a response header came
  std::string content_type;                             // as sent
  std::string location;                                 // a redirect's target
};
std::vector<Finding> judge_policy_fetch(const PolicyFetchFacts& fetch, util::TimePoint now);

// ---- the policy text (RFC 8461 sec. 3.2) ----
// max_age below this makes senders refetch often and shortens the protection a cached
// policy gives against a downgrade at refresh time (sec. 3.2 expects weeks; ours: one day,
// the guide's example value).
inline constexpr std::int64_t kShortMaxAge = 86400;

struct PolicyJudgement {
  std::vector<Finding> findings;
  std::optional<StsPolicy> policy;  // when it parses
};
PolicyJudgement judge_policy(std::string_view body);

// ---- the policy mtastsd cached under the same id (RFC 8461 sec. 3.3) ----
struct CacheLookup {
  std::string error;                  // the cache could not be read ("" = read)
  std::optional<CacheRecord> record;  // the domain's entry, if cached
};
std::vector<Finding> judge_cached_policy(const CacheLookup& cache, std::string_view live_id,
                                         std::string_view live_text, const StsPolicy& live);

// ---- MX records against the policy's patterns (RFC 8461 sec. 4.1) ----
struct MxLookup {
  enum class Status { records, absent, nxdomain, dns_error };  // absent: NODATA
  Status status = Status::absent;
  std::vector<std::string> hosts;  // exchanges by preference, lowercase; "." = null MX (RFC 7505)
  std::string detail;
};
// The hosts a sender would try: the MX hosts, or the domain itself when it has no MX
// (RFC 5321 sec. 5.1); none for a null MX, a domain that does not exist or a failed
// lookup. Duplicates removed.
std::vector<std::string> mail_hosts(std::string_view domain, const MxLookup& mx);
// policy: nullopt when no usable policy was fetched (the patterns are not checked then).
std::vector<Finding> judge_mx(std::string_view domain, const MxLookup& mx, const std::optional<StsPolicy>& policy);

// ---- each MX host's STARTTLS and certificate (RFC 8461 sec. 4.2) ----
struct MxProbeFacts {
  std::string address;
  bool unreachable = false;                  // no TLS verdict: connection or SMTP failed first
  std::optional<FailureType> failure;        // RFC 8460 sec. 4.3 result type; nullopt = validated
  std::string detail;
};
struct MxHostFacts {
  std::string host;
  std::string address_error;         // the host's addresses could not be found ("" = found)
  std::vector<MxProbeFacts> probes;  // one per address tried
};
std::vector<Finding> judge_mx_host(const MxHostFacts& host);

// ---- DANE (RFC 7672; RFC 8461 sec. 2: MTA-STS does not override it) ----
std::vector<Finding> judge_dane(const DaneDecision& dane);

// ---- _smtp._tls.<domain> (RFC 8460 sec. 3) ----
std::vector<Finding> judge_tlsrpt_record(std::string_view domain, const TxtLookup& txt);

}  // namespace mtastsd::core

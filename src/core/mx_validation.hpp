// mtastsd's own validation of a domain's MX hosts (RFC 8461 sec. 4.1-4.2), for
// domains whose policy is `testing`: Postfix has no testing level, so it never
// checks what enforce would have refused (issue 5). Pure: the DNS answers, probe
// results and "now" come in as values; daemon/mx_validator does the I/O.
//
//  - What is stored per domain (MxValidations): the last run's time, the policy id
//    whose patterns were applied, and per MX host (MX preference order) one check per
//    address probed: time, ok / unreachable / RFC 8460 sec. 4.3 result type, detail,
//    and the greeting host (receiving-mx-helo). A host that matches no policy pattern
//    is not probed; it has one host-level check (address "") of type
//    validation-failure. A host without addresses has one unreachable host-level check.
//  - When: a domain is due once `interval` has passed since its last run, at once
//    when the policy id changed, and kMxLookupRetry after a failed MX lookup. A check
//    of one host and address younger than `interval` is reused, not repeated.
//  - Caps (ours): kMaxValidatedHosts MX hosts, as DANE discovery (core/dane: twice
//    Postfix's smtp_mx_address_limit of 5); kMaxAddressesPerHost addresses per host,
//    one per address family where the host has both (Postfix tries either).
//  - TLS-RPT attribution (apply_testing_validation): a session that Postfix reported
//    as no-policy-found (a 3.10 datagram, or a log line core/tlsrpt_attribution made
//    no-policy-found) to a domain whose cached policy is valid and `testing` is counted
//    under the domain's sts policy (its lines and mx patterns): failed, with a failure
//    detail from the check, when the MX host's latest validation failed; as Postfix saw
//    it (usually successful) when it passed. Which host: the session's mx_hostname when
//    the source names it (log lines, failed sessions); otherwise (libtlsrpt datagrams of
//    successful sessions carry no MX host) the first host in MX preference order whose
//    validation reached it (a verdict other than unreachable): the host Postfix itself
//    tries first. A host counts as failed when any of its reached addresses failed
//    (Postfix may use either address); the first failed check supplies the detail. No
//    validation of that host yet: sts, with Postfix's own outcome.
// Limit: the validation is the latest at the time the session is counted, not at the
// moment of the session (they differ by at most the validation interval).
#pragma once
#include <cstddef>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include "core/cache_record.hpp"
#include "core/failure_type.hpp"
#include "core/session_event.hpp"
#include "core/sts_policy.hpp"
#include "util/clock.hpp"

namespace mtastsd::core {

inline constexpr int kMxValidationFormat = 1;
inline constexpr std::size_t kMaxValidatedHosts = 10;
inline constexpr std::size_t kMaxAddressesPerHost = 2;
// After a failed MX lookup the domain is tried again this soon (ours; the pace RFC
// 8461 sec. 3.3 suggests for refetching a failed policy).
inline constexpr util::Seconds kMxLookupRetry{300};
// The detail of a host that matches none of the policy's mx patterns (RFC 8461 sec. 4.1).
inline constexpr std::string_view kNotInPolicy = "MX host not in the policy";

enum class MxOutcome { ok, unreachable, failed };

// One check of an MX host: one address probed, or (address "") the host as a whole.
struct MxCheck {
  std::string address;  // IP address text; "" = host-level (not in the policy, no address)
  util::TimePoint checked_at{};
  MxOutcome outcome = MxOutcome::unreachable;
  FailureType failure = FailureType::validation_failure;  // the result type, when outcome is failed
  std::string detail;  // what happened (the probe's detail)
  std::string helo;    // the server's greeting host, for receiving-mx-helo
  bool operator==(const MxCheck&) const = default;
};

struct MxHostValidation {
  std::string host;             // lowercase, no trailing dot
  std::vector<MxCheck> checks;  // per address probed, or one host-level check
  bool operator==(const MxHostValidation&) const = default;
};

struct MxValidations {
  util::TimePoint checked_at{};  // the last run
  std::string policy_id;         // the cached policy's id whose mx patterns were applied
  std::string mx_error;          // "" or why the last run's MX lookup failed (hosts are then an earlier run's)
  std::vector<MxHostValidation> hosts;  // MX preference order
  bool operator==(const MxValidations&) const = default;
};

// "ok", "unreachable", or the RFC 8460 result type of a failed check.
std::string_view result_name(const MxCheck& check);

struct MxValidationsCorrupt {
  std::string detail;
};
std::string encode_mx_validations(const MxValidations& v);
std::expected<MxValidations, MxValidationsCorrupt> decode_mx_validations(std::string_view bytes);

// ---- when ----
// Whether a domain whose cached policy has id `policy_id` is due for a validation run.
bool validation_due(const MxValidations* last, std::string_view policy_id, util::TimePoint now,
                    util::Seconds interval);
// Whether `host` at `address` must be probed again, or its stored check reused.
bool check_due(const MxCheck* last, util::TimePoint now, util::Seconds interval);
// The stored check of `host` at `address` ("" = the host-level check), or nullptr.
const MxCheck* find_check(const MxValidations& v, std::string_view host, std::string_view address);

// ---- what ----
struct MxTarget {
  std::string host;
  bool in_policy = false;  // matches one of the policy's mx patterns: resolve and probe it
};
struct MxTargets {
  std::vector<MxTarget> hosts;  // MX preference order, duplicates and "." (null MX) removed
  bool truncated = false;       // more than kMaxValidatedHosts
};
// The MX hosts of `mx_records` (io's MX text: exchanges by preference, lowercase); a
// domain without MX records (NXDOMAIN/NODATA) passes {domain}: the implicit MX (RFC
// 5321 sec. 5.1).
MxTargets mx_targets(const std::vector<std::string>& mx_records, const StsPolicy& policy);
// At most kMaxAddressesPerHost of a host's addresses (A first, then AAAA, as
// io::DnsResolver::query_addresses returns them): the first of each family, else the first two.
std::vector<std::string> addresses_to_probe(const std::vector<std::string>& addresses);

// Host-level checks.
MxCheck not_in_policy_check(util::TimePoint now);
MxCheck no_address_check(util::TimePoint now, std::string detail);

// The stored value after a failed MX lookup: the last run's hosts, with the error.
MxValidations with_mx_error(const MxValidations* last, std::string policy_id, std::string error, util::TimePoint now);

// ---- TLS-RPT ----
// The check that decides a host's verdict: its first reached check that failed, else
// its first that passed; nullptr when every check was unreachable (or it has none).
const MxCheck* deciding_check(const MxHostValidation& host);
// The host a session is attributed to (see the header comment), or nullptr.
const MxHostValidation* session_host(const MxValidations& v, std::string_view session_mx_hostname);
// A failure detail from a failed check of `host`.
FailureDetail failure_detail(std::string_view host, const MxCheck& check);

// The attribution rule above. Events of another type, or for a domain whose cached
// policy is not a valid testing policy, are returned unchanged.
SessionEvent apply_testing_validation(SessionEvent event, const CacheRecord* record,
                                      const MxValidations* validations, util::TimePoint now);

// A check counted as a session of its own (mx_validation.count_as_sessions, for
// senders whose Postfix reports nothing): an sts session of `record`'s policy to
// `host`, failed with the check's detail or successful; nullopt for an unreachable
// check (no TLS verdict, nothing to report). tlsrpt_record is left "" for the caller.
std::optional<SessionEvent> validation_session(std::string_view domain, const CacheRecord& record,
                                               std::string_view host, const MxCheck& check);

}  // namespace mtastsd::core

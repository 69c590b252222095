// Which policy a TLS session ran under, as far as mtastsd's own policy cache
// tells, for TLS-RPT (RFC 8460 sec. 4.4 "policy", RFC 8461 sec. 6). Pure: the
// cache record and "now" come in as values.
//
//  - attribute_log_policy: Postfix <= 3.9 log lines do not say which policy
//    applied (PolicyType::unknown). mtastsd answered the lookup, so its cache
//    does: a DANE verdict where the profile uses DANE (tlsa, without TLSA
//    strings: the records are not cached), a valid enforce policy (or testing
//    where the profile enforces testing) as sts with its lines and mx patterns,
//    otherwise no-policy-found.
//  - apply_policy_failure: RFC 8461 sec. 6 / RFC 8460 sec. 4.3.2: while the
//    policy cannot be fetched although the domain publishes a valid TXT record,
//    or while a non-none policy is cached, every session to the domain is a
//    failed session of type sts-policy-fetch-error / sts-policy-invalid /
//    sts-webpki-invalid (the stored failure). Postfix cannot know this (it only
//    sees mtastsd's answer), so the event is adjusted here.
// Limit: the state is the cache's at the time the event is counted, not at the
// moment of the session (they differ by at most the collector's delay).
#pragma once
#include <optional>
#include "core/cache_record.hpp"
#include "core/failure_type.hpp"
#include "core/session_event.hpp"
#include "util/clock.hpp"

namespace mtastsd::core {

// What the profile Postfix used for its lookups does with the cached state.
struct LogProfile {
  bool testing_enforced = false;  // testing-mode policies are answered like enforce
  bool dane = false;              // DANE verdicts answer before MTA-STS
};

// The policy of an event whose type is unknown; other events are returned unchanged.
SessionEvent attribute_log_policy(SessionEvent event, const CacheRecord* record, util::TimePoint now,
                                  const LogProfile& profile);

// The failure type the cached state imposes on sessions to the domain, if any.
std::optional<FailureType> policy_failure_in_force(const CacheRecord* record, util::TimePoint now);

// The event counted as a failed sts session when policy_failure_in_force says so:
// the policy becomes the cached one (valid, non-none) or an sts policy without
// strings, and a failure detail of the stored type (its failure-reason-code the
// stored detail) comes first; the session's own details are kept. tlsa sessions
// (DANE applied: MTA-STS does not) and events without such a state are unchanged.
SessionEvent apply_policy_failure(SessionEvent event, const CacheRecord* record, util::TimePoint now);

}  // namespace mtastsd::core

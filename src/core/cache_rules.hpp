// The cache state machine (RFC 8461 sec. 3.3, 5.1; DANE verdicts, RFC 7672),
// pure: every function takes "now" and returns decisions or new records; the
// lookup service does the I/O.
#pragma once
#include <optional>
#include <string>
#include "core/cache_record.hpp"
#include "core/dane.hpp"
#include "core/failure_type.hpp"
#include "core/sts_policy.hpp"
#include "util/clock.hpp"

namespace mtastsd::core {

struct CacheSettings {
  util::Seconds id_check_interval{300};    // cache hit older than this -> background TXT check
  util::Seconds fetch_retry_after{300};    // failed fetch: no refetch of that id before this
  util::Seconds negative_ttl_min{60};      // bounds on the TXT answer's TTL for "no policy"
  util::Seconds negative_ttl_max{3600};
  util::Seconds dns_error_retry{60};       // "no policy" cached this long after a DNS failure
  util::Seconds refresh_margin{86400};     // refresh proactively this long before expiry (capped at max_age/2)
  util::Seconds refresh_unused_after{30 * 86400};  // not used for this long: stop refreshing
  util::Seconds drop_unused_after{90 * 86400};     // not used for this long and expired: delete
  util::Seconds last_used_granularity{3600};       // rewrite last_used at most this often
  util::Seconds dane_ttl_min{60};          // bounds on the DNS TTL a DANE verdict is cached for
  util::Seconds dane_ttl_max{3600};
};

// ---- on a socketmap lookup ----
enum class LookupAnswer {
  policy,      // apply record->policy (valid now)
  no_policy,   // cached "no policy" (negative, or nothing valid and retry not due)
  resolve,     // nothing usable cached: resolve now (cold path, bounded by the cold budget)
};
struct LookupPlan {
  LookupAnswer answer = LookupAnswer::resolve;
  bool refresh_in_background = false;  // answer from cache, but start a TXT check (also when the
                                       // record was written before the wall clock went back)
  bool touch = false;                  // set last_used = now on the record written back (coarse;
                                       // always true without a record, so a resolved one gets it)
};
LookupPlan plan_lookup(const CacheRecord* record, util::TimePoint now, const CacheSettings& s);

// ---- resolution outcomes, folded into the record ----
enum class TxtStatus {
  found,     // exactly one valid v=STSv1 record: id is set
  absent,    // NXDOMAIN, NODATA, no v=STSv1 record, several, or an invalid one
  dns_error, // SERVFAIL, timeout, bogus: we do not know
};
struct TxtOutcome {
  TxtStatus status = TxtStatus::absent;
  std::string id;
  util::Seconds ttl{0};  // of the answer (negative TTL for absent)
  std::string detail;
};

// After the TXT lookup: must the policy be fetched? (new or changed id, or forced
// by the refresher, unless that id failed recently and next_retry is not due).
bool should_fetch(const CacheRecord* record, const TxtOutcome& txt, util::TimePoint now, bool force);

struct FetchSuccess {
  std::string text;
  StsPolicy policy;
};
struct FetchFailed {
  FailureType type;   // sts-policy-fetch-error | sts-policy-invalid | sts-webpki-invalid
  std::string detail;
};

// New record after a TXT lookup that needed no fetch (id confirmed, absent, DNS error,
// or fetch skipped for back-off). An expired policy is confirmed by its id too, except
// while its own refetch is backed off (then: no policy until next_retry).
CacheRecord apply_txt(const CacheRecord* record, const TxtOutcome& txt, util::TimePoint now, const CacheSettings& s);
// New record after a successful fetch under txt.id.
CacheRecord apply_fetch_success(const CacheRecord* record, const TxtOutcome& txt, FetchSuccess fetched,
                                util::TimePoint now, const CacheSettings& s);
// New record after a failed fetch under txt.id: a still-valid policy is kept (downgrade protection).
CacheRecord apply_fetch_failure(const CacheRecord* record, const TxtOutcome& txt, const FetchFailed& failure,
                                util::TimePoint now, const CacheSettings& s);

// ---- DANE verdicts (profiles with dane = true) ----
enum class DaneAction {
  use_cached,  // record->dane is valid now
  resolve,     // none, or expired: resolve now (cold path, bounded by the cold budget)
};
struct DanePlan {
  DaneAction action = DaneAction::resolve;
  bool refresh_in_background = false;  // valid, but in the last quarter of its life (or made before
                                       // the wall clock went back): resolve ahead
};
DanePlan plan_dane(const CacheRecord* record, util::TimePoint now);
// The decision as cached: for its DNS TTL clamped to [dane_ttl_min, dane_ttl_max];
// a temp_error only for dns_error_retry.
DaneState dane_state(DaneDecision decision, util::TimePoint now, const CacheSettings& s);
// The record with its DANE state replaced; every other field is kept.
CacheRecord apply_dane(const CacheRecord* record, DaneDecision decision, util::TimePoint now, const CacheSettings& s);

// ---- background maintenance ----
// When the cached policy falls due for its proactive refresh (RFC 8461 sec. 3.3):
// valid_until minus the refresh margin, the margin capped at half of max_age;
// nullopt without a policy. needs_refresh adds the conditions of use and back-off.
std::optional<util::TimePoint> refresh_due_at(const CacheRecord& record, const CacheSettings& s);
// Policy used recently and due within the refresh margin: re-fetch it (force). Not while
// a fetch of policy_id or of last_txt_id is backed off, nor while an expired policy has a
// cached "no policy" (negative_until).
bool needs_refresh(const CacheRecord& record, util::TimePoint now, const CacheSettings& s);
// Unused for drop_unused_after and nothing valid left: delete.
bool should_drop(const CacheRecord& record, util::TimePoint now, const CacheSettings& s);

}  // namespace mtastsd::core

// The policy cache state machine (RFC 8461 sec. 3.3 and 5.1), pure: "now" is a
// parameter and every outcome is a new record. Summary:
//  - a policy is valid for max_age from its last fetch or id confirmation;
//  - a valid policy survives a failed fetch, a vanished TXT record and DNS errors
//    (downgrade protection, sec. 3.3); with no valid policy the domain is treated
//    as having none, and that "no policy" answer is cached for a while;
//  - a failed fetch of an id is not repeated before fetch_retry_after (sec. 3.3:
//    "five minutes or longer per version ID");
//  - policies in use are refreshed before they expire (sec. 3.3), unused ones are
//    left to expire and are eventually dropped;
//  - a DANE verdict lives as long as the DNS answers it was made from (their
//    lowest TTL, within configured bounds); a verdict that could not be made
//    (temp_error) is retried after dns_error_retry;
//  - a time stamp ahead of now was written before the wall clock went back: what
//    it puts off (an id check, a cached "no policy", a fetch back-off, a DANE
//    verdict's re-check) is due at once instead of after the jump's length.
#include "core/cache_rules.hpp"

#include <algorithm>

namespace mtastsd::core {
namespace {

bool has_valid_policy(const CacheRecord* record, util::TimePoint now) {
  return record != nullptr && record->policy_valid_at(now);
}

// `stamp` lies ahead of now: the wall clock went back since it was written.
bool clock_went_back_since(util::TimePoint stamp, util::TimePoint now) { return stamp > now; }

// A fetch of `id` failed and its back-off has not elapsed (RFC 8461 sec. 3.3).
bool fetch_backed_off(const CacheRecord& r, std::string_view id, util::TimePoint now) {
  return !r.failed_id.empty() && r.failed_id == id && now < r.next_retry && !clock_went_back_since(r.failed_at, now);
}

// Cached "no policy" answers last as long as the DNS said (the negative TTL for
// NXDOMAIN/NODATA, RFC 2308), within configured bounds.
util::Seconds negative_ttl(const TxtOutcome& txt, const CacheSettings& s) {
  return std::clamp(txt.ttl, s.negative_ttl_min, s.negative_ttl_max);
}

}  // namespace

LookupPlan plan_lookup(const CacheRecord* record, util::TimePoint now, const CacheSettings& s) {
  LookupPlan plan;
  // last_used is rewritten at most once per granularity, so hot domains do not
  // turn every lookup into an LMDB write; a missing record is always written.
  plan.touch = record == nullptr || now - record->last_used >= s.last_used_granularity;
  if (record == nullptr) return plan;
  const bool clock_went_back = clock_went_back_since(record->last_id_check, now);
  if (record->policy_valid_at(now)) {
    plan.answer = LookupAnswer::policy;
    // RFC 8461 sec. 5.1: look for a changed id while serving the cached policy.
    plan.refresh_in_background = clock_went_back || now - record->last_id_check >= s.id_check_interval;
  } else if (now < record->negative_until) {
    plan.answer = LookupAnswer::no_policy;
    plan.refresh_in_background = clock_went_back;
  }
  return plan;
}

bool should_fetch(const CacheRecord* record, const TxtOutcome& txt, util::TimePoint now, bool force) {
  if (txt.status != TxtStatus::found) return false;
  if (record == nullptr) return true;
  if (fetch_backed_off(*record, txt.id, now)) return false;
  // An expired policy is no policy: its id no longer spares a fetch.
  return force || !record->policy_valid_at(now) || txt.id != record->policy_id;
}

CacheRecord apply_txt(const CacheRecord* record, const TxtOutcome& txt, util::TimePoint now, const CacheSettings& s) {
  CacheRecord r = record ? *record : CacheRecord{};
  const bool valid = has_valid_policy(record, now);
  r.last_id_check = now;
  r.last_txt_id = txt.status == TxtStatus::found ? txt.id : std::string();

  switch (txt.status) {
    case TxtStatus::found: {
      // The published id still names the cached policy: that confirms it for
      // another max_age without a fetch (RFC 8461 sec. 3.1 "id", 3.3). An expired
      // policy is confirmed too, unless its own refetch just failed: then no
      // policy could be fetched and none is valid, so there is none (sec. 3.3).
      const bool confirms = r.has_policy() && txt.id == r.policy_id && (valid || !fetch_backed_off(r, txt.id, now));
      if (confirms) {
        r.valid_until = now + util::Seconds(r.policy.max_age);
        r.negative_until = {};
      } else if (!valid && fetch_backed_off(r, txt.id, now)) {
        // The fetch was skipped for back-off: "no policy" until it may be retried.
        r.negative_until = r.next_retry;
      }
      break;
    }
    case TxtStatus::absent:
      // A vanished TXT record does not void a valid policy (RFC 8461 sec. 3.3, 5.1).
      if (!valid) r.negative_until = now + negative_ttl(txt, s);
      break;
    case TxtStatus::dns_error:
      // We learnt nothing: keep a valid policy; without one, retry DNS soon.
      if (!valid) r.negative_until = now + s.dns_error_retry;
      break;
  }
  return r;
}

CacheRecord apply_fetch_success(const CacheRecord* record, const TxtOutcome& txt, FetchSuccess fetched,
                                util::TimePoint now, const CacheSettings&) {
  CacheRecord r = record ? *record : CacheRecord{};
  r.policy_id = txt.id;
  r.policy_text = std::move(fetched.text);
  r.policy = std::move(fetched.policy);
  r.fetched_at = now;
  // RFC 8461 sec. 3.2: max_age counts from the fetch. A "mode: none" policy is
  // cached like any other; the answer layer maps it to "no policy".
  r.valid_until = now + util::Seconds(r.policy.max_age);
  r.last_id_check = now;
  r.last_txt_id = txt.id;
  r.negative_until = {};
  r.failure.reset();
  r.failure_detail.clear();
  r.failed_id.clear();
  r.failed_at = {};
  r.next_retry = {};
  r.consecutive_failures = 0;
  return r;
}

CacheRecord apply_fetch_failure(const CacheRecord* record, const TxtOutcome& txt, const FetchFailed& failure,
                                util::TimePoint now, const CacheSettings& s) {
  CacheRecord r = record ? *record : CacheRecord{};
  // The policy fields stay untouched: a still-valid policy keeps applying
  // (RFC 8461 sec. 3.3, downgrade protection); an expired one is not revived.
  r.failure = failure.type;
  r.failure_detail = failure.detail;
  r.failed_id = txt.id;
  r.failed_at = now;
  r.next_retry = now + s.fetch_retry_after;
  ++r.consecutive_failures;
  r.last_id_check = now;
  r.last_txt_id = txt.id;
  // Without a valid policy, deliver as if there were none until the retry is due.
  if (!r.policy_valid_at(now)) r.negative_until = r.next_retry;
  return r;
}

DanePlan plan_dane(const CacheRecord* record, util::TimePoint now) {
  DanePlan plan;
  if (record == nullptr || !record->dane || now >= record->dane->valid_until) return plan;
  plan.action = DaneAction::use_cached;
  // Resolving again before expiry keeps domains in steady use from ever waiting
  // for a DANE resolution (the idea of unbound's "prefetch").
  const auto life = record->dane->valid_until - record->dane->checked_at;
  plan.refresh_in_background =
      now >= record->dane->valid_until - life / 4 || clock_went_back_since(record->dane->checked_at, now);
  return plan;
}

DaneState dane_state(DaneDecision decision, util::TimePoint now, const CacheSettings& s) {
  const util::Seconds ttl =
      decision.ttl ? std::clamp(*decision.ttl, s.dane_ttl_min, s.dane_ttl_max) : s.dns_error_retry;
  return DaneState{decision.verdict, std::move(decision.reason), now, now + ttl, std::move(decision.hosts)};
}

CacheRecord apply_dane(const CacheRecord* record, DaneDecision decision, util::TimePoint now,
                       const CacheSettings& s) {
  CacheRecord r = record ? *record : CacheRecord{};
  r.dane = dane_state(std::move(decision), now, s);
  return r;
}

bool needs_refresh(const CacheRecord& r, util::TimePoint now, const CacheSettings& s) {
  if (!r.has_policy()) return false;
  // Unused domains are left to expire (and later dropped) instead of being kept alive.
  if (now - r.last_used >= s.refresh_unused_after) return false;
  // A failed fetch of the cached or the currently published id waits for its back-off.
  if (fetch_backed_off(r, r.policy_id, now) || fetch_backed_off(r, r.last_txt_id, now)) return false;
  // An expired policy with a cached "no policy" answer (TXT gone, DNS failing)
  // waits for that answer to lapse, like a lookup would.
  if (!r.policy_valid_at(now) && now < r.negative_until) return false;
  return now >= *refresh_due_at(r, s);
}

std::optional<util::TimePoint> refresh_due_at(const CacheRecord& r, const CacheSettings& s) {
  if (!r.has_policy()) return std::nullopt;
  // RFC 8461 sec. 3.3: refresh before expiry; the margin is capped at half of
  // max_age so short-lived policies are not refetched on every scan.
  const util::Seconds margin = std::min(s.refresh_margin, util::Seconds(r.policy.max_age / 2));
  return r.valid_until - margin;
}

bool should_drop(const CacheRecord& r, util::TimePoint now, const CacheSettings& s) {
  return now - r.last_used >= s.drop_unused_after && !r.policy_valid_at(now) && r.negative_until <= now;
}

}  // namespace mtastsd::core

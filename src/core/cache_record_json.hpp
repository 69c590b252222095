// A cache record as JSON (times as unix seconds, 0 = never), the one form that
// `mtastsctl cache show/list/export --json` print and the daemon's control socket
// sends back for `cache refresh` (core/control_protocol), so both always agree.
#pragma once
#include <string>
#include <vector>
#include <nlohmann/json.hpp>
#include "core/cache_record.hpp"
#include "core/cache_rules.hpp"
#include "util/clock.hpp"

namespace mtastsd::core {

// "policy" (valid), "expired", "negative" (no policy, cached), "stale" (nothing valid, due for resolution).
std::string record_state(const CacheRecord& r, util::TimePoint now);
// {"domain", "state", "policy_id", "mode" (null without a policy), "max_age", "mx", "policy_text",
//  "fetched_at", "valid_until", "next_refresh" (null: nothing to refresh; see refresh_due_at),
//  "last_id_check", "last_txt_id", "last_used", "negative_until", "failure", "failure_detail",
//  "failed_id", "failed_at", "next_retry", "consecutive_failures", "dane" (null or {"verdict",
//  "reason", "checked_at", "valid_until", "hosts"})}.
nlohmann::json record_json(const std::string& domain, const CacheRecord& r, util::TimePoint now,
                           const CacheSettings& settings);
// {"mode", "max_age", "mx"}.
nlohmann::json policy_json(const StsPolicy& p);
// {"host", "usable_tlsa"} per MX host checked for DANE.
nlohmann::json dane_hosts_json(const std::vector<DaneHost>& hosts);

}  // namespace mtastsd::core

// How mtastsctl shows a cache record: JSON (times as unix seconds) and text.
#pragma once
#include <string>
#include <vector>
#include <nlohmann/json.hpp>
#include "core/cache_record.hpp"
#include "util/clock.hpp"

namespace mtastsd::ctl {

// "policy" (valid), "expired", "negative" (no policy, cached), "stale" (nothing valid, due for resolution).
std::string record_state(const core::CacheRecord& r, util::TimePoint now);
nlohmann::json record_json(const std::string& domain, const core::CacheRecord& r, util::TimePoint now);
std::string record_text(const std::string& domain, const core::CacheRecord& r, util::TimePoint now);
nlohmann::json policy_json(const core::StsPolicy& p);
// {"host", "usable_tlsa"} per MX host checked for DANE.
nlohmann::json dane_hosts_json(const std::vector<core::DaneHost>& hosts);

}  // namespace mtastsd::ctl

// How mtastsctl shows a cache record and the MX validation beside it (issue 5):
// JSON (times as unix seconds) and text.
#pragma once
#include <string>
#include <vector>
#include <nlohmann/json.hpp>
#include "core/cache_record.hpp"
#include "core/mx_validation.hpp"
#include "util/clock.hpp"

namespace mtastsd::ctl {

// "policy" (valid), "expired", "negative" (no policy, cached), "stale" (nothing valid, due for resolution).
std::string record_state(const core::CacheRecord& r, util::TimePoint now);
nlohmann::json record_json(const std::string& domain, const core::CacheRecord& r, util::TimePoint now);
std::string record_text(const std::string& domain, const core::CacheRecord& r, util::TimePoint now);
nlohmann::json policy_json(const core::StsPolicy& p);
// {"host", "usable_tlsa"} per MX host checked for DANE.
nlohmann::json dane_hosts_json(const std::vector<core::DaneHost>& hosts);
// {"checked_at", "policy_id", "mx_error", "hosts": [{"host", "checks": [{"address",
// "checked_at", "result", "detail", "helo"}]}]}; result "ok", "unreachable" or the RFC
// 8460 result type.
nlohmann::json validations_json(const core::MxValidations& v);
// "MX validation:" and one line per host and address, for record_text's output.
std::string validations_text(const core::MxValidations& v, util::TimePoint now);

}  // namespace mtastsd::ctl

// How mtastsctl shows a cache record and the MX validation beside it (issue 5):
// text, and the validation as JSON (the record's JSON is core/cache_record_json).
#pragma once
#include <string>
#include <vector>
#include <nlohmann/json.hpp>
#include "core/cache_record.hpp"
#include "core/cache_rules.hpp"
#include "core/mx_validation.hpp"
#include "util/clock.hpp"

namespace mtastsd::ctl {

// "domain:   ..." lines, times in UTC and relative to now, the policy text last.
std::string record_text(const std::string& domain, const core::CacheRecord& r, util::TimePoint now,
                        const core::CacheSettings& settings);
// {"checked_at", "policy_id", "mx_error", "hosts": [{"host", "checks": [{"address",
// "checked_at", "result", "detail", "helo"}]}]}; result "ok", "unreachable" or the RFC
// 8460 result type.
nlohmann::json validations_json(const core::MxValidations& v);
// "MX validation:" and one line per host and address, for record_text's output.
std::string validations_text(const core::MxValidations& v, util::TimePoint now);

}  // namespace mtastsd::ctl

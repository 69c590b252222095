// JSON form of cache records; see the header.
#include "core/cache_record_json.hpp"

#include "core/failure_type.hpp"

namespace mtastsd::core {

std::string record_state(const CacheRecord& r, util::TimePoint now) {
  if (r.policy_valid_at(now)) return "policy";
  if (now < r.negative_until) return "negative";
  if (r.has_policy()) return "expired";
  return "stale";
}

nlohmann::json policy_json(const StsPolicy& p) {
  return {{"mode", std::string(to_string(p.mode))}, {"max_age", p.max_age}, {"mx", p.mx}};
}

nlohmann::json dane_hosts_json(const std::vector<DaneHost>& hosts) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& h : hosts) out.push_back({{"host", h.host}, {"usable_tlsa", h.usable_tlsa}});
  return out;
}

nlohmann::json record_json(const std::string& domain, const CacheRecord& r, util::TimePoint now,
                           const CacheSettings& settings) {
  using util::to_unix;
  const auto refresh = refresh_due_at(r, settings);
  nlohmann::json j{{"domain", domain},
                   {"state", record_state(r, now)},
                   {"policy_id", r.policy_id},
                   {"mode", r.has_policy() ? nlohmann::json(std::string(to_string(r.policy.mode))) : nullptr},
                   {"max_age", r.policy.max_age},
                   {"mx", r.policy.mx},
                   {"policy_text", r.policy_text},
                   {"fetched_at", to_unix(r.fetched_at)},
                   {"valid_until", to_unix(r.valid_until)},
                   {"next_refresh", refresh ? nlohmann::json(to_unix(*refresh)) : nullptr},
                   {"last_id_check", to_unix(r.last_id_check)},
                   {"last_txt_id", r.last_txt_id},
                   {"last_used", to_unix(r.last_used)},
                   {"negative_until", to_unix(r.negative_until)},
                   {"failure", r.failure ? nlohmann::json(std::string(to_string(*r.failure))) : nullptr},
                   {"failure_detail", r.failure_detail},
                   {"failed_id", r.failed_id},
                   {"failed_at", to_unix(r.failed_at)},
                   {"next_retry", to_unix(r.next_retry)},
                   {"consecutive_failures", r.consecutive_failures}};
  j["dane"] = nullptr;
  if (r.dane)
    j["dane"] = {{"verdict", std::string(to_string(r.dane->verdict))},
                 {"reason", r.dane->reason},
                 {"checked_at", to_unix(r.dane->checked_at)},
                 {"valid_until", to_unix(r.dane->valid_until)},
                 {"hosts", dane_hosts_json(r.dane->hosts)}};
  return j;
}

}  // namespace mtastsd::core

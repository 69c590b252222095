// Presentation of cache records for mtastsctl; see the header.
#include "ctl/record_view.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include "core/cache_record_json.hpp"
#include "core/failure_type.hpp"

namespace mtastsd::ctl {
namespace {
// "2026-11-29T21:49:06Z (-5m)", "-" for a time never set.
std::string format_when(util::TimePoint t, util::TimePoint now) {
  return util::to_unix(t) == 0 ? std::string("-")
                               : fmt::format("{} ({})", util::format_utc(t), util::format_relative(t, now));
}
}  // namespace

nlohmann::json validations_json(const core::MxValidations& v) {
  nlohmann::json hosts = nlohmann::json::array();
  for (const core::MxHostValidation& h : v.hosts) {
    nlohmann::json checks = nlohmann::json::array();
    for (const core::MxCheck& c : h.checks)
      checks.push_back({{"address", c.address},
                        {"checked_at", util::to_unix(c.checked_at)},
                        {"result", std::string(core::result_name(c))},
                        {"detail", c.detail},
                        {"helo", c.helo}});
    hosts.push_back({{"host", h.host}, {"checks", std::move(checks)}});
  }
  return {{"checked_at", util::to_unix(v.checked_at)},
          {"policy_id", v.policy_id},
          {"mx_error", v.mx_error},
          {"hosts", std::move(hosts)}};
}

std::string validations_text(const core::MxValidations& v, util::TimePoint now) {
  std::string out = fmt::format("MX validation:  {} (policy id {})\n", format_when(v.checked_at, now), v.policy_id);
  if (!v.mx_error.empty()) out += fmt::format("  {} (hosts below from before)\n", v.mx_error);
  for (const core::MxHostValidation& h : v.hosts) {
    for (const core::MxCheck& c : h.checks) {
      const std::string where = c.address.empty() ? h.host : fmt::format("{} [{}]", h.host, c.address);
      out += fmt::format("  {}: {}", where, core::result_name(c));
      if (!c.detail.empty()) out += fmt::format(": {}", c.detail);
      if (!c.helo.empty()) out += fmt::format(" (greeting {})", c.helo);
      out += fmt::format(", {}\n", format_when(c.checked_at, now));
    }
  }
  return out;
}

std::string record_text(const std::string& domain, const core::CacheRecord& r, util::TimePoint now,
                        const core::CacheSettings& settings) {
  auto when = [&](util::TimePoint t) { return format_when(t, now); };
  std::string out = fmt::format("domain:         {}\nstate:          {}\n", domain, core::record_state(r, now));
  if (r.has_policy()) {
    out += fmt::format("policy id:      {}\nmode:           {}\nmax_age:        {}\nmx:             {}\n", r.policy_id,
                       core::to_string(r.policy.mode), r.policy.max_age, fmt::join(r.policy.mx, " "));
    out += fmt::format("fetched at:     {}\nvalid until:    {}\nnext refresh:   {}\n", when(r.fetched_at),
                       when(r.valid_until), when(*core::refresh_due_at(r, settings)));
  }
  out += fmt::format("last id check:  {}\nlast TXT id:    {}\nlast used:      {}\n", when(r.last_id_check),
                     r.last_txt_id.empty() ? "-" : r.last_txt_id, when(r.last_used));
  if (util::to_unix(r.negative_until) != 0) out += fmt::format("no policy until:{}\n", when(r.negative_until));
  if (r.failure)
    out += fmt::format("last failure:   {} for id {} at {}: {}\nnext retry:     {}\nfailures:       {}\n",
                       core::to_string(*r.failure), r.failed_id, when(r.failed_at), r.failure_detail,
                       when(r.next_retry), r.consecutive_failures);
  if (r.dane) {
    std::vector<std::string> hosts;
    for (const auto& h : r.dane->hosts)
      hosts.push_back(fmt::format("{} ({})", h.host, h.usable_tlsa ? "usable TLSA" : "no usable TLSA"));
    out += fmt::format("DANE:           {} ({})\nDANE checked:   {}\nDANE until:     {}\n",
                       core::to_string(r.dane->verdict), r.dane->reason, when(r.dane->checked_at),
                       when(r.dane->valid_until));
    if (!hosts.empty()) out += fmt::format("DANE hosts:     {}\n", fmt::join(hosts, ", "));
  }
  if (r.has_policy()) {
    out += "policy text:\n";
    for (const auto& line : r.policy.lines) out += "  " + line + "\n";
  }
  return out;
}

}  // namespace mtastsd::ctl

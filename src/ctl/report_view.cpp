// Presentation of TLS-RPT counts for mtastsctl; see the header.
#include "ctl/report_view.hpp"

namespace mtastsd::ctl {

DaySummary summarize(const core::DomainDay& day) {
  DaySummary s;
  for (const core::PolicyAggregate& p : day.policies) {
    s.successful += p.successful_sessions;
    s.failed += p.failed_sessions;
  }
  return s;
}

nlohmann::json day_json(const core::DomainDayKey& key, const core::DomainDay& day) {
  const DaySummary total = summarize(day);
  nlohmann::json policies = nlohmann::json::array();
  for (const core::PolicyAggregate& p : day.policies) {
    policies.push_back({{"type", std::string(core::to_string(p.policy.type))},
                        {"domain", p.policy.domain},
                        {"rua", p.rua},
                        {"successful", p.successful_sessions},
                        {"failed", p.failed_sessions},
                        {"failure_details", p.failure_details.size()}});
  }
  return {{"day", key.day.to_string()},
          {"domain", key.report_domain},
          {"successful", total.successful},
          {"failed", total.failed},
          {"policies", std::move(policies)}};
}

std::expected<nlohmann::ordered_json, core::ReportFailure> reports_json(const core::ReportOrigin& origin,
                                                                const core::DomainDayKey& key,
                                                                const core::DomainDay& day) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const core::ReportGroup& group : core::group_by_rua(day)) {
    auto report = core::build_report(origin, key.day, key.report_domain, group.policies, kPreviewToken);
    if (!report) return std::unexpected(report.error());
    out.push_back({{"rua", group.rua},
                   {"report_id", report->report_id},
                   {"file_name", report->file_name},
                   {"subject", report->subject},
                   {"report", nlohmann::ordered_json::parse(report->json)}});
  }
  return out;
}

}  // namespace mtastsd::ctl

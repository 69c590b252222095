// How mtastsctl shows TLS-RPT counts: one (day, domain) summed up for
// `report list`, and the RFC 8460 reports `report show` prints.
#pragma once
#include <cstdint>
#include <expected>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>
#include "core/tlsrpt_report.hpp"

namespace mtastsd::ctl {

struct DaySummary {
  std::uint64_t successful = 0;
  std::uint64_t failed = 0;
};
DaySummary summarize(const core::DomainDay& day);

// {"day", "domain", "successful", "failed", "policies": [{"type", "domain", "rua",
//  "successful", "failed", "failure_details"}]}; failure_details counts distinct details.
nlohmann::json day_json(const core::DomainDayKey& key, const core::DomainDay& day);

// report-id token of a report shown, not sent: the one sent gets a unique one.
inline constexpr const char* kPreviewToken = "preview";

// One report per rua list (core::group_by_rua): {"rua", "report_id", "file_name",
// "subject", "report": the RFC 8460 JSON}, or the build error.
std::expected<nlohmann::ordered_json, core::ReportFailure> reports_json(const core::ReportOrigin& origin,
                                                                const core::DomainDayKey& key,
                                                                const core::DomainDay& day);

}  // namespace mtastsd::ctl

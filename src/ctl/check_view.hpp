// How `mtastsctl check` shows its findings: text for people (grouped by area, each
// finding wrapped under its severity, the guide's failure mode named) and JSON for tools.
#pragma once
#include <optional>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>
#include "core/setup_check.hpp"

namespace mtastsd::ctl {

std::string check_text(const std::string& domain, const std::vector<core::Finding>& findings);

// {"domain", "result" ("ok" | "warnings" | "failures"), "counts", "findings": [{"area", "severity",
//  "code", "failure_mode", "failure_mode_title", "subject", "text"}], "policy", "steps"}
nlohmann::json check_json(const std::string& domain, const std::vector<core::Finding>& findings,
                          const std::optional<core::StsPolicy>& policy, const std::string& policy_text,
                          const std::vector<std::string>& steps);

}  // namespace mtastsd::ctl

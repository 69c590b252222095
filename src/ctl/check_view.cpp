// Presentation of `mtastsctl check`; see check_view.hpp.
#include "ctl/check_view.hpp"

#include <algorithm>
#include <fmt/format.h>
#include "core/cache_record_json.hpp"

namespace mtastsd::ctl {
namespace {

constexpr std::size_t kLineWidth = 100;  // text output wraps here
constexpr std::size_t kIndent = 11;      // "  FAILURE  "

std::string heading(core::CheckArea area, const std::string& domain) {
  switch (area) {
    case core::CheckArea::sts_record: return fmt::format("MTA-STS record (_mta-sts.{})", domain);
    case core::CheckArea::policy_fetch:
      return fmt::format("Policy fetch (https://mta-sts.{}/.well-known/mta-sts.txt)", domain);
    case core::CheckArea::policy: return "Policy";
    case core::CheckArea::cache: return "Policy cached by mtastsd";
    case core::CheckArea::mx: return "MX records";
    case core::CheckArea::mx_tls: return "MX hosts: STARTTLS and certificates";
    case core::CheckArea::dane: return "DANE";
    case core::CheckArea::tlsrpt_record: return fmt::format("TLS-RPT record (_smtp._tls.{})", domain);
  }
  return "?";
}

std::string label(core::Severity s) {
  switch (s) {
    case core::Severity::ok: return "ok";
    case core::Severity::skipped: return "skipped";
    case core::Severity::warning: return "WARNING";
    case core::Severity::failure: return "FAILURE";
  }
  return "?";
}

// Words of `text` in lines of at most kLineWidth, the first after the label, the rest indented.
std::string wrapped(const std::string& text) {
  std::string out, line;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find(' ', start);
    if (end == std::string::npos) end = text.size();
    const std::string word = text.substr(start, end - start);
    if (!line.empty() && kIndent + line.size() + 1 + word.size() > kLineWidth) {
      out += line + "\n" + std::string(kIndent, ' ');
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
    start = end + 1;
  }
  return out + line + "\n";
}

std::size_t count(const std::vector<core::Finding>& findings, core::Severity s) {
  return static_cast<std::size_t>(std::ranges::count(findings, s, &core::Finding::severity));
}

std::string result_word(core::Severity worst) {
  switch (worst) {
    case core::Severity::ok:
    case core::Severity::skipped: return "ok";
    case core::Severity::warning: return "warnings";
    case core::Severity::failure: return "failures";
  }
  return "?";
}

}  // namespace

std::string check_text(const std::string& domain, const std::vector<core::Finding>& findings) {
  std::string out = fmt::format("Checking {} from the sending side\n", domain);
  std::optional<core::CheckArea> area;
  for (const auto& f : findings) {
    if (f.area != area) {
      area = f.area;
      out += "\n" + heading(f.area, domain) + "\n";
    }
    std::string text = f.text;
    if (f.failure_mode) text = fmt::format("[{}] {}", core::title(*f.failure_mode), text);
    out += fmt::format("  {:<9}", label(f.severity)) + wrapped(text);
  }
  const std::size_t failures = count(findings, core::Severity::failure);
  const std::size_t warnings = count(findings, core::Severity::warning);
  if (failures + warnings == 0)
    out += "\nResult: no problems found.\n";
  else
    out += fmt::format("\nResult: {} failure(s), {} warning(s).\n", failures, warnings);
  return out;
}

nlohmann::json check_json(const std::string& domain, const std::vector<core::Finding>& findings,
                          const std::optional<core::StsPolicy>& policy, const std::string& policy_text,
                          const std::vector<std::string>& steps) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& f : findings) {
    list.push_back({{"area", std::string(core::to_string(f.area))},
                    {"severity", std::string(core::to_string(f.severity))},
                    {"code", f.code},
                    {"failure_mode", f.failure_mode ? nlohmann::json(std::string(core::to_string(*f.failure_mode)))
                                                    : nlohmann::json(nullptr)},
                    {"failure_mode_title", f.failure_mode ? nlohmann::json(std::string(core::title(*f.failure_mode)))
                                                          : nlohmann::json(nullptr)},
                    {"subject", f.subject},
                    {"text", f.text}});
  }
  nlohmann::json policy_json = nullptr;
  if (policy) {
    policy_json = core::policy_json(*policy);
    policy_json["text"] = policy_text;
  }
  nlohmann::json counts = nlohmann::json::object();
  for (auto s : {core::Severity::ok, core::Severity::skipped, core::Severity::warning, core::Severity::failure})
    counts[std::string(core::to_string(s))] = count(findings, s);
  return {{"domain", domain}, {"result", result_word(core::worst(findings))}, {"counts", counts},
          {"findings", list}, {"policy", policy_json}, {"steps", steps}};
}

}  // namespace mtastsd::ctl

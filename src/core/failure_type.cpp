// RFC 8460 sec. 4.3 result-type spellings.
#include "core/failure_type.hpp"

#include <array>
#include <utility>

namespace mtastsd::core {
namespace {
constexpr std::array<std::pair<FailureType, std::string_view>, 11> kNames{{
    {FailureType::starttls_not_supported, "starttls-not-supported"},
    {FailureType::certificate_host_mismatch, "certificate-host-mismatch"},
    {FailureType::certificate_expired, "certificate-expired"},
    {FailureType::certificate_not_trusted, "certificate-not-trusted"},
    {FailureType::validation_failure, "validation-failure"},
    {FailureType::tlsa_invalid, "tlsa-invalid"},
    {FailureType::dnssec_invalid, "dnssec-invalid"},
    {FailureType::dane_required, "dane-required"},
    {FailureType::sts_policy_fetch_error, "sts-policy-fetch-error"},
    {FailureType::sts_policy_invalid, "sts-policy-invalid"},
    {FailureType::sts_webpki_invalid, "sts-webpki-invalid"},
}};
}  // namespace

std::string_view to_string(FailureType t) {
  for (const auto& [type, name] : kNames)
    if (type == t) return name;
  return "validation-failure";
}

std::optional<FailureType> failure_type_from_string(std::string_view s) {
  for (const auto& [type, name] : kNames)
    if (name == s) return type;
  return std::nullopt;
}

}  // namespace mtastsd::core

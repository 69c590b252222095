// RFC 8460 sec. 4.3 result types. Every failure mtastsd observes or causes is
// classified as one of these, so TLS-RPT reports can be built from them.
#pragma once
#include <optional>
#include <string_view>

namespace mtastsd::core {

enum class FailureType {
  starttls_not_supported,
  certificate_host_mismatch,
  certificate_expired,
  certificate_not_trusted,
  validation_failure,
  tlsa_invalid,
  dnssec_invalid,
  dane_required,
  sts_policy_fetch_error,
  sts_policy_invalid,
  sts_webpki_invalid,
};

// The RFC 8460 spelling, e.g. "sts-policy-fetch-error".
std::string_view to_string(FailureType t);
std::optional<FailureType> failure_type_from_string(std::string_view s);

}  // namespace mtastsd::core

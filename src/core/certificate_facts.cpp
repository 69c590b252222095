// Name coverage of a certificate; see certificate_facts.hpp.
#include "core/certificate_facts.hpp"

#include <algorithm>
#include "core/sts_policy.hpp"

namespace mtastsd::core {

bool certificate_covers(const CertificateFacts& certificate, std::string_view host) {
  // An mx pattern and a certificate name share one rule: "*" is one whole left-most label.
  return std::ranges::any_of(certificate.names,
                             [&](const std::string& name) { return mx_pattern_matches(name, host); });
}

}  // namespace mtastsd::core

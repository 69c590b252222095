// One TLS session outcome, the common currency of TLS reporting: every source
// (libtlsrpt datagrams from Postfix >= 3.10, Postfix <= 3.9 log lines, mtastsd's
// own policy outcomes) produces SessionEvents, and the aggregator
// (core/tlsrpt_report) counts them into RFC 8460 sec. 4 reports.
// Pure data without a time: whoever receives an event knows when, and picks the
// UTC day it is counted under.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include "core/failure_type.hpp"

namespace mtastsd::core {

// RFC 8460 sec. 4.4 policy-type, plus `unknown` for sources that cannot tell
// (Postfix log lines): such events must be resolved (e.g. to sts when mtastsd has
// a policy cached for the domain) before they are aggregated.
enum class PolicyType { sts, tlsa, no_policy_found, unknown };

inline std::string_view to_string(PolicyType t) {
  switch (t) {
    case PolicyType::sts: return "sts";
    case PolicyType::tlsa: return "tlsa";
    case PolicyType::no_policy_found: return "no-policy-found";
    case PolicyType::unknown: return "unknown";
  }
  return "unknown";
}

// The RFC 8460 spellings only ("unknown" is not one).
inline std::optional<PolicyType> policy_type_from_string(std::string_view s) {
  for (const PolicyType t : {PolicyType::sts, PolicyType::tlsa, PolicyType::no_policy_found})
    if (to_string(t) == s) return t;
  return std::nullopt;
}

// The policy the sender applied (RFC 8460 sec. 4.4 "policy").
struct AppliedPolicy {
  PolicyType type = PolicyType::unknown;
  std::vector<std::string> strings;   // policy-string: the policy's lines (sts) or TLSA records (tlsa)
  std::string domain;                 // policy-domain; sources fill it (the report domain when nothing else is known)
  std::vector<std::string> mx_hosts;  // mx-host: the policy's mx patterns (sts)
  bool operator==(const AppliedPolicy&) const = default;
};

// One failure of a session (RFC 8460 sec. 4.4 "failure-details" without the
// count); empty strings are fields the source did not know.
struct FailureDetail {
  FailureType result_type = FailureType::validation_failure;
  std::string sending_mta_ip;
  std::string receiving_mx_hostname;
  std::string receiving_mx_helo;
  std::string receiving_ip;
  std::string additional_information;
  std::string failure_reason_code;
  bool operator==(const FailureDetail&) const = default;
};

struct SessionEvent {
  std::string report_domain;  // the recipient (policy) domain the report is about
  std::string tlsrpt_record;  // its _smtp._tls TXT record as the source passed it; "" = not known yet
                              // (log lines): look it up before aggregating
  AppliedPolicy policy;
  bool failed = false;  // the session's final result (libtlsrpt "f")
  // What went wrong; libtlsrpt's "t" is its size. Usually empty for a successful
  // session and one entry for a failed one.
  std::vector<FailureDetail> failure_details;
  std::string mx_hostname;  // MX host the session went to, when the source says ("" from
                            // datagrams of successful sessions: libtlsrpt does not carry it)
};

}  // namespace mtastsd::core

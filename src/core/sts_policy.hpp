// The MTA-STS policy file (RFC 8461 sec. 3.2) and MX matching (sec. 4.1).
#pragma once
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mtastsd::core {

enum class StsMode { enforce, testing, none };
std::string_view to_string(StsMode m);
// The mode as the policy file spells it (case-sensitive), the inverse of to_string.
std::optional<StsMode> sts_mode_from_string(std::string_view s);

// RFC 8461 sec. 3.2: max_age "up to 31557600"; also the largest value we cache.
inline constexpr std::int64_t kMaxAgeLimit = 31557600;

struct StsPolicy {
  StsMode mode = StsMode::none;
  std::int64_t max_age = 0;        // seconds, 0..kMaxAgeLimit
  std::vector<std::string> mx;     // lowercase patterns, "mx.example.com" or "*.example.com"
  // The policy's lines "key: value" as parsed (CR and trailing WSP stripped, blank
  // lines dropped), in order, including ignored ones (repeated or unknown keys):
  // TLS-RPT's policy-string (RFC 8460 sec. 4.3) and Postfix's policy_string.
  std::vector<std::string> lines;
};

enum class StsPolicyError {
  syntax,            // a line that is not "key: value"
  bad_version,       // version missing or not STSv1
  bad_mode,          // mode missing or not enforce|testing|none
  bad_max_age,       // max_age missing, not 1*10DIGIT, or above kMaxAgeLimit
  bad_mx,            // an mx pattern that is not a valid host name or "*." + host name
  missing_mx,        // mode enforce/testing without any mx
};
std::string_view to_string(StsPolicyError e);

struct StsPolicyFailure {
  StsPolicyError error;
  std::string detail;  // the offending line or value, truncated for logs
};

// Parse a policy body (already size-capped by the fetcher, RFC 8461 sec. 3.3: 64 KiB).
// LF or CRLF line ends; for every key but mx the first occurrence wins; unknown keys ignored;
// blank lines skipped. mx patterns come out lowercase.
std::expected<StsPolicy, StsPolicyFailure> parse_sts_policy(std::string_view body);

// True if mx pattern `pattern` matches MX host `host` (both lowercase, no trailing dot).
// "*.example.com" matches exactly one extra left-most label (sec. 4.1).
bool mx_pattern_matches(std::string_view pattern, std::string_view host);
bool policy_allows_mx(const StsPolicy& policy, std::string_view host);

// The same pattern in Postfix's match= syntax: "*.example.com" -> ".example.com"
// (Postfix's is looser: one or more labels; Postfix 3.10.5+ mx_host_pattern is exact).
std::string to_postfix_match(std::string_view pattern);

}  // namespace mtastsd::core

// The MTA-STS policy file (core/sts_policy parse_sts_policy, RFC 8461 sec. 3.2)
// and what is built from it: Postfix match= patterns and MX matching (sec. 4.1).
// Properties: a parsed policy is within the RFC's ranges; its lines, written
// back with LF ends (how the cache stores most bodies, core/cache_record), parse
// to the same policy; each mx pattern is a lowercase host name or "*." and one,
// matches what it should and not a name one label deeper; failure details are
// printable.
#include <string>
#include "core/host_name.hpp"
#include "core/sts_policy.hpp"
#include "fuzz_support.hpp"

namespace {

using namespace mtastsd::core;

bool same(const StsPolicy& a, const StsPolicy& b) {
  return a.mode == b.mode && a.max_age == b.max_age && a.mx == b.mx && a.lines == b.lines;
}

void check_pattern(const std::string& pattern, const StsPolicy& policy) {
  const bool wildcard = pattern.starts_with("*.");
  const std::string host = wildcard ? pattern.substr(2) : pattern;
  FUZZ_CHECK(is_host_name(host) && host == ascii_lowercase(host));
  const std::string postfix = to_postfix_match(pattern);
  FUZZ_CHECK(postfix == (wildcard ? "." + host : host));
  if (wildcard) {
    FUZZ_CHECK(mx_pattern_matches(pattern, "mx." + host));
    FUZZ_CHECK(!mx_pattern_matches(pattern, host));
    FUZZ_CHECK(!mx_pattern_matches(pattern, "a.mx." + host));
    FUZZ_CHECK(policy_allows_mx(policy, "mx." + host));
  } else {
    FUZZ_CHECK(mx_pattern_matches(pattern, pattern));
    FUZZ_CHECK(policy_allows_mx(policy, pattern));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto policy = parse_sts_policy(mtastsd::fuzz::as_text(data, size));
  if (!policy) {
    FUZZ_CHECK(mtastsd::fuzz::is_printable(policy.error().detail));
    return 0;
  }
  FUZZ_CHECK(policy->max_age >= 0 && policy->max_age <= kMaxAgeLimit);
  FUZZ_CHECK(policy->mode == StsMode::none || !policy->mx.empty());
  std::string text;
  for (const std::string& line : policy->lines) {
    FUZZ_CHECK(!line.empty() && line.find_first_of("\r\n") == std::string::npos);
    FUZZ_CHECK(line.back() != ' ' && line.back() != '\t');
    text += line + '\n';
  }
  const auto again = parse_sts_policy(text);
  FUZZ_CHECK(again && same(*again, *policy));
  for (const std::string& pattern : policy->mx) check_pattern(pattern, *policy);
  return 0;
}

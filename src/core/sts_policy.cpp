// The MTA-STS policy file (RFC 8461 sec. 3.2), parsed by its ABNF:
//   sts-policy-record      = sts-policy-field *WSP *(sts-policy-term sts-policy-field *WSP) [sts-policy-term]
//   sts-policy-term        = LF / CRLF
//   sts-policy-field-delim = ":" *WSP
//   sts-policy-ext-name    = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
//   sts-policy-ext-value   = sts-policy-vchar [*(%x20 / sts-policy-vchar) sts-policy-vchar]
//   sts-policy-vchar       = VCHAR / UTF8-2 / UTF8-3 / UTF8-4
//   sts-policy-mx-value    = ["*."] Domain            ; Domain as in RFC 5321
//   sts-policy-max-age-value = 1*10(DIGIT)
// Every line must be such a field; field names and the version and mode values
// are case-sensitive (%s"..."). One leniency: blank lines (empty or WSP only),
// which the grammar lacks, are skipped, since trailing ones are common and carry
// no meaning. The rest is exact; an error anywhere makes the whole policy invalid.
#include "core/sts_policy.hpp"

#include <algorithm>
#include <optional>

#include "core/host_name.hpp"
#include "util/ascii.hpp"
#include "util/printable.hpp"

namespace mtastsd::core {
namespace {

constexpr std::size_t kMaxFieldNameLength = 32;  // sts-policy-ext-name: 1 + *31
constexpr std::size_t kMaxAgeDigits = 10;        // sts-policy-max-age-value = 1*10(DIGIT)
constexpr std::string_view kWildcardPrefix = "*.";

bool is_name_char(char c) { return util::is_alnum(c) || c == '_' || c == '-' || c == '.'; }

std::string_view trim_trailing_wsp(std::string_view s) {
  while (!s.empty() && util::is_wsp(s.back())) s.remove_suffix(1);
  return s;
}
std::string_view trim_leading_wsp(std::string_view s) {
  while (!s.empty() && util::is_wsp(s.front())) s.remove_prefix(1);
  return s;
}

// Length of the well-formed UTF-8 sequence at the start of s (RFC 3629 sec. 4:
// no overlong forms, no surrogates, nothing above U+10FFFF), 0 if there is none.
std::size_t utf8_sequence_length(std::string_view s) {
  const auto byte = [&](std::size_t k) -> unsigned { return k < s.size() ? static_cast<unsigned char>(s[k]) : 0x100; };
  const auto in = [&](std::size_t k, unsigned lo, unsigned hi) { return byte(k) >= lo && byte(k) <= hi; };
  const unsigned lead = byte(0);
  if (lead >= 0xc2 && lead <= 0xdf) return in(1, 0x80, 0xbf) ? 2 : 0;
  if (lead >= 0xe0 && lead <= 0xef) {
    const unsigned lo = lead == 0xe0 ? 0xa0 : 0x80;
    const unsigned hi = lead == 0xed ? 0x9f : 0xbf;
    return in(1, lo, hi) && in(2, 0x80, 0xbf) ? 3 : 0;
  }
  if (lead >= 0xf0 && lead <= 0xf4) {
    const unsigned lo = lead == 0xf0 ? 0x90 : 0x80;
    const unsigned hi = lead == 0xf4 ? 0x8f : 0xbf;
    return in(1, lo, hi) && in(2, 0x80, 0xbf) && in(3, 0x80, 0xbf) ? 4 : 0;
  }
  return 0;
}

// sts-policy-ext-value, with leading and trailing WSP already removed.
bool is_field_value(std::string_view value) {
  if (value.empty()) return false;
  for (std::size_t i = 0; i < value.size();) {
    const auto b = static_cast<unsigned char>(value[i]);
    if (b >= 0x20 && b <= 0x7e) {
      ++i;
    } else if (const std::size_t n = utf8_sequence_length(value.substr(i)); n > 0) {
      i += n;
    } else {
      return false;  // a control character (TAB, CR, DEL, ...) or malformed UTF-8
    }
  }
  return true;
}

bool ascii_iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ascii_lowercase(a) == ascii_lowercase(b);
}

std::string_view strip_trailing_dot(std::string_view s) {
  if (s.ends_with('.')) s.remove_suffix(1);
  return s;
}

std::optional<std::int64_t> parse_max_age(std::string_view v) {
  if (v.empty() || v.size() > kMaxAgeDigits || !std::ranges::all_of(v, util::is_digit)) return std::nullopt;
  std::int64_t seconds = 0;
  for (char c : v) seconds = seconds * 10 + (c - '0');  // 10 digits fit in int64
  if (seconds > kMaxAgeLimit) return std::nullopt;
  return seconds;
}

// ["*."] Domain, lowercased.
std::optional<std::string> parse_mx_pattern(std::string_view v) {
  const bool wildcard = v.starts_with(kWildcardPrefix);
  const std::string_view host = wildcard ? v.substr(kWildcardPrefix.size()) : v;
  if (!is_host_name(host)) return std::nullopt;
  return std::string(wildcard ? kWildcardPrefix : "") + ascii_lowercase(host);
}

std::unexpected<StsPolicyFailure> failure(StsPolicyError e, std::string_view what) {
  return std::unexpected(StsPolicyFailure{e, util::printable_excerpt(what)});
}

}  // namespace

std::string_view to_string(StsMode m) {
  switch (m) {
    case StsMode::enforce: return "enforce";
    case StsMode::testing: return "testing";
    case StsMode::none: return "none";
  }
  return "none";
}

std::optional<StsMode> sts_mode_from_string(std::string_view s) {
  for (StsMode m : {StsMode::enforce, StsMode::testing, StsMode::none})
    if (to_string(m) == s) return m;
  return std::nullopt;
}

std::string_view to_string(StsPolicyError e) {
  switch (e) {
    case StsPolicyError::syntax: return "line is not \"key: value\"";
    case StsPolicyError::bad_version: return "version missing or not STSv1";
    case StsPolicyError::bad_mode: return "mode missing or not enforce, testing or none";
    case StsPolicyError::bad_max_age: return "max_age missing, not 1-10 digits, or above 31557600";
    case StsPolicyError::bad_mx: return "mx is not a host name or *. and a host name";
    case StsPolicyError::missing_mx: return "no mx although mode is not none";
  }
  return "invalid policy";
}

std::expected<StsPolicy, StsPolicyFailure> parse_sts_policy(std::string_view body) {
  StsPolicy policy;
  bool have_version = false;
  bool have_mode = false;
  bool have_max_age = false;

  for (std::string_view rest = body; !rest.empty();) {
    const std::size_t lf = rest.find('\n');
    std::string_view line = rest.substr(0, lf);
    rest = lf == std::string_view::npos ? std::string_view{} : rest.substr(lf + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);  // CRLF
    line = trim_trailing_wsp(line);
    if (line.empty()) continue;

    std::size_t name_end = 0;
    while (name_end < line.size() && is_name_char(line[name_end])) ++name_end;
    const std::string_view name = line.substr(0, name_end);
    if (name.empty() || name.size() > kMaxFieldNameLength || !util::is_alnum(name.front()) || name_end == line.size() ||
        line[name_end] != ':')
      return failure(StsPolicyError::syntax, line);
    const std::string_view value = trim_leading_wsp(line.substr(name_end + 1));
    if (!is_field_value(value)) return failure(StsPolicyError::syntax, line);

    // Sec. 3.2: for every field but mx, the first occurrence counts, later ones are ignored.
    if (name == "version" && !have_version) {
      if (value != "STSv1") return failure(StsPolicyError::bad_version, line);
      have_version = true;
    } else if (name == "mode" && !have_mode) {
      const auto mode = sts_mode_from_string(value);
      if (!mode) return failure(StsPolicyError::bad_mode, line);
      policy.mode = *mode;
      have_mode = true;
    } else if (name == "max_age" && !have_max_age) {
      const auto max_age = parse_max_age(value);
      if (!max_age) return failure(StsPolicyError::bad_max_age, line);
      policy.max_age = *max_age;
      have_max_age = true;
    } else if (name == "mx") {
      auto pattern = parse_mx_pattern(value);
      if (!pattern) return failure(StsPolicyError::bad_mx, line);
      policy.mx.push_back(std::move(*pattern));
    }
    policy.lines.emplace_back(line);
  }

  if (!have_version) return failure(StsPolicyError::bad_version, "no version field");
  if (!have_mode) return failure(StsPolicyError::bad_mode, "no mode field");
  if (!have_max_age) return failure(StsPolicyError::bad_max_age, "no max_age field");
  // Sec. 3.2: mx is "required at least once, except when mode is none".
  if (policy.mx.empty() && policy.mode != StsMode::none) return failure(StsPolicyError::missing_mx, "no mx field");
  return policy;
}

bool mx_pattern_matches(std::string_view pattern, std::string_view host) {
  pattern = strip_trailing_dot(pattern);
  host = strip_trailing_dot(host);
  if (pattern.empty() || host.empty()) return false;
  if (!pattern.starts_with(kWildcardPrefix)) return ascii_iequals(pattern, host);
  // Sec. 4.1: "*" matches exactly one whole left-most label.
  const std::string_view suffix = pattern.substr(1);  // ".example.com"
  if (host.size() <= suffix.size()) return false;
  const std::string_view label = host.substr(0, host.size() - suffix.size());
  return label.find('.') == std::string_view::npos && ascii_iequals(host.substr(label.size()), suffix);
}

bool policy_allows_mx(const StsPolicy& policy, std::string_view host) {
  return std::ranges::any_of(policy.mx, [&](const std::string& p) { return mx_pattern_matches(p, host); });
}

std::string to_postfix_match(std::string_view pattern) {
  if (pattern.starts_with(kWildcardPrefix)) return std::string(pattern.substr(1));
  return std::string(pattern);
}

}  // namespace mtastsd::core

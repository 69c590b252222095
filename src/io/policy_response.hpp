// The RFC 8461 sec. 3.3 rules on the HTTP response to a policy fetch, kept pure
// so they are tested apart from the network: status 200 only, redirects never
// followed, media type text/plain. The body is not looked at here.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include "core/cache_rules.hpp"  // FetchFailed

namespace mtastsd::io {

// Our own cap on a policy response's header (RFC 8461 sets none); a policy host
// needs a few hundred bytes. The body's cap is FetchSettings::max_body.
inline constexpr std::uint32_t kMaxPolicyHeaderBytes = 8 * 1024;

// RFC 8461 sec. 3.3: media type "text/plain", parameters (charset) allowed;
// RFC 9110 sec. 8.3.1: type and subtype are case-insensitive.
bool is_text_plain(std::string_view content_type);

// nullopt if the response header is acceptable; else a 3xx or any status other
// than 200 -> sts-policy-fetch-error, another media type -> sts-policy-invalid.
std::optional<core::FetchFailed> check_policy_response(unsigned status, std::string_view location,
                                                       std::string_view content_type);

// A server-supplied value made safe for logs and reports: printable ASCII
// (others become '?'), at most kPrintableLimit characters then "...".
inline constexpr std::size_t kPrintableLimit = 256;  // our own cap; no RFC sets one
std::string printable(std::string_view value);

}  // namespace mtastsd::io

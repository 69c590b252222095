// RFC 8461 sec. 3.3 checks of a policy response's status and Content-Type.
#include "io/policy_response.hpp"

#include <algorithm>
#include <boost/beast/core/string.hpp>
#include <fmt/format.h>

namespace mtastsd::io {

bool is_text_plain(std::string_view content_type) {
  std::string_view media = content_type.substr(0, content_type.find(';'));
  // RFC 9110 sec. 5.6.3: optional whitespace (space, tab) around the parameter separator.
  const auto not_space = [](char c) { return c != ' ' && c != '\t'; };
  const auto first = std::ranges::find_if(media, not_space);
  const auto last = std::ranges::find_if(media.rbegin(), media.rend(), not_space).base();
  media = first < last ? std::string_view(first, last) : std::string_view();
  return boost::beast::iequals(media, "text/plain");
}

std::optional<core::FetchFailed> check_policy_response(unsigned status, std::string_view location,
                                                       std::string_view content_type) {
  using core::FailureType;
  if (status >= 300 && status < 400)  // RFC 8461 sec. 3.3: redirects must not be followed
    return core::FetchFailed{FailureType::sts_policy_fetch_error,
                             fmt::format("HTTP status {}: redirect to {} (not followed)", status, printable(location))};
  if (status != 200)
    return core::FetchFailed{FailureType::sts_policy_fetch_error, fmt::format("HTTP status {}", status)};
  if (content_type.empty())
    return core::FetchFailed{FailureType::sts_policy_invalid, "no Content-Type (text/plain required)"};
  if (!is_text_plain(content_type))
    return core::FetchFailed{FailureType::sts_policy_invalid,
                             fmt::format("Content-Type {} is not text/plain", printable(content_type))};
  return std::nullopt;
}

std::string printable(std::string_view value) {
  std::string out;
  for (char c : value.substr(0, kPrintableLimit)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (value.size() > kPrintableLimit) out += "...";
  return out;
}

}  // namespace mtastsd::io

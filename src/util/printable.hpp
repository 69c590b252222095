// Untrusted text (DNS records, fetched policies, socketmap keys) made safe to
// put into a log line or an error detail: bounded and free of control bytes.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace mtastsd::util {

// At most max_chars bytes of s, bytes outside printable ASCII replaced by '?',
// and "..." appended when s was longer.
std::string printable_excerpt(std::string_view s, std::size_t max_chars = 120);

}  // namespace mtastsd::util

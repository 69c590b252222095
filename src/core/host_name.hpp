// Host-name syntax shared by MTA-STS mx patterns and next-hop keys: ASCII
// letters-digits-hyphen labels only (A-labels; U-labels are converted before).
#pragma once
#include <string>
#include <string_view>

namespace mtastsd::core {

// RFC 1035 sec. 2.3.4: 63 octets per label, 255 per name on the wire, i.e. 253
// characters in text form without the trailing dot.
inline constexpr std::size_t kMaxLabelLength = 63;
inline constexpr std::size_t kMaxHostNameLength = 253;

// RFC 5321 sec. 4.1.2 "Domain": labels of ALPHA / DIGIT / "-" that begin and end
// with a letter or digit, within the RFC 1035 lengths, no empty label (so no
// trailing dot). The last label must not be all digits (RFC 3696 sec. 2), which
// also keeps IPv4 addresses out. Either case is accepted.
bool is_host_name(std::string_view name);

std::string ascii_lowercase(std::string_view s);

}  // namespace mtastsd::core

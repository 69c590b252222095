// Which IP addresses are special-purpose and not globally reachable: the IANA IPv4 and
// IPv6 Special-Purpose Address Registries (RFC 6890, kept up to date by IANA), where an
// entry says "Globally Reachable: False" (or N/A, for deprecated blocks), plus multicast,
// the deprecated IPv6 site-local and IPv4-compatible blocks. Addresses that embed an
// IPv4 address (NAT64 64:ff9b::/96, 6to4 2002::/16) are judged by that IPv4 address.
// Limits: a fixed table of the registries as of 2024 (RFC 9637, RFC 9602); a block the
// registries add later is seen as ordinary until the table learns it.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mtastsd::util {

struct SpecialPurposeRange {
  std::string_view name;    // "loopback"
  std::string_view source;  // "RFC 1122 sec. 3.2.1.3"
};

using Ipv4Bytes = std::array<std::uint8_t, 4>;   // network order
using Ipv6Bytes = std::array<std::uint8_t, 16>;  // network order

// The range `address` belongs to when it is not a globally reachable unicast address;
// nullopt for an ordinary one.
std::optional<SpecialPurposeRange> special_purpose_range(const Ipv4Bytes& address);
std::optional<SpecialPurposeRange> special_purpose_range(const Ipv6Bytes& address);

// "loopback, RFC 1122 sec. 3.2.1.3": for log lines.
std::string to_string(const SpecialPurposeRange& range);

}  // namespace mtastsd::util

// Special-purpose address tables; see the header. Entries are checked in order, so a
// more specific entry (a globally reachable exception, a precise name) comes before
// the block that holds it.
#include "util/special_address.hpp"

#include <arpa/inet.h>
#include <algorithm>
#include <charconv>
#include <stdexcept>
#include <vector>
#include <fmt/format.h>

namespace mtastsd::util {
namespace {

enum class Reach {
  special,        // not globally reachable: the address is special-purpose
  global,         // an exception inside a special block, reachable from anywhere
  embedded_ipv4,  // judged by the IPv4 address it carries at embedded_at
};

struct Entry {
  std::string_view block;  // "10.0.0.0/8"
  Reach reach;
  std::string_view name;
  std::string_view source;
  std::size_t embedded_at = 0;  // Reach::embedded_ipv4: byte offset of the IPv4 address
};

// IANA IPv4 Special-Purpose Address Registry, and multicast (RFC 5771).
// Globally reachable entries not listed (AS112 192.31.196.0/24 and 192.175.48.0/24,
// AMT 192.52.193.0/24) need no exception: no special block holds them.
constexpr Entry kIpv4[] = {
    {"0.0.0.0/32", Reach::special, "unspecified", "RFC 1122 sec. 3.2.1.3"},
    {"0.0.0.0/8", Reach::special, "this network", "RFC 791 sec. 3.2"},
    {"10.0.0.0/8", Reach::special, "private-use", "RFC 1918"},
    {"100.64.0.0/10", Reach::special, "shared address space", "RFC 6598"},
    {"127.0.0.0/8", Reach::special, "loopback", "RFC 1122 sec. 3.2.1.3"},
    {"169.254.0.0/16", Reach::special, "link-local", "RFC 3927"},
    {"172.16.0.0/12", Reach::special, "private-use", "RFC 1918"},
    {"192.0.0.9/32", Reach::global, "PCP anycast", "RFC 7723"},
    {"192.0.0.10/32", Reach::global, "TURN anycast", "RFC 8155"},
    {"192.0.0.0/24", Reach::special, "IETF protocol assignments", "RFC 6890 sec. 2.1"},
    {"192.0.2.0/24", Reach::special, "documentation (TEST-NET-1)", "RFC 5737"},
    {"192.88.99.0/24", Reach::special, "6to4 relay anycast (deprecated)", "RFC 7526"},
    {"192.168.0.0/16", Reach::special, "private-use", "RFC 1918"},
    {"198.18.0.0/15", Reach::special, "benchmarking", "RFC 2544"},
    {"198.51.100.0/24", Reach::special, "documentation (TEST-NET-2)", "RFC 5737"},
    {"203.0.113.0/24", Reach::special, "documentation (TEST-NET-3)", "RFC 5737"},
    {"224.0.0.0/4", Reach::special, "multicast", "RFC 5771"},
    {"255.255.255.255/32", Reach::special, "limited broadcast", "RFC 919 sec. 7"},
    {"240.0.0.0/4", Reach::special, "reserved", "RFC 1112 sec. 4"},
};

// IANA IPv6 Special-Purpose Address Registry, multicast (RFC 4291 sec. 2.7) and the
// deprecated site-local and IPv4-compatible blocks.
constexpr Entry kIpv6[] = {
    {"::1/128", Reach::special, "loopback", "RFC 4291 sec. 2.5.3"},
    {"::/128", Reach::special, "unspecified", "RFC 4291 sec. 2.5.2"},
    {"::ffff:0:0/96", Reach::special, "IPv4-mapped", "RFC 4291 sec. 2.5.5.2"},
    {"::/96", Reach::special, "IPv4-compatible (deprecated)", "RFC 4291 sec. 2.5.5.1"},
    // RFC 6052 sec. 3.1: the well-known prefix must not carry non-global IPv4 addresses.
    {"64:ff9b::/96", Reach::embedded_ipv4, "NAT64 of a non-global IPv4 address", "RFC 6052 sec. 3.1", 12},
    {"64:ff9b:1::/48", Reach::special, "local-use IPv4/IPv6 translation", "RFC 8215"},
    {"100::/64", Reach::special, "discard-only", "RFC 6666"},
    {"2001:1::1/128", Reach::global, "PCP anycast", "RFC 7723"},
    {"2001:1::2/128", Reach::global, "TURN anycast", "RFC 8155"},
    {"2001:3::/32", Reach::global, "AMT", "RFC 7450"},
    {"2001:4:112::/48", Reach::global, "AS112-v6", "RFC 7535"},
    {"2001:20::/28", Reach::global, "ORCHIDv2", "RFC 7343"},
    {"2001:30::/28", Reach::global, "drone remote ID", "RFC 9374"},
    {"2001::/32", Reach::special, "Teredo", "RFC 4380"},
    {"2001:2::/48", Reach::special, "benchmarking", "RFC 5180"},
    {"2001::/23", Reach::special, "IETF protocol assignments", "RFC 2928"},
    {"2001:db8::/32", Reach::special, "documentation", "RFC 3849"},
    // RFC 3056 sec. 2: 2002:V4ADDR::/48 routes to the IPv4 address V4ADDR.
    {"2002::/16", Reach::embedded_ipv4, "6to4 of a non-global IPv4 address", "RFC 3056 sec. 2", 2},
    {"3fff::/20", Reach::special, "documentation", "RFC 9637"},
    {"5f00::/16", Reach::special, "segment routing (SRv6) SIDs", "RFC 9602"},
    {"fc00::/7", Reach::special, "unique local", "RFC 4193"},
    {"fe80::/10", Reach::special, "link-local", "RFC 4291 sec. 2.5.6"},
    {"fec0::/10", Reach::special, "site-local (deprecated)", "RFC 3879"},
    {"ff00::/8", Reach::special, "multicast", "RFC 4291 sec. 2.7"},
};

template <std::size_t N>
struct Block {
  std::array<std::uint8_t, N> prefix{};
  unsigned length = 0;
  const Entry* entry = nullptr;

  bool contains(const std::array<std::uint8_t, N>& address) const {
    const unsigned whole = length / 8, rest = length % 8;
    if (!std::equal(prefix.begin(), prefix.begin() + whole, address.begin())) return false;
    if (rest == 0) return true;
    const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
    return (address[whole] & mask) == prefix[whole];
  }
};

// The tables as prefixes, parsed once; a malformed entry is a bug in this file.
template <std::size_t N, std::size_t M>
std::vector<Block<N>> parse_table(const Entry (&table)[M]) {
  std::vector<Block<N>> blocks;
  for (const Entry& entry : table) {
    const auto slash = entry.block.find('/');
    const std::string address(entry.block.substr(0, slash));
    const std::string_view length = entry.block.substr(slash + 1);
    Block<N> block;
    block.entry = &entry;
    const auto [end, ec] = std::from_chars(length.data(), length.data() + length.size(), block.length);
    if (slash == std::string_view::npos || ec != std::errc() || end != length.data() + length.size() ||
        block.length > N * 8 || inet_pton(N == 4 ? AF_INET : AF_INET6, address.c_str(), block.prefix.data()) != 1)
      throw std::logic_error(fmt::format("special_address: bad table entry {}", entry.block));
    blocks.push_back(block);
  }
  return blocks;
}

template <std::size_t N>
const Entry* first_match(const std::vector<Block<N>>& blocks, const std::array<std::uint8_t, N>& address) {
  const auto found = std::ranges::find_if(blocks, [&](const Block<N>& b) { return b.contains(address); });
  return found == blocks.end() ? nullptr : found->entry;
}

}  // namespace

std::optional<SpecialPurposeRange> special_purpose_range(const Ipv4Bytes& address) {
  static const auto blocks = parse_table<4>(kIpv4);
  const Entry* entry = first_match(blocks, address);
  if (!entry || entry->reach == Reach::global) return std::nullopt;
  return SpecialPurposeRange{entry->name, entry->source};
}

std::optional<SpecialPurposeRange> special_purpose_range(const Ipv6Bytes& address) {
  static const auto blocks = parse_table<16>(kIpv6);
  const Entry* entry = first_match(blocks, address);
  if (!entry || entry->reach == Reach::global) return std::nullopt;
  if (entry->reach == Reach::embedded_ipv4) {
    Ipv4Bytes embedded;
    std::copy_n(address.begin() + static_cast<std::ptrdiff_t>(entry->embedded_at), 4, embedded.begin());
    if (!special_purpose_range(embedded)) return std::nullopt;
  }
  return SpecialPurposeRange{entry->name, entry->source};
}

std::string to_string(const SpecialPurposeRange& range) { return fmt::format("{}, {}", range.name, range.source); }

}  // namespace mtastsd::util

// Text forms of the DNS rdata mtastsd reads (A, AAAA, MX, TXT, TLSA), decoded
// from the uncompressed wire format libunbound hands out. Pure functions with
// bounds checks: malformed rdata yields nullopt and the caller skips that RR.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace mtastsd::io {

using Rdata = std::span<const std::uint8_t>;

namespace rrtype {
inline constexpr int a = 1;
inline constexpr int mx = 15;
inline constexpr int txt = 16;
inline constexpr int aaaa = 28;
inline constexpr int tlsa = 52;
}  // namespace rrtype

// RFC 1035 sec. 3.3.14: one or more <character-string>s, concatenated without
// separators as RFC 8461 sec. 3.1 requires for the STS record.
std::optional<std::string> txt_from_rdata(Rdata rdata);
// RFC 1035 sec. 3.4.1 (4 octets), RFC 3596 sec. 2.2 (16 octets); inet_ntop text.
std::optional<std::string> a_from_rdata(Rdata rdata);
std::optional<std::string> aaaa_from_rdata(Rdata rdata);

struct MxRdata {
  std::uint16_t preference = 0;
  std::string exchange;  // lowercase, no trailing dot; "." for the RFC 7505 null MX
};
// RFC 1035 sec. 3.3.9: 16-bit preference and an uncompressed domain name that
// must end exactly at the end of the rdata.
std::optional<MxRdata> mx_from_rdata(Rdata rdata);

// RFC 6698 sec. 2.1 wire format, RFC 6698 sec. 2.2 text: "usage selector mtype hex"
// (lowercase hex, non-empty association data; its length per mtype is checked by DANE logic).
std::optional<std::string> tlsa_from_rdata(Rdata rdata);

// The records of one answer, in DnsAnswer's text forms (MX sorted by preference,
// stably). Unknown rrtypes and malformed rdata are counted, not returned.
struct DecodedRecords {
  std::vector<std::string> records;
  std::vector<std::uint16_t> mx_preferences;  // MX only, parallel to records
  std::size_t malformed = 0;
};
DecodedRecords decode_records(int type, const std::vector<Rdata>& rdatas);

}  // namespace mtastsd::io

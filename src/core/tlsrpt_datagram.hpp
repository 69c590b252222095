// One libtlsrpt datagram (protocol "dpv" 1, sent by Postfix >= 3.10 with
// smtp_tlsrpt_enable = yes) turned into session events: one per entry of its
// "policies" array (Postfix sends one policy per TLS handshake result).
//   {"dpv":"1"?, "d": report domain, "pr": raw TLSRPT record,
//    "policies":[{"policy-type": 1|2|9, "policy-domain"?, "policy-string"?: [..],
//                 "mx-host"?: [..], "failure-details"?: [{"c": code, "s"?, "n"?,
//                 "h"?, "r"?, "a"?, "f"?}], "t": number of details, "f": 0|1}]}
// Strict: the version, every known member's type, the codes (policy types 1/2/9,
// result codes 201-205 and 301-306, see failure_code_to_type) and "t" against the
// details are checked; a datagram breaking any rule is rejected whole with a
// named error. Unknown members are ignored (additions that keep "dpv" 1).
// A missing "dpv" is version 1: libtlsrpt added the member in 0.5.0, and Debian
// 13's libtlsrpt0 (0.5.0rc1) sends the same datagrams without it.
// Limit: kMaxDatagramSize.
#pragma once
#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include "core/session_event.hpp"

namespace mtastsd::core {

// Our own cap. libtlsrpt builds each datagram in an unbounded memory stream and
// sends it with one sendto() (its BUFFER_SIZE of 65000 is defined but unused), so
// the protocol has no limit of its own; one session's datagram is a few hundred
// bytes plus the policy text. Receivers read into kMaxDatagramSize + 1 bytes and
// pass what they got: a longer datagram is rejected as too_large.
inline constexpr std::size_t kMaxDatagramSize = 64 * 1024;

enum class DatagramError {
  too_large,             // above kMaxDatagramSize
  not_json,              // not a JSON object
  bad_version,           // "dpv" other than "1"
  missing_member,        // a required member is absent
  wrong_type,            // a member has the wrong JSON type
  bad_value,             // a member's value is out of range (e.g. "f" not 0/1, "d" not a domain)
  unknown_policy_type,   // "policy-type" not 1, 2 or 9
  unknown_failure_code,  // a failure detail's "c" is not a known result code
  count_mismatch,        // "t" differs from the number of failure details
};
std::string_view to_string(DatagramError e);

struct DatagramFailure {
  DatagramError error;
  std::string detail;  // short, printable: which member, what was wrong
};

// libtlsrpt's result codes (tlsrpt.h tlsrpt_failure_t) in RFC 8460 sec. 4.3 terms.
std::optional<FailureType> failure_code_to_type(std::int64_t code);

std::expected<std::vector<SessionEvent>, DatagramFailure> parse_tlsrpt_datagram(std::string_view datagram);

}  // namespace mtastsd::core

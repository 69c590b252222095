// Whether DANE (RFC 7672) applies to a next-hop domain, decided from the DNSSEC
// status of its MX RRset and of the TLSA RRsets of its MX hosts. Pure: the DNS
// answers come in as values. mtastsd only decides WHICH Postfix level applies
// (RFC 8461 sec. 2: MTA-STS must not override DANE); Postfix itself looks the
// TLSA records up again and authenticates the server.
// Limits: TLSA records are looked up at _25._tcp.<MX host> only, not at the
// CNAME-expanded host name (RFC 7672 sec. 2.2.3); at most kMaxDaneHosts hosts.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include "core/answer.hpp"
#include "util/clock.hpp"

namespace mtastsd::core {

// RFC 6698 sec. 2.1: "usage selector mtype hexdata" (the text io/dns_rdata makes).
// Usable for SMTP (RFC 7672 sec. 2.2, 3.1): usage 2 (DANE-TA) or 3
// (DANE-EE), selector 0 (Cert) or 1 (SPKI), matching type 0 (Full), 1 (SHA2-256,
// 32 octets) or 2 (SHA2-512, 64 octets), non-empty well-formed hex data.
bool tlsa_usable(std::string_view record);

// One DNS answer as the DANE decision sees it.
enum class DaneDnsStatus {
  records,   // NOERROR with data
  nodata,    // NOERROR, no records of the type
  nxdomain,
  failed,    // SERVFAIL, timeout, resolver error: we do not know
  bogus,     // DNSSEC validation failed
};
struct DaneDnsAnswer {
  DaneDnsStatus status = DaneDnsStatus::failed;
  bool secure = false;               // DNSSEC-validated (records, nodata, nxdomain)
  std::vector<std::string> records;  // MX: exchange names by preference; TLSA: rdata text
  util::Seconds ttl{0};              // answer TTL, or the negative TTL for nodata/nxdomain
  std::string detail;                // failed/bogus: what went wrong
};

enum class DaneVerdict {
  not_applicable,  // MTA-STS decides
  dane,            // some MX hosts have usable TLSA: Postfix level "dane"
  dane_only,       // every MX host has usable TLSA: Postfix level "dane-only"
  temp_error,      // cannot tell whether DANE applies: defer (never downgrade silently)
};
std::string_view to_string(DaneVerdict v);  // "not_applicable", "dane", "dane_only", "temp_error"
std::optional<DaneVerdict> dane_verdict_from_string(std::string_view s);
// The socketmap reply for a verdict: dane_only -> "OK dane-only", dane -> "OK dane"
// (smtp_tls_policy_maps levels, postconf(5)); temp_error -> "TEMP DANE: <reason>",
// so Postfix defers the mail (RFC 7672 sec. 2.1.1: an unknown DANE status must not
// fall back to weaker security); not_applicable -> nullopt: MTA-STS decides.
std::optional<SocketmapReply> dane_reply(DaneVerdict v, std::string_view reason);

struct DaneHost {
  std::string host;
  bool usable_tlsa = false;
  bool operator==(const DaneHost&) const = default;
};

// Postfix's smtp_mx_address_limit (default 5) bounds the addresses it tries per
// delivery, so hosts far down the MX list are rarely reached; twice that many
// hosts are checked, which bounds the TLSA queries per resolution.
inline constexpr std::size_t kMaxDaneHosts = 10;

// The hosts whose TLSA records decide, in MX preference order, duplicates and
// the root name "." removed, at most kMaxDaneHosts. A secure NODATA MX answer
// means the implicit MX: the domain itself (RFC 5321 sec. 5.1). nullopt when the
// MX answer decides alone (DNS error, bogus, insecure, NXDOMAIN, null MX).
struct DaneCandidates {
  std::vector<std::string> hosts;
  bool truncated = false;  // more MX hosts than kMaxDaneHosts
};
std::optional<DaneCandidates> dane_candidates(std::string_view domain, const DaneDnsAnswer& mx);

struct HostTlsa {
  std::string host;
  DaneDnsAnswer tlsa;  // of _25._tcp.<host> (RFC 7672 sec. 2.2.3)
};

struct DaneDecision {
  DaneVerdict verdict = DaneVerdict::temp_error;
  std::string reason;               // short, fit for a TEMP reply and `mtastsctl cache show`
  std::string detail;               // the DNS error behind a temp_error (for the log)
  std::vector<DaneHost> hosts;      // candidates checked, with their TLSA verdict
  std::optional<util::Seconds> ttl; // lowest TTL of the answers used; nullopt for temp_error
};

// The verdict for `domain` (RFC 7672 sec. 2.2): tlsa holds one answer per
// candidate host (a missing one counts as a failed lookup).
DaneDecision decide_dane(std::string_view domain, const DaneDnsAnswer& mx, const std::vector<HostTlsa>& tlsa);

// The verdict as cached (core/cache_rules computes it from a DaneDecision).
struct DaneState {
  DaneVerdict verdict = DaneVerdict::not_applicable;
  std::string reason;
  util::TimePoint checked_at{};
  util::TimePoint valid_until{};
  std::vector<DaneHost> hosts;
};

}  // namespace mtastsd::core

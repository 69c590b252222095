// The DANE decision (RFC 7672 sec. 2.2), pure. How each DNS outcome counts:
//  - MX lookup failed or bogus: temp_error (sec. 2.1.1: a bogus or indeterminate
//    answer must not be taken as "no DANE"; the mail waits);
//  - MX RRset insecure: not_applicable. Sec. 2.2.1 lets a client still try DANE
//    with hosts from an insecure MX RRset (MAY); mtastsd leaves such domains to
//    MTA-STS, as issue #3 asks, because an attacker could substitute the MX hosts;
//  - MX NXDOMAIN or null MX (RFC 7505): not_applicable, there is nothing to protect;
//  - per candidate host, TLSA at _25._tcp.<host> (sec. 2.2.3): secure with at
//    least one usable record -> a DANE host; insecure, NODATA, NXDOMAIN or only
//    unusable records -> not a DANE host; failed or bogus -> unknown.
//    Sec. 2.2.3 also requires the host's address records to be secure. The TLSA
//    answer stands in for that check: both live at or under the host name, so a
//    host in an unsigned zone has insecure TLSA records too (a host name that is
//    a CNAME into an unsigned zone is the exception; Postfix, which repeats the
//    lookups, then does not use DANE for that host);
//  - every candidate a DANE host -> dane_only; some -> dane; none, but some
//    unknown -> temp_error (we cannot tell whether DANE applies); none and none
//    unknown -> not_applicable.
// Issue #3 words the middle case as "MX secure but not every host has usable
// TLSA -> dane". With ZERO DANE hosts, "dane" would make Postfix fall back to
// opportunistic TLS and so override an MTA-STS enforce policy; such domains are
// not_applicable instead, and MTA-STS decides.
#include "core/dane.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <utility>
#include <fmt/format.h>

#include "util/ascii.hpp"

namespace mtastsd::core {
namespace {

// RFC 6698 sec. 2.1.1 (certificate usage), 2.1.2 (selector), 2.1.3 (matching type).
constexpr unsigned kUsageDaneTa = 2, kUsageDaneEe = 3;  // 0 PKIX-TA, 1 PKIX-EE: RFC 7672 sec. 3.1.3
constexpr unsigned kSelectorCert = 0, kSelectorSpki = 1;
constexpr unsigned kMatchFull = 0, kMatchSha256 = 1, kMatchSha512 = 2;
constexpr std::size_t kSha256Octets = 32, kSha512Octets = 64;

constexpr std::array<std::pair<DaneVerdict, std::string_view>, 4> kVerdictNames{{
    {DaneVerdict::not_applicable, "not_applicable"},
    {DaneVerdict::dane, "dane"},
    {DaneVerdict::dane_only, "dane_only"},
    {DaneVerdict::temp_error, "temp_error"},
}};

// Splits at runs of spaces; empty fields never appear.
std::vector<std::string_view> fields(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    const auto start = text.find_first_not_of(' ');
    if (start == std::string_view::npos) break;
    text.remove_prefix(start);
    const auto end = text.find(' ');
    out.push_back(text.substr(0, end));
    text.remove_prefix(end == std::string_view::npos ? text.size() : end);
  }
  return out;
}

std::optional<unsigned> octet(std::string_view text) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value > 255) return std::nullopt;
  return value;
}

bool is_hex_text(std::string_view text) { return std::ranges::all_of(text, util::is_hex_digit); }

DaneDecision decided(DaneVerdict verdict, std::string reason, std::optional<util::Seconds> ttl) {
  DaneDecision d;
  d.verdict = verdict;
  d.reason = std::move(reason);
  d.ttl = ttl;
  return d;
}

DaneDecision temp_error(std::string reason, std::string detail) {
  DaneDecision d = decided(DaneVerdict::temp_error, std::move(reason), std::nullopt);
  d.detail = std::move(detail);
  return d;
}

bool lookup_failed(const DaneDnsAnswer& a) {
  return a.status == DaneDnsStatus::failed || a.status == DaneDnsStatus::bogus;
}

// RFC 7505 sec. 3: a null MX is the single record "0 ."; decoded, the name ".".
bool is_null_mx(const DaneDnsAnswer& mx) {
  return mx.status == DaneDnsStatus::records && mx.records.size() == 1 && mx.records.front() == ".";
}

// The verdict when the MX answer alone decides; nullopt when the hosts' TLSA records do.
std::optional<DaneDecision> decided_by_mx(const DaneDnsAnswer& mx) {
  if (mx.status == DaneDnsStatus::bogus) return temp_error("MX records are DNSSEC-bogus", mx.detail);
  if (mx.status == DaneDnsStatus::failed) return temp_error("MX lookup failed", mx.detail);
  if (!mx.secure) return decided(DaneVerdict::not_applicable, "MX records are not DNSSEC-signed", mx.ttl);
  if (mx.status == DaneDnsStatus::nxdomain)
    return decided(DaneVerdict::not_applicable, "the domain does not exist", mx.ttl);
  if (is_null_mx(mx)) return decided(DaneVerdict::not_applicable, "null MX: the domain accepts no mail", mx.ttl);
  return std::nullopt;
}

const DaneDnsAnswer* answer_for(const std::vector<HostTlsa>& tlsa, std::string_view host) {
  const auto it = std::ranges::find(tlsa, host, &HostTlsa::host);
  return it == tlsa.end() ? nullptr : &it->tlsa;
}

bool has_usable_tlsa(const DaneDnsAnswer& a) {
  return a.secure && a.status == DaneDnsStatus::records && std::ranges::any_of(a.records, tlsa_usable);
}

}  // namespace

bool tlsa_usable(std::string_view record) {
  const auto f = fields(record);
  if (f.size() != 4) return false;
  const auto usage = octet(f[0]), selector = octet(f[1]), mtype = octet(f[2]);
  const std::string_view data = f[3];
  if (!usage || !selector || !mtype) return false;
  if (*usage != kUsageDaneTa && *usage != kUsageDaneEe) return false;
  if (*selector != kSelectorCert && *selector != kSelectorSpki) return false;
  if (data.empty() || data.size() % 2 != 0 || !is_hex_text(data)) return false;
  const std::size_t octets = data.size() / 2;
  switch (*mtype) {
    case kMatchFull: return true;
    case kMatchSha256: return octets == kSha256Octets;
    case kMatchSha512: return octets == kSha512Octets;
    default: return false;
  }
}

std::string_view to_string(DaneVerdict v) {
  for (const auto& [verdict, name] : kVerdictNames)
    if (verdict == v) return name;
  return "temp_error";
}

std::optional<DaneVerdict> dane_verdict_from_string(std::string_view s) {
  for (const auto& [verdict, name] : kVerdictNames)
    if (name == s) return verdict;
  return std::nullopt;
}

std::optional<SocketmapReply> dane_reply(DaneVerdict v, std::string_view reason) {
  switch (v) {
    case DaneVerdict::dane: return SocketmapReply{ReplyStatus::ok, "dane"};
    case DaneVerdict::dane_only: return SocketmapReply{ReplyStatus::ok, "dane-only"};
    case DaneVerdict::temp_error: return SocketmapReply{ReplyStatus::temp, fmt::format("DANE: {}", reason)};
    case DaneVerdict::not_applicable: break;
  }
  return std::nullopt;
}

std::optional<DaneCandidates> dane_candidates(std::string_view domain, const DaneDnsAnswer& mx) {
  if (decided_by_mx(mx)) return std::nullopt;
  DaneCandidates out;
  if (mx.status == DaneDnsStatus::nodata) {
    out.hosts.emplace_back(domain);  // RFC 5321 sec. 5.1: the implicit MX
    return out;
  }
  for (const std::string& host : mx.records) {
    if (host == "." || std::ranges::find(out.hosts, host) != out.hosts.end()) continue;
    if (out.hosts.size() == kMaxDaneHosts) {
      out.truncated = true;
      break;
    }
    out.hosts.push_back(host);
  }
  return out;
}

DaneDecision decide_dane(std::string_view domain, const DaneDnsAnswer& mx, const std::vector<HostTlsa>& tlsa) {
  if (auto by_mx = decided_by_mx(mx)) return std::move(*by_mx);
  const DaneCandidates candidates = *dane_candidates(domain, mx);
  if (candidates.hosts.empty())  // only "." among several MX records: nothing to deliver to
    return decided(DaneVerdict::not_applicable, "no usable MX host", mx.ttl);

  DaneDecision d;
  util::Seconds ttl = mx.ttl;
  std::size_t dane_hosts = 0;
  std::optional<DaneDecision> unknown;  // the first host whose TLSA lookup failed
  for (const std::string& host : candidates.hosts) {
    const DaneDnsAnswer* answer = answer_for(tlsa, host);
    if (answer == nullptr || lookup_failed(*answer)) {
      if (!unknown) {
        const bool bogus = answer != nullptr && answer->status == DaneDnsStatus::bogus;
        unknown = temp_error(bogus ? fmt::format("TLSA records of {} are DNSSEC-bogus", host)
                                   : fmt::format("TLSA lookup for {} failed", host),
                             answer ? answer->detail : "no TLSA answer");
      }
      d.hosts.push_back({host, false});
      continue;
    }
    ttl = std::min(ttl, answer->ttl);
    const bool usable = has_usable_tlsa(*answer);
    dane_hosts += usable ? 1 : 0;
    d.hosts.push_back({host, usable});
  }

  const std::size_t n = candidates.hosts.size();
  if (dane_hosts == n && !candidates.truncated) {
    d.verdict = DaneVerdict::dane_only;
    d.reason = mx.status == DaneDnsStatus::nodata ? "the domain (implicit MX) has usable TLSA records"
               : n == 1                           ? "the MX host has usable TLSA records"
                                                  : fmt::format("all {} MX hosts have usable TLSA records", n);
  } else if (dane_hosts > 0) {
    d.verdict = DaneVerdict::dane;
    d.reason = fmt::format("{} of {}{} MX hosts have usable TLSA records", dane_hosts,
                           candidates.truncated ? "the first " : "", n);
  } else if (unknown) {
    unknown->hosts = std::move(d.hosts);
    return std::move(*unknown);
  } else {
    d.verdict = DaneVerdict::not_applicable;
    d.reason = "no MX host has usable TLSA records";
  }
  d.ttl = ttl;
  return d;
}

}  // namespace mtastsd::core

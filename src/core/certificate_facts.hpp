// What a TLS client saw of a server's certificate, as plain values: the names a host
// name is checked against, the validity dates and the chain verification's verdict.
// io fills it from OpenSSL; core judges it (`mtastsctl check`) without OpenSSL.
// Limits: only DNS names count (no IP addresses, RFC 8461 sec. 3.3 and 4.2 name hosts).
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include "core/failure_type.hpp"
#include "util/clock.hpp"

namespace mtastsd::core {

struct CertificateFacts {
  std::string subject;             // RFC 2253 text, printable
  std::string issuer;
  // The names a host name is checked against, as OpenSSL's host check reads them:
  // the subjectAltName dNSName entries, or the subject CN when there are none.
  std::vector<std::string> names;
  util::TimePoint not_before{};
  util::TimePoint not_after{};
  // OpenSSL's verification of chain, dates and name as an RFC 8460 sec. 4.3 result type
  // (core::certificate_failure); nullopt = verified. OpenSSL stops at the first error,
  // so a mismatch behind an untrusted chain shows only as not trusted:
  // certificate_covers() and the dates tell the rest.
  std::optional<FailureType> verification;
  std::string verification_detail;  // OpenSSL's words, "" when verified
};

// RFC 6125 sec. 6.4.3 as RFC 8461 sec. 3.3 and 4.2 apply it: a name equals `host`
// (case-insensitive), or is "*." + parent and `host` has exactly one label more.
bool certificate_covers(const CertificateFacts& certificate, std::string_view host);

}  // namespace mtastsd::core

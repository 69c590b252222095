// The RFC 8460 sec. 4.3 result type of a failed certificate verification (RFC 8461 sec. 4.2:
// the MX certificate must chain to a trusted root, name the MX host and be within its
// validity), from OpenSSL's verify result. The header stays free of OpenSSL: the code is
// passed as the number SSL_get_verify_result returns; the mapping reads libcrypto's
// X509_V_ERR_* constants.
#pragma once
#include <optional>
#include "core/failure_type.hpp"

namespace mtastsd::core {

// nullopt for X509_V_OK. The host name check (SSL_set1_host) reports a mismatch as
// X509_V_ERR_HOSTNAME_MISMATCH:        certificate_host_mismatch;
// expired or not yet valid:            certificate_expired;
// no path to a trusted CA (an unknown issuer, a self-signed leaf or root, an untrusted
//   chain):                            certificate_not_trusted;
// anything else (bad signature, wrong purpose, path length, ...): validation_failure.
// OpenSSL stops at the first error it meets: trust, then the name, then the dates, so a
// certificate that fails several checks gets the type of the first.
std::optional<FailureType> certificate_failure(long verify_result);

}  // namespace mtastsd::core

// The facts of a TLS peer's certificate (core::CertificateFacts) read from an OpenSSL
// connection, also after a handshake that failed verification: what `mtastsctl check`
// explains (names, dates, issuer, why verification failed).
#pragma once
#include <optional>
#include <openssl/ssl.h>
#include "core/certificate_facts.hpp"

namespace mtastsd::io {

// The leaf certificate the peer sent on `ssl`, nullopt when it sent none (the
// handshake ended before the Certificate message).
std::optional<core::CertificateFacts> peer_certificate_facts(SSL* ssl);

// An X509_V_ERR_* verification result as an RFC 8460 sec. 4.3 result type; nullopt for X509_V_OK.
std::optional<core::FailureType> classify_verify_result(long verify_result);

}  // namespace mtastsd::io

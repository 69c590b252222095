// Client TLS with WebPKI verification, shared by the HTTPS clients: policy fetches
// (RFC 8461 sec. 3.3) and report uploads (RFC 8460 sec. 5.4). TLS 1.2 or later (RFC 8996),
// no renegotiation, the peer's chain verified against a CA file or the system store, its
// name against the host we asked for (RFC 6125; a wildcard matches one whole left-most
// label only). Also the port and User-Agent both clients use.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <boost/asio/ssl/context.hpp>
#include "core/certificate_facts.hpp"

namespace mtastsd::io {

inline constexpr std::uint16_t kHttpsPort = 443;  // RFC 9110 sec. 4.2.2
// A product token with its version (RFC 9110 sec. 10.1.5).
#ifdef MTASTSD_VERSION
inline constexpr std::string_view kUserAgent = "mtastsd/" MTASTSD_VERSION;
#else
inline constexpr std::string_view kUserAgent = "mtastsd";  // a bare product token
#endif

// Throws std::runtime_error, naming `user` and the file, when the CA file is missing or
// unusable ("" = OpenSSL's default store): a fatal start-up problem.
boost::asio::ssl::context make_webpki_context(const std::string& ca_file, std::string_view user);

// SNI and the expected certificate name for one connection, before its handshake.
// False when OpenSSL refuses the name.
bool expect_host(SSL* ssl, const std::string& host);

// Why the handshake on `ssl` failed verification; "" when the chain and name verified.
std::string verification_failure(SSL* ssl);

// For logs and diagnostics after a handshake: the peer certificate, "CN=mx.example.com
// issued by CN=Some CA" ("none" without one), and the protocol, "TLS 1.3".
std::string peer_certificate_text(SSL* ssl);
std::string tls_version_text(SSL* ssl);

// The leaf certificate the peer sent on `ssl` as plain facts (mtastsctl check explains
// them), also after a handshake that failed verification; nullopt when it sent none.
std::optional<core::CertificateFacts> peer_certificate_facts(SSL* ssl);

}  // namespace mtastsd::io

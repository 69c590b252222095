// Client TLS contexts and per-connection host checks; see tls_client.hpp.
#include "io/tls_client.hpp"

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <fmt/format.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include "core/tls_verdict.hpp"
#include "util/printable.hpp"

namespace mtastsd::io {

namespace ssl = boost::asio::ssl;

namespace {
constexpr std::size_t kMaxNameText = 256;  // ours: a certificate name as shown in a log line

std::string name_text(const X509_NAME* name) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return "?";
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return util::printable_excerpt(std::string_view(data, static_cast<std::size_t>(std::max(len, 0L))), kMaxNameText);
}

std::string asn1_text(const ASN1_STRING* s) {
  return util::printable_excerpt(std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                                  static_cast<std::size_t>(std::max(ASN1_STRING_length(s), 0))),
                                 kMaxNameText);
}

util::TimePoint time_point(const ASN1_TIME* t) {
  std::tm tm{};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return {};
  return util::from_unix(static_cast<std::int64_t>(timegm(&tm)));
}

// The names X509_check_host compares: subjectAltName dNSNames, else the subject's CNs.
std::vector<std::string> dns_names(const X509* cert) {
  std::vector<std::string> names;
  using Names = std::unique_ptr<GENERAL_NAMES, decltype(&GENERAL_NAMES_free)>;
  Names san(static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)),
            &GENERAL_NAMES_free);
  for (int i = 0; san && i < sk_GENERAL_NAME_num(san.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(san.get(), i);
    if (name->type == GEN_DNS) names.push_back(asn1_text(name->d.dNSName));
  }
  if (!names.empty()) return names;
  const X509_NAME* subject = X509_get_subject_name(cert);
  for (int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(subject, NID_commonName, i))
    names.push_back(asn1_text(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i))));
  return names;
}
}  // namespace

ssl::context make_webpki_context(const std::string& ca_file, std::string_view user) {
  ssl::context tls(ssl::context::tls_client);
  // RFC 8996: TLS 1.0 and 1.1 must not be used.
  if (SSL_CTX_set_min_proto_version(tls.native_handle(), TLS1_2_VERSION) != 1)
    throw std::runtime_error(fmt::format("{}: cannot require TLS 1.2", user));
  // A server's HelloRequest is answered with a no_renegotiation alert (RFC 5246 sec. 7.4.1.1
  // allows it): nothing we talk to needs renegotiation (TLS 1.3 has none, RFC 8446 sec. 4.1.2;
  // HTTP/2 forbids it, RFC 9113 sec. 9.2.1), and each one would cost a handshake on the
  // server's say-so and could swap the certificate mid-connection.
  SSL_CTX_set_options(tls.native_handle(), SSL_OP_NO_RENEGOTIATION);
  tls.set_verify_mode(ssl::verify_peer);
  boost::system::error_code ec;
  if (ca_file.empty()) {
    tls.set_default_verify_paths(ec);
    if (ec) throw std::runtime_error(fmt::format("{}: system CA store: {}", user, ec.message()));
    return tls;
  }
  // OpenSSL reports a missing file only as a generic error: say it plainly.
  if (std::error_code fs_ec; !std::filesystem::is_regular_file(ca_file, fs_ec))
    throw std::runtime_error(fmt::format("{}: CA file \"{}\" does not exist or is not a file", user, ca_file));
  tls.load_verify_file(ca_file, ec);
  if (ec) throw std::runtime_error(fmt::format("{}: CA file \"{}\": {}", user, ca_file, ec.message()));
  return tls;
}

bool expect_host(SSL* ssl, const std::string& host) {
  if (SSL_set_tlsext_host_name(ssl, host.c_str()) != 1 || SSL_set1_host(ssl, host.c_str()) != 1) return false;
  // RFC 6125 sec. 6.4.3: a wildcard matches a whole left-most label only.
  SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  return true;
}

std::string verification_failure(SSL* ssl) {
  const long verify = SSL_get_verify_result(ssl);
  return verify == X509_V_OK ? "" : X509_verify_cert_error_string(verify);
}

std::string peer_certificate_text(SSL* ssl) {
  const X509* cert = SSL_get0_peer_certificate(ssl);
  if (!cert) return "none";
  return fmt::format("{} issued by {}", name_text(X509_get_subject_name(cert)), name_text(X509_get_issuer_name(cert)));
}

std::string tls_version_text(SSL* ssl) {
  std::string version = SSL_get_version(ssl);  // "TLSv1.3"
  if (version.starts_with("TLSv")) version.replace(0, 4, "TLS ");
  return version;
}

std::optional<core::CertificateFacts> peer_certificate_facts(SSL* ssl) {
  // After a failed verification OpenSSL keeps the chain it received but sets no peer
  // certificate; on the client side that chain starts with the leaf.
  const X509* leaf = SSL_get0_peer_certificate(ssl);
  if (!leaf) {
    STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);
    if (!chain || sk_X509_num(chain) == 0) return std::nullopt;
    leaf = sk_X509_value(chain, 0);
  }
  core::CertificateFacts facts;
  facts.subject = name_text(X509_get_subject_name(leaf));
  facts.issuer = name_text(X509_get_issuer_name(leaf));
  facts.names = dns_names(leaf);
  facts.not_before = time_point(X509_get0_notBefore(leaf));
  facts.not_after = time_point(X509_get0_notAfter(leaf));
  const long verify = SSL_get_verify_result(ssl);
  facts.verification = core::certificate_failure(verify);
  if (facts.verification) facts.verification_detail = X509_verify_cert_error_string(verify);
  return facts;
}

}  // namespace mtastsd::io

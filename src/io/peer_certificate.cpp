// Certificate facts from OpenSSL; see peer_certificate.hpp. Text from the certificate
// is untrusted: it is made printable and bounded (io::printable).
#include "io/peer_certificate.hpp"

#include <algorithm>
#include <ctime>
#include <memory>
#include <openssl/x509v3.h>
#include "io/policy_response.hpp"  // printable

namespace mtastsd::io {
namespace {

std::string name_text(const X509_NAME* name) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return "?";
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return printable(std::string_view(data, static_cast<std::size_t>(std::max(len, 0L))));
}

std::string asn1_text(const ASN1_STRING* s) {
  return printable(std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                    static_cast<std::size_t>(std::max(ASN1_STRING_length(s), 0))));
}

util::TimePoint time_point(const ASN1_TIME* t) {
  std::tm tm{};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return {};
  return util::from_unix(static_cast<std::int64_t>(timegm(&tm)));
}

// As X509_check_host reads them: subjectAltName dNSNames, else the subject's CNs.
std::vector<std::string> dns_names(X509* cert) {
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

std::optional<core::FailureType> classify_verify_result(long verify_result) {
  using core::FailureType;
  switch (verify_result) {
    case X509_V_OK: return std::nullopt;
    case X509_V_ERR_HOSTNAME_MISMATCH: return FailureType::certificate_host_mismatch;
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID: return FailureType::certificate_expired;
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_UNTRUSTED:
    case X509_V_ERR_CERT_REJECTED: return FailureType::certificate_not_trusted;
    default: return FailureType::validation_failure;
  }
}

std::optional<core::CertificateFacts> peer_certificate_facts(SSL* ssl) {
  // After a verification failure OpenSSL keeps the received chain but sets no peer
  // certificate; on the client side the chain starts with the leaf.
  X509* leaf = SSL_get0_peer_certificate(ssl);
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
  facts.verification = classify_verify_result(verify);
  if (facts.verification) facts.verification_detail = X509_verify_cert_error_string(verify);
  return facts;
}

}  // namespace mtastsd::io

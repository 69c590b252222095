// Certificate verification results as RFC 8460 result types; see tls_verdict.hpp.
#include "core/tls_verdict.hpp"

#include <openssl/x509_vfy.h>

namespace mtastsd::core {

std::optional<FailureType> certificate_failure(long verify_result) {
  switch (verify_result) {
    case X509_V_OK:
      return std::nullopt;
    case X509_V_ERR_HOSTNAME_MISMATCH:
      return FailureType::certificate_host_mismatch;
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return FailureType::certificate_expired;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_UNTRUSTED:
      return FailureType::certificate_not_trusted;
    default:
      return FailureType::validation_failure;
  }
}

}  // namespace mtastsd::core

// Certificate verification results as RFC 8460 result types (core/tls_verdict.hpp).
#include "core/tls_verdict.hpp"

#include <gtest/gtest.h>
#include <openssl/x509_vfy.h>

namespace mtastsd::core {
namespace tls_verdict_test {

TEST(CertificateFailure, VerifiedIsNoFailure) { EXPECT_EQ(certificate_failure(X509_V_OK), std::nullopt); }

TEST(CertificateFailure, NameMismatch) {
  EXPECT_EQ(certificate_failure(X509_V_ERR_HOSTNAME_MISMATCH), FailureType::certificate_host_mismatch);
}

TEST(CertificateFailure, OutsideTheValidityPeriod) {
  EXPECT_EQ(certificate_failure(X509_V_ERR_CERT_HAS_EXPIRED), FailureType::certificate_expired);
  EXPECT_EQ(certificate_failure(X509_V_ERR_CERT_NOT_YET_VALID), FailureType::certificate_expired);
}

TEST(CertificateFailure, NoPathToATrustedCa) {
  for (const long code : {X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
                          X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
                          X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, X509_V_ERR_CERT_UNTRUSTED})
    EXPECT_EQ(certificate_failure(code), FailureType::certificate_not_trusted) << code;
}

TEST(CertificateFailure, EverythingElseIsAValidationFailure) {
  for (const long code : {X509_V_ERR_CERT_SIGNATURE_FAILURE, X509_V_ERR_INVALID_PURPOSE,
                          X509_V_ERR_PATH_LENGTH_EXCEEDED, X509_V_ERR_CERT_REVOKED, X509_V_ERR_INVALID_CA,
                          X509_V_ERR_EE_KEY_TOO_SMALL, X509_V_ERR_CERT_REJECTED, X509_V_ERR_UNSPECIFIED, 9999})
    EXPECT_EQ(certificate_failure(code), FailureType::validation_failure) << code;
}

}  // namespace tls_verdict_test
}  // namespace mtastsd::core

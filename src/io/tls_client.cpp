// Client TLS contexts and per-connection host checks; see tls_client.hpp.
#include "io/tls_client.hpp"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <fmt/format.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
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
}  // namespace

ssl::context make_webpki_context(const std::string& ca_file, std::string_view user) {
  ssl::context tls(ssl::context::tls_client);
  // RFC 8996: TLS 1.0 and 1.1 must not be used.
  if (SSL_CTX_set_min_proto_version(tls.native_handle(), TLS1_2_VERSION) != 1)
    throw std::runtime_error(fmt::format("{}: cannot require TLS 1.2", user));
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

}  // namespace mtastsd::io

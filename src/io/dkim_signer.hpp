// DKIM signing (RFC 6376) of the report e-mails, which RFC 8460 sec. 5.3 requires
// ("MUST be signed by the reporting domain"), with libopendkim: rsa-sha256 (RFC 8301
// sec. 3.1), relaxed/relaxed canonicalization (RFC 6376 sec. 3.4.2, 3.4.4, so relays that
// re-fold headers or trim trailing spaces do not break it), the whole body (no l=, RFC 8460
// sec. 5.3), signing the fields that identify a report (kSignedHeaders), each also
// "oversigned" so that nobody can add a second one without breaking the signature
// (RFC 6376 sec. 8.15).
// The key is read once, at load: a PEM RSA private key of at least 1024 bits (RFC 8301
// sec. 3.2), in a regular file of at most kMaxKeyFileSize bytes that others cannot read or
// write and its group cannot write (opendkim's RequireSafeKeys rule).
// Not thread-safe: sign from one thread at a time (the signing time is a library option).
#pragma once
#include <array>
#include <cstddef>
#include <expected>
#include <memory>
#include <string>
#include <string_view>
#include "util/clock.hpp"

namespace mtastsd::io {

struct DkimSettings {
  std::string key_file;  // PEM private key; "" = no signing (reports go out unsigned)
  std::string selector;  // s=: the key is published at <selector>._domainkey.<domain>
  std::string domain;    // d=: the reporting domain (RFC 8460 sec. 5.3)
};

inline constexpr std::array<std::string_view, 9> kSignedHeaders = {
    "From", "To", "Subject", "Date", "Message-ID", "TLS-Report-Domain", "TLS-Report-Submitter", "MIME-Version",
    "Content-Type"};
inline constexpr std::size_t kMaxKeyFileSize = 64 * 1024;  // ours: an RSA-8192 PEM key is about 6.4 KB
inline constexpr int kMinKeyBits = 1024;                   // RFC 8301 sec. 3.2

enum class DkimError {
  key_missing,             // the key file does not exist
  key_unreadable,          // exists but cannot be read (permissions, not a regular file, too large)
  key_unsafe_permissions,  // others may read or write it, or its group may write it
  key_invalid,             // not a PEM RSA private key of at least kMinKeyBits
  bad_selector,            // selector or domain is not a host name (label)
  signing_failed,          // libopendkim refused the message
};
std::string_view to_string(DkimError e);

struct DkimFailure {
  DkimError error;
  std::string detail;  // names the file or the library's reason
};

class DkimSigner {
 public:
  // settings.key_file must be set (no key is the caller's "unsigned" case).
  static std::expected<DkimSigner, DkimFailure> load(const DkimSettings& settings);

  DkimSigner(DkimSigner&&) noexcept;
  DkimSigner& operator=(DkimSigner&&) noexcept;
  ~DkimSigner();

  // `message` with CRLF line ends (as report_message builds it), returned with a
  // DKIM-Signature header field in front; t= is `now`.
  std::expected<std::string, DkimFailure> sign(std::string_view message, util::TimePoint now) const;

  const DkimSettings& settings() const;

 private:
  struct Impl;
  explicit DkimSigner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mtastsd::io

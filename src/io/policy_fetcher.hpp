// HTTPS fetch of https://mta-sts.<domain>/.well-known/mta-sts.txt (RFC 8461 sec. 3.3)
// with Boost.Beast over OpenSSL. Every failure is classified for TLS-RPT (RFC 8460 sec. 4.3).
#pragma once
#include <chrono>
#include <cstddef>
#include <expected>
#include <optional>
#include <string>
#include <vector>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include "core/cache_rules.hpp"   // FetchFailed
#include "core/certificate_facts.hpp"
#include "io/dns_resolver.hpp"

namespace mtastsd::io {

struct FetchSettings {
  std::string ca_file;                         // "" = OpenSSL's default (system) store
  std::chrono::milliseconds timeout{60000};    // whole fetch; RFC 8461 sec. 3.3 suggests 60 s
  // RFC 8461 sec. 3.3 suggests 64 KiB; a body of exactly this size is "within that size limit".
  std::size_t max_body = 64 * 1024;
  std::uint16_t port = 443;
  // Never connect to a special-purpose address (loopback, private, link-local, ...;
  // util/special_address): a policy host is on the public Internet, and whoever
  // controls a domain's DNS must not make the fetcher reach into the local network.
  bool refuse_special_addresses = true;
};

struct FetchedPolicy {
  std::string body;          // status 200, text/plain, <= max_body
  std::string content_type;
  std::string address;       // which address answered, for logs
};

// Steps a caller (mtastsctl query) may want to show, and the facts seen on the way,
// as far as the fetch got (mtastsctl check explains them).
struct FetchTrace {
  std::vector<std::string> steps;
  std::optional<core::CertificateFacts> certificate;  // the policy host's, also when it failed verification
  std::string tls_version;                            // "TLS 1.3", after a successful handshake
  std::optional<unsigned> http_status;                // once a response header was read
  std::string content_type;                           // as sent, printable
  std::string location;                               // as sent, printable (a redirect's target)
};

class PolicyFetcher {
 public:
  // Throws std::runtime_error on unusable settings (missing or unreadable CA file).
  // `dns` and the fetcher must outlive every fetch.
  PolicyFetcher(boost::asio::any_io_executor ex, DnsResolver& dns, FetchSettings settings);
  ~PolicyFetcher();

  // Classification: DNS/special-purpose address/connect/timeout/HTTP status/redirect/size/
  // renegotiation -> sts_policy_fetch_error;
  // certificate chain/name/expiry, TLS < 1.2 -> sts_webpki_invalid; wrong Content-Type ->
  // sts_policy_invalid. The body is NOT parsed here.
  boost::asio::awaitable<std::expected<FetchedPolicy, core::FetchFailed>> fetch(std::string policy_domain,
                                                                               FetchTrace* trace = nullptr);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mtastsd::io

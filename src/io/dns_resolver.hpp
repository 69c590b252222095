// Asynchronous DNS through libunbound, driven by the Asio loop: the context's
// ub_fd() is watched for readability and ub_process() delivers callbacks on the
// loop thread, so no thread per query. libunbound validates DNSSEC itself when
// a trust anchor is configured (needed for DANE); `secure`/`bogus` report it.
// Use it from one thread only: the executor must not run handlers concurrently.
#pragma once
#include <chrono>
#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <vector>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

namespace mtastsd::io {

struct DnsSettings {
  // Empty forwarders: use resolv_conf ("" = the system's /etc/resolv.conf).
  std::vector<std::string> forwarders;   // "127.0.0.1", "127.0.0.1@5353", "::1"
  std::string resolv_conf;
  std::string trust_anchor_file;         // "" = no DNSSEC validation
  std::chrono::milliseconds timeout{10000};
};

enum class DnsRcode { noerror, nxdomain, nodata };

struct DnsAnswer {
  DnsRcode rcode = DnsRcode::noerror;
  // Per RR, type-specific text: TXT = character-strings concatenated without
  // spaces; A/AAAA = address text; MX = exchange (lowercase, no trailing dot),
  // sorted by preference; TLSA = "usage selector mtype hexdata".
  std::vector<std::string> records;
  std::vector<std::uint16_t> mx_preferences;  // MX only, parallel to records
  std::uint32_t ttl = 0;       // answer TTL; for nxdomain/nodata the negative TTL
  bool secure = false;         // DNSSEC validated
  std::string canonical_name;  // after CNAMEs
};

enum class DnsErrorKind { timeout, servfail, bogus, resolver };
struct DnsError {
  DnsErrorKind kind;
  std::string detail;  // rcode text or libunbound's why_bogus
};

class DnsResolver {
 public:
  // Throws std::runtime_error on unusable settings (fatal at start-up).
  DnsResolver(boost::asio::any_io_executor ex, const DnsSettings& settings);
  ~DnsResolver();
  DnsResolver(const DnsResolver&) = delete;
  DnsResolver& operator=(const DnsResolver&) = delete;

  // An absolute bound a caller may add to settings.timeout (e.g. the whole-fetch deadline).
  using Deadline = std::chrono::steady_clock::time_point;

  // rrtype: 1 A, 15 MX, 16 TXT, 28 AAAA, 52 TLSA. Each query is bounded by settings.timeout
  // and by `deadline` if that comes first.
  boost::asio::awaitable<std::expected<DnsAnswer, DnsError>> query(std::string name, int rrtype,
                                                                   Deadline deadline = Deadline::max());
  // Several names of one rrtype at once: every query is in flight before the first
  // is awaited, so the whole takes about as long as the slowest. Results in order.
  boost::asio::awaitable<std::vector<std::expected<DnsAnswer, DnsError>>> query_all(
      std::vector<std::string> names, int rrtype, Deadline deadline = Deadline::max());
  // A and AAAA concurrently (text addresses, A first). An error only if no address was
  // found and a query failed (NXDOMAIN/NODATA for both is an empty list, not an error).
  boost::asio::awaitable<std::expected<std::vector<std::string>, DnsError>> query_addresses(
      std::string name, Deadline deadline = Deadline::max());

  // Cancel all outstanding queries (shutdown): their awaiters resume with DnsErrorKind::resolver.
  void cancel_all();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

std::string_view to_string(DnsErrorKind k);

}  // namespace mtastsd::io

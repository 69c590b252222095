// TLS sessions from Postfix <= 3.9 mail log lines: the lines (from LogFollower)
// go through core::PostfixTlsLogCorrelator; its sessions lack what a libtlsrpt
// datagram carries, the domain's TLSRPT record (RFC 8460 sec. 3), which is looked
// up here (_smtp._tls.<domain> TXT, core::select_tlsrpt_record) and cached in
// LMDB (io::TlsrptStore records) for the answer's TTL within
// [kRecordTtlMin, kRecordTtlMax]. Domains without a usable record are not
// reported (RFC 8460 sec. 3: nobody to send to): their sessions are dropped, for
// the cached time without another lookup. The policy is filled in by the
// aggregator from mtastsd's own cache.
// One lookup per domain at a time; sessions wait for it in memory, at most
// kMaxWaitingSessions in all (more are dropped, counted and logged). Sessions
// waiting when the daemon stops are lost. Unparsable lines are counted and logged
// rate-limited, never fatal.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include "core/postfix_tls_log.hpp"
#include "daemon/throttled_warning.hpp"
#include "daemon/tlsrpt_aggregator.hpp"
#include "io/dns_resolver.hpp"
#include "io/tlsrpt_store.hpp"

namespace mtastsd::daemon {

// Our choices: a changed rua is seen within an hour; a domain's sessions cost at
// most one lookup per 5 minutes; after a DNS failure (we do not know) one minute.
inline constexpr std::chrono::seconds kRecordTtlMin{300};
inline constexpr std::chrono::seconds kRecordTtlMax{3600};
inline constexpr std::chrono::seconds kRecordDnsErrorRetry{60};
inline constexpr std::size_t kMaxWaitingSessions = 10000;

struct LogSessionStats {
  std::uint64_t lines = 0;
  std::uint64_t sessions = 0;        // completed by the correlator
  std::uint64_t no_tlsrpt = 0;       // dropped: the domain has no usable TLSRPT record
  std::uint64_t overflow = 0;        // dropped: too many sessions waiting for lookups
};

class PostfixLogSessions {
 public:
  PostfixLogSessions(boost::asio::any_io_executor ex, io::DnsResolver& dns, io::TlsrptStore& store,
                     TlsrptAggregator& aggregator, util::NowFn now = util::system_now);
  ~PostfixLogSessions();

  void feed(std::string_view line);
  const LogSessionStats& stats() const { return stats_; }
  std::uint64_t malformed() const { return malformed_.total(); }

 private:
  void complete(core::SessionEvent session);
  boost::asio::awaitable<void> look_up(std::string domain);
  io::CachedTlsrptRecord lookup_result(const std::string& domain,
                                       const std::expected<io::DnsAnswer, io::DnsError>& answer);

  boost::asio::any_io_executor ex_;
  io::DnsResolver& dns_;
  io::TlsrptStore& store_;
  TlsrptAggregator& aggregator_;
  util::NowFn now_;
  core::PostfixTlsLogCorrelator correlator_;
  // Domains being looked up, with the sessions waiting for them.
  std::unordered_map<std::string, std::vector<core::SessionEvent>> waiting_;
  std::size_t waiting_count_ = 0;
  LogSessionStats stats_;
  ThrottledWarning malformed_;
  ThrottledWarning dropped_;
  std::shared_ptr<bool> alive_;  // lookups in flight check it before touching this object
};

}  // namespace mtastsd::daemon

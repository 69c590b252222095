// Answers socketmap lookups from the LMDB cache and keeps the cache filled:
// cache hits never wait on the network; a cold lookup joins the domain's single
// resolution (single-flight) for at most the cold budget; stale entries are
// re-checked in the background. All on one Asio strand (the io_context thread).
// Profiles with dane = true first need the domain's DANE verdict (RFC 7672;
// RFC 8461 sec. 2: MTA-STS must not override DANE), cached beside the policy
// and resolved in a single flight of its own. `mtastsctl cache refresh` (through
// the control socket) forces a re-fetch and awaits it (refresh_now).
// Metrics: each lookup by profile and answer with its time from request to reply, cache
// hits and misses, DANE answers, policy fetches by outcome and policy changes.
#pragma once
#include <chrono>
#include <expected>
#include <optional>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include "core/answer.hpp"
#include "core/cache_record.hpp"
#include "core/cache_rules.hpp"
#include "core/socketmap_request.hpp"
#include "daemon/config.hpp"
#include "daemon/metrics.hpp"
#include "daemon/throttled_warning.hpp"
#include "io/dns_resolver.hpp"
#include "io/policy_fetcher.hpp"
#include "io/policy_store.hpp"
#include "util/clock.hpp"

namespace mtastsd::daemon {

// Why a refresh_now brought no freshly fetched policy.
enum class RefreshFailure {
  no_policy,     // no usable _mta-sts TXT record (RFC 8461 sec. 3.1)
  dns_error,     // the TXT lookup failed (SERVFAIL, timeout, bogus)
  fetch_failed,  // the HTTPS fetch or the policy failed (RFC 8460 result type in the detail)
  backed_off,    // the published id's fetch failed recently; not retried before next_retry (RFC 8461 sec. 3.3)
  timed_out,     // the resolution took longer than refresh_wait_limit (it goes on)
  internal,      // a bug: the resolution threw
};
struct RefreshError {
  RefreshFailure kind;
  std::string detail;  // for the operator: what failed, and what the cache keeps
};

// How long refresh_now waits: a flight it joined, then its own forced one, each a TXT
// lookup (dns.timeout) and a fetch (fetch.timeout, the whole fetch).
std::chrono::milliseconds refresh_wait_limit(const Config& config);

// Where a lookup's answer came from (the lookup's log line). Ordered: a lookup that took
// several steps (DANE, then MTA-STS) is described by the slowest one.
enum class AnswerSource {
  cache,          // a cache record, fresh
  stale,          // a cache record due for a re-check, which now runs in the background
  cold,           // nothing usable cached: waited for the resolution
  budget_spent,   // nothing usable cached: answered when the cold budget ran out, the resolution goes on
  not_a_domain,   // an IP literal or a ".parent" key: NOTFOUND without a lookup
  internal_error, // a bug: TEMP
};
std::string_view to_string(AnswerSource source);

struct Answered {
  core::SocketmapReply reply;
  std::string profile;  // the profile that answered (unknown map names get "default")
  std::string domain;   // the normalised next-hop domain; empty when the key is not a domain
  AnswerSource source = AnswerSource::not_a_domain;
};

class LookupService {
 public:
  LookupService(boost::asio::any_io_executor ex, const Config& config, io::PolicyStore& store, io::DnsResolver& dns,
                io::PolicyFetcher& fetcher, Metrics& metrics, util::NowFn now = util::system_now);
  ~LookupService();

  // One socketmap request -> reply, and where it came from. Never throws; answered
  // within the reply deadline.
  boost::asio::awaitable<Answered> answer(const core::SocketmapRequest& request);

  // Start a resolution of `domain` unless one is running (single-flight);
  // force re-fetches the policy even if the TXT id is unchanged (refresher).
  void resolve_in_background(const std::string& domain, bool force);

  // Re-fetch `domain`'s policy now, even if its TXT id is unchanged, and await it: joins
  // the domain's running resolution (single-flight), and when that one fetched nothing
  // (a lookup's id check), starts a forced one. The new cache record (also stored) when a
  // policy was fetched; otherwise why not. The fetch back-off of a failed id is kept.
  // `domain` is normalised (core/next_hop). Waits at most refresh_wait_limit.
  boost::asio::awaitable<std::expected<core::CacheRecord, RefreshError>> refresh_now(const std::string& domain);

  // Told of every answer given from a policy (before the reply is sent; it must not
  // block): the MX validator (issue 5) validates testing-mode domains in the background.
  using PolicyAnswered = std::function<void(const std::string& domain, const core::CacheRecord&, const Profile&)>;
  void on_policy_answer(PolicyAnswered observer) { policy_answered_ = std::move(observer); }

  // Resolutions in flight, MTA-STS and DANE (for draining on shutdown).
  std::size_t in_flight() const { return flights_.size() + dane_flights_.size(); }

 private:
  struct Flight;
  struct Resolution;
  // answer() without the lookup's metrics and profile.
  boost::asio::awaitable<Answered> answer_for(const std::string& key, const Profile& profile);
  std::shared_ptr<Flight> start_flight(const std::string& domain, bool force);
  boost::asio::awaitable<void> run_flight(std::string domain, bool force, std::shared_ptr<Flight> flight);
  boost::asio::awaitable<Resolution> resolve(const std::string& domain, bool force);
  std::expected<core::CacheRecord, RefreshError> refresh_outcome(const Resolution& r);
  struct DaneFlight;
  using Deadline = std::chrono::steady_clock::time_point;
  std::shared_ptr<DaneFlight> start_dane_flight(const std::string& domain);
  boost::asio::awaitable<void> run_dane_flight(std::string domain, std::shared_ptr<DaneFlight> flight);
  // The DANE answer for a lookup; nullopt when DANE does not apply (MTA-STS decides).
  boost::asio::awaitable<std::optional<core::SocketmapReply>> dane_reply(const std::string& domain,
                                                                          const core::CacheRecord* record,
                                                                          const core::DanePlan& plan,
                                                                          Deadline deadline, AnswerSource& source);
  std::optional<core::CacheRecord> read_record(const std::string& domain);
  void write_record(const std::string& domain, const core::CacheRecord& record);
  core::SocketmapReply reply_for(const core::CacheRecord& record, const Profile& profile, const std::string& domain);
  void note_unknown_profile(const std::string& name);
  // Called as each resolution ends: after a burst, once none is left in flight,
  // the heap's free pages go back to the OS (util/heap_trim).
  void resolution_ended();
  // Resolutions (MTA-STS or DANE) since the heap was last trimmed; fewer than
  // this many leave too little free memory to be worth a walk of the heap.
  static constexpr std::size_t kTrimAfterResolutions = 32;
  std::size_t resolutions_since_trim_ = 0;

  boost::asio::any_io_executor ex_;
  // A cache that refuses writes (map full, disk gone read-only) fails every resolution's
  // write, and every lookup of a cached domain retries its id check: one line per 10 s.
  ThrottledWarning write_failed_;
  const Config& config_;
  io::PolicyStore& store_;
  io::DnsResolver& dns_;
  io::PolicyFetcher& fetcher_;
  Metrics& metrics_;
  util::NowFn now_;
  std::unordered_map<std::string, std::shared_ptr<Flight>> flights_;
  std::unordered_map<std::string, std::shared_ptr<DaneFlight>> dane_flights_;
  std::unordered_map<std::string, bool> unknown_profiles_logged_;
  PolicyAnswered policy_answered_;
};

}  // namespace mtastsd::daemon

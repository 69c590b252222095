// Validates the MX hosts of testing-mode domains in the background (issue 5; the
// rules are core/mx_validation's). LookupService tells it of every answer it gives
// from a cached policy (note_answer); for a `testing` policy, or an `enforce` one where
// the profile has validate_enforce, that is due, a validation starts without delaying
// the answer: the MX lookup (none: the domain itself, RFC 5321 sec. 5.1), the A/AAAA
// lookups of the hosts that match the policy's patterns, then one io::MxProbe session
// per host and address. The result replaces the domain's entry in io::MxValidationStore,
// where the TLS-RPT aggregator and `mtastsctl cache show` read it.
// Bounds: one validation per domain at a time (single flight); at most
// kMaxDomainsInFlight domains at once (a lookup finding them all busy leaves its domain
// to a later lookup); at most `concurrency` probes at once, all domains together; a host
// and address checked within the interval, for this domain or another, is not probed
// again (the result is shared). Deadlines: each DNS query the resolver's, each probe
// io::MxProbe's (step and session timeouts).
// With count_as_sessions, each check new to the domain is also handed to the TLS-RPT
// aggregator as a session, with the domain's TLSRPT record (looked up per run; a domain
// without one is not reported, RFC 8460 sec. 3).
// Metrics (mtastsd_mx_validations_total): every check a run makes (a probe, or a
// host-level check), by outcome; reused checks are not counted again. A failed MX
// lookup counts as mx-lookup-failed.
// One thread: the daemon's io_context. The network steps come in as functions, so
// tests can stand in for DNS and SMTP.
#pragma once
#include <chrono>
#include <cstddef>
#include <deque>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/steady_timer.hpp>
#include "core/cache_record.hpp"
#include "core/mx_validation.hpp"
#include "core/session_event.hpp"
#include "daemon/config.hpp"
#include "daemon/metrics.hpp"
#include "daemon/throttled_warning.hpp"
#include "io/dns_resolver.hpp"
#include "io/mx_probe.hpp"
#include "io/mx_validation_store.hpp"
#include "util/clock.hpp"

namespace mtastsd::daemon {

// Ours: domains validated at once (each holds at most kMaxValidatedHosts x
// kMaxAddressesPerHost checks); probe results shared between domains, at most.
inline constexpr std::size_t kMaxDomainsInFlight = 1000;
inline constexpr std::size_t kMaxSharedChecks = 10000;
// Ours: a domain's validations are dropped a week after its last validation (it is no
// longer looked up in testing mode).
inline constexpr util::Seconds kValidationRetention{7 * 86400};

// The network steps of a validation.
struct MxValidatorNetwork {
  using DnsResult = std::expected<io::DnsAnswer, io::DnsError>;
  using AddressResult = std::expected<std::vector<std::string>, io::DnsError>;
  std::function<boost::asio::awaitable<DnsResult>(std::string name, int rrtype)> query;
  std::function<boost::asio::awaitable<AddressResult>(std::string host)> query_addresses;
  std::function<boost::asio::awaitable<io::MxProbeResult>(std::string host, boost::asio::ip::address address)> probe;
};
MxValidatorNetwork real_network(io::DnsResolver& dns, io::MxProbe& probe);

// The probe settings with the EHLO name filled in: helo_name, or this host's name
// (gethostname) when it is "". An error when that name is unusable (localhost).
std::expected<io::MxProbeSettings, std::string> probe_settings(const MxValidationSettings& settings);

class MxValidator {
 public:
  using SessionSink = std::function<void(core::SessionEvent)>;
  // count_session: where count_as_sessions hands its sessions (the aggregator's add); may
  // be empty (TLS-RPT off, or count_as_sessions false).
  MxValidator(boost::asio::any_io_executor ex, const MxValidationSettings& settings, io::MxValidationStore& store,
              MxValidatorNetwork network, Metrics& metrics, SessionSink count_session = {},
              util::NowFn now = util::system_now);
  ~MxValidator();
  MxValidator(const MxValidator&) = delete;
  MxValidator& operator=(const MxValidator&) = delete;

  // LookupService answered `domain` from `record` (a valid policy) for `profile`.
  // Starts a validation if one is wanted and due; returns at once.
  void note_answer(const std::string& domain, const core::CacheRecord& record, const Profile& profile);
  // Deletes the validations of domains not validated for kValidationRetention.
  void prune();

  std::size_t in_flight() const { return running_.size(); }

 private:
  struct ProbeFlight;
  struct Join;
  boost::asio::awaitable<void> validate(std::string domain, core::CacheRecord record,
                                        std::optional<core::MxValidations> last);
  // Tasks of a validation: each fills its slot of `out`, then tells `join`.
  boost::asio::awaitable<void> resolve_into(std::shared_ptr<Join> join, std::string host,
                                            std::shared_ptr<std::vector<MxValidatorNetwork::AddressResult>> out,
                                            std::size_t index);
  boost::asio::awaitable<void> check_into(std::shared_ptr<Join> join, std::string host, std::string address,
                                          std::optional<core::MxCheck> stored,
                                          std::shared_ptr<std::vector<core::MxCheck>> out, std::size_t index);
  boost::asio::awaitable<core::MxCheck> check(std::string host, std::string address,
                                              std::optional<core::MxCheck> stored);
  boost::asio::awaitable<core::MxCheck> probe(std::string host, std::string address);
  boost::asio::awaitable<void> acquire_slot();
  void release_slot();
  void share(const std::string& key, const core::MxCheck& check);
  void log_changes(const std::string& domain, const core::MxValidations& next, const core::MxValidations* last) const;
  boost::asio::awaitable<void> count_sessions(std::string domain, core::CacheRecord record, core::MxValidations next,
                                              std::optional<core::MxValidations> last);

  boost::asio::any_io_executor ex_;
  const MxValidationSettings& settings_;
  io::MxValidationStore& store_;
  MxValidatorNetwork network_;
  Metrics& metrics_;
  SessionSink count_session_;
  util::NowFn now_;
  std::set<std::string> running_;                                       // domains being validated
  std::map<std::string, core::MxCheck> shared_;                          // "host address" -> latest check
  std::map<std::string, std::shared_ptr<ProbeFlight>> probing_;          // "host address" -> probe running
  std::size_t probes_running_ = 0;
  std::deque<boost::asio::steady_timer*> slot_waiters_;
  ThrottledWarning busy_;
  std::shared_ptr<bool> alive_;  // coroutines check it before touching this object after a wait
};

}  // namespace mtastsd::daemon

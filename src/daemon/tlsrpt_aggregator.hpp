// Counts TLS sessions into the TLS-RPT store (io/tlsrpt_store). Every source
// (the libtlsrpt datagram collector, the Postfix log) hands its sessions to add();
// they wait in memory and flush() writes them, with the log positions they were
// read up to, in one LMDB transaction. The daemon flushes once a second (and on
// SIGTERM), so a killed daemon loses at most the sessions of the last second,
// and an early flush keeps memory bounded under a flood (kMaxPendingSessions).
// Before a session waits, mtastsd's policy cache completes it
// (core/tlsrpt_attribution): the policy of log sessions, and the policy fetch
// failures of RFC 8461 sec. 6 that Postfix cannot see. Then mtastsd's own MX
// validation (core/mx_validation, io/mx_validation_store) decides the sessions
// Postfix ran without a policy to a domain whose cached policy is `testing`: they
// count under that sts policy, failed where the MX host's validation failed
// (only with mx_validation.enabled; without it they stay as Postfix reported them).
// Sessions the store cannot count (core::merge_session errors) are logged
// rate-limited (ThrottledWarning). One thread: the daemon's io_context.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>
#include <boost/asio/any_io_executor.hpp>
#include "core/mx_validation.hpp"
#include "core/session_event.hpp"
#include "core/tlsrpt_attribution.hpp"
#include "daemon/config.hpp"
#include "daemon/throttled_warning.hpp"
#include "io/mx_validation_store.hpp"
#include "io/policy_store.hpp"
#include "io/tlsrpt_store.hpp"
#include "util/clock.hpp"

namespace mtastsd::daemon {

// Our cap on sessions held between flushes: at Postfix's highest realistic rate
// (thousands of sessions a second) a batch is still one short transaction.
inline constexpr std::size_t kMaxPendingSessions = 50000;

struct AggregatorStats {
  std::uint64_t counted = 0;    // committed to the store
  std::uint64_t rejected = 0;   // refused by core::merge_session
  std::uint64_t lost = 0;       // in a batch the store could not write (LMDB error)
  std::uint64_t policy_failures = 0;  // sessions counted as failed by apply_policy_failure
  std::uint64_t validation_failures = 0;  // testing-mode sessions failed by apply_testing_validation
};

class TlsrptAggregator {
 public:
  TlsrptAggregator(boost::asio::any_io_executor ex, const Config& config, io::PolicyStore& policies,
                   io::MxValidationStore& validations, io::TlsrptStore& store, util::NowFn now = util::system_now);

  // One session, counted under today's UTC day at the next flush. Events of an
  // unknown policy type (Postfix log lines) get theirs from the policy cache;
  // no-policy-found events of testing-mode domains the MX validation's verdict.
  void add(core::SessionEvent event);
  // How far a log source is read: stored with the next flush.
  void set_position(const std::string& source, const io::LogPosition& position);
  // Writes what is waiting in one transaction; returns the sessions counted.
  std::size_t flush();
  // Deletes days before the retention (tlsrpt.retention_days before today) and
  // TLSRPT records whose time is up.
  void prune();

  std::size_t pending() const { return pending_.size(); }
  const AggregatorStats& stats() const { return stats_; }

 private:
  const Config& config_;
  io::PolicyStore& policies_;
  io::MxValidationStore& validations_;
  io::TlsrptStore& store_;
  util::NowFn now_;
  core::LogProfile log_profile_;
  std::vector<io::KeyedSession> pending_;
  std::map<std::string, io::LogPosition> positions_;
  AggregatorStats stats_;
  ThrottledWarning not_counted_;
};

}  // namespace mtastsd::daemon

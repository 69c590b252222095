// Planning and sending queued TLS-RPT reports: the steps the daemon's scheduler
// (daemon/report_scheduler) and `mtastsctl report send` share, so that both plan the
// same reports and record every attempt the same way (io/report_outbox).
// Each attempt is claimed and its result recorded in its own LMDB commit, each followed
// by a sync of the environment (the counts' once-a-second sync is too late here: a
// report recorded as accepted must stay so even across a power loss).
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <boost/asio/awaitable.hpp>
#include "daemon/config.hpp"
#include "io/report_outbox.hpp"
#include "io/report_sender.hpp"
#include "io/store_env.hpp"
#include "util/clock.hpp"

namespace mtastsd::daemon {

// Our margin over the longest attempt (mail_timeout or https_timeout, see claim_rules): the
// time a claim holds before another sender may take an entry whose claimant is still alive.
inline constexpr std::chrono::seconds kClaimMargin{30};
// Report tokens (RFC 8460 sec. 5.1 unique-id, 1*32 ALPHA / DIGIT): 16 random letters
// and digits, 95 bits, unique without coordination.
inline constexpr std::size_t kReportTokenLength = 16;

core::ReportOrigin report_origin(const TlsRptSettings& t);
bool has_report_origin(const TlsRptSettings& t);

// Plans each day and domain at a random time within tlsrpt.send_delay after its day
// (core::first_send_time), or at `send_at` when given (mtastsctl: now).
io::DeliveryPlanner make_planner(const TlsRptSettings& t, util::NowFn now,
                                 std::optional<util::TimePoint> send_at = std::nullopt);

// The claim rules of this process, which runs up to `attempts_at_once` attempts at once.
// E-mails go one at a time (io/report_sender), so a claimed one may wait for the others
// before its own attempt starts: the lease covers that wait, or another process could take
// over an entry we are about to send (claimant alive, lease over) and send it twice.
core::ClaimRules claim_rules(const TlsRptSettings& t, std::size_t attempts_at_once);

// One attempt to send a claimed entry, its result recorded and synced, and logged (log_delivery).
// Returns the entry as recorded.
boost::asio::awaitable<io::StoredEntry> deliver(io::ReportSender& sender, io::ReportOutbox& outbox,
                                                io::StoreEnv& env, io::StoredEntry claimed,
                                                std::chrono::seconds retry_period, util::NowFn now);

// "2024-04-01 example.com -> mailto:tlsrpt@example.com", for log lines.
std::string describe(const io::StoredEntry& stored);

// The one line per delivery result: delivered and retry at info, failed (given up) as a
// warning, each with the report, its rua and the last attempt's result.
void log_delivery(const io::StoredEntry& stored);

}  // namespace mtastsd::daemon

// Sends the daily TLS-RPT reports (RFC 8460 sec. 4.1, 5) from the daemon: once a UTC day
// is over (kPlanSettle after midnight, when the last second's sessions are committed), its
// reports are planned into the outbox (io/report_outbox) at a random time within
// tlsrpt.send_delay; due entries are claimed and sent (daemon/report_dispatch), at most
// kMaxInFlight at once; failures come back with back-off until the retry period ends.
// The wall clock is read every kTick, so a clock step (NTP, a resumed VM) is noticed
// within a second; the outbox is re-read at least every kRescan, so entries made due by
// `mtastsctl report send --day` in another process are picked up.
// Deliveries cut off by shutdown keep their claim with our process id; the next start
// sees the id dead and sends them again (same report-id, same Message-ID).
// Metrics (mtastsd_reports_total): each attempt's result (delivered, retry, failed) and
// each delivery given up without an attempt (failed: its retry period is over).
// One thread: the daemon's io_context.
#pragma once
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include "daemon/config.hpp"
#include "daemon/metrics.hpp"
#include "io/report_outbox.hpp"
#include "io/report_sender.hpp"
#include "io/store_env.hpp"
#include "util/clock.hpp"

namespace mtastsd::daemon {

inline constexpr std::chrono::seconds kTick{1};
inline constexpr std::chrono::seconds kPlanSettle{10};  // > the aggregator's 1 s commit interval
inline constexpr std::chrono::seconds kRescan{30};
inline constexpr std::chrono::seconds kPlanInterval{60};  // re-plan days refused earlier
// Our cap: e-mails go one at a time anyway (io/report_sender); this bounds parallel uploads.
inline constexpr std::size_t kMaxInFlight = 8;

class ReportScheduler {
 public:
  ReportScheduler(boost::asio::any_io_executor ex, const Config& config, io::StoreEnv& env, io::ReportOutbox& outbox,
                  io::ReportSender& sender, Metrics& metrics, util::NowFn now = util::system_now);
  ~ReportScheduler();
  void start();
  void stop();
  // Deletes the deliveries of days past tlsrpt.retention_days (with their counts).
  void prune();
  std::size_t in_flight() const { return in_flight_.size(); }
  // When it next has work (for `mtastsctl status`): the next due delivery it knows of
  // (at the latest kRescan old), or the next day's planning, whichever is first.
  util::TimePoint next_run() const;

 private:
  void tick();
  void plan();
  void send_due(util::TimePoint now);

  boost::asio::any_io_executor ex_;
  const Config& config_;
  io::StoreEnv& env_;
  io::ReportOutbox& outbox_;
  io::ReportSender& sender_;
  Metrics& metrics_;
  util::NowFn now_;
  boost::asio::steady_timer timer_;
  bool stopped_ = false;
  std::set<std::string> in_flight_;  // encoded keys of our attempts still running: never claimed twice
  std::optional<core::UtcDay> planned_before_;  // the `before` of the last plan() run
  std::chrono::steady_clock::time_point next_plan_{};
  std::chrono::steady_clock::time_point next_scan_{};
  std::optional<util::TimePoint> next_attention_;
  std::set<std::string> reported_problems_;  // planning problems already logged
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace mtastsd::daemon

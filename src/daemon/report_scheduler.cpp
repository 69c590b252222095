// The daemon's TLS-RPT report schedule; see the header.
#include "daemon/report_scheduler.hpp"

#include <algorithm>

#include <boost/asio/co_spawn.hpp>
#include <spdlog/spdlog.h>
#include "daemon/report_dispatch.hpp"

namespace asio = boost::asio;

namespace mtastsd::daemon {

namespace {
// The result of an attempt, from the entry's state as recorded after it.
std::optional<Metrics::ReportResult> attempt_result(core::OutboxState recorded) {
  switch (recorded) {
    case core::OutboxState::delivered: return Metrics::ReportResult::delivered;
    case core::OutboxState::queued: return Metrics::ReportResult::retry;
    case core::OutboxState::failed: return Metrics::ReportResult::failed;
    case core::OutboxState::sending: break;  // not after core::record_attempt
  }
  return std::nullopt;
}
}  // namespace

ReportScheduler::ReportScheduler(asio::any_io_executor ex, const Config& config, io::StoreEnv& env,
                                 io::ReportOutbox& outbox, io::ReportSender& sender, Metrics& metrics,
                                 util::NowFn now)
    : ex_(ex),
      config_(config),
      env_(env),
      outbox_(outbox),
      sender_(sender),
      metrics_(metrics),
      now_(std::move(now)),
      timer_(ex) {}

ReportScheduler::~ReportScheduler() { *alive_ = false; }

void ReportScheduler::start() { tick(); }

void ReportScheduler::stop() {
  stopped_ = true;
  timer_.cancel();
}

void ReportScheduler::tick() {
  if (stopped_) return;
  const util::TimePoint now = now_();
  const auto steady = std::chrono::steady_clock::now();
  const core::UtcDay today = core::UtcDay::containing(now);
  // Yesterday is plannable once its last sessions are surely committed.
  const core::UtcDay before = now >= today.start() + kPlanSettle ? today : core::UtcDay{today.days_since_epoch - 1};
  if (planned_before_ != before || steady >= next_plan_) {
    if (planned_before_ != before) reported_problems_.clear();  // a new day: say again what still blocks
    planned_before_ = before;
    next_plan_ = steady + kPlanInterval;
    plan();
  }
  if (in_flight_.size() < kMaxInFlight && (steady >= next_scan_ || (next_attention_ && now >= *next_attention_)))
    send_due(now);
  timer_.expires_after(kTick);
  timer_.async_wait([this, alive = alive_](boost::system::error_code ec) {
    if (!ec && *alive) tick();
  });
}

void ReportScheduler::plan() {
  if (!has_report_origin(config_.tlsrpt)) return;
  auto report = outbox_.plan(*planned_before_, make_planner(config_.tlsrpt, now_));
  if (!report) {
    spdlog::warn("TLS-RPT: planning reports failed: {}", report.error().detail);
    return;
  }
  for (const core::DomainDayKey& key : report->planned)
    spdlog::info("TLS-RPT: reports of {} for {} queued, to be sent within {} s of midnight UTC", key.day.to_string(),
                 key.report_domain, config_.tlsrpt.send_delay.count());
  for (const std::string& problem : report->problems)
    if (reported_problems_.insert(problem).second) spdlog::warn("TLS-RPT: no report for {}", problem);
  if (!report->planned.empty()) {
    env_.sync();
    next_scan_ = {};  // look for due entries at once
  }
}

void ReportScheduler::send_due(util::TimePoint now) {
  next_scan_ = std::chrono::steady_clock::now() + kRescan;
  const core::ClaimRules rules = claim_rules(config_.tlsrpt, kMaxInFlight);
  auto claims = outbox_.claim_due(now, rules, kMaxInFlight - in_flight_.size(), {}, in_flight_);
  if (!claims) {
    spdlog::warn("TLS-RPT: reading the report queue failed: {}", claims.error().detail);
    return;
  }
  next_attention_ = claims->next_attention;
  if (claims->claimed.empty() && claims->gave_up.empty()) return;
  env_.sync();  // a claim must outlive a crash, or another sender could take the entry
  for (const io::StoredEntry& stored : claims->gave_up) {
    metrics_.report(Metrics::ReportResult::failed);
    log_delivery(stored);
  }
  for (io::StoredEntry& stored : claims->claimed) {
    if (std::find(claims->taken_over.begin(), claims->taken_over.end(), stored.key) != claims->taken_over.end())
      spdlog::warn("TLS-RPT report {}: {}; sending it again with the same report-id", describe(stored),
                   stored.entry.last_result);
    std::string key = core::encode_outbox_key(stored.key);
    in_flight_.insert(key);
    asio::co_spawn(ex_, deliver(sender_, outbox_, env_, std::move(stored), config_.tlsrpt.retry_period, now_),
                   [this, alive = alive_, key = std::move(key)](std::exception_ptr error,
                                                                const io::StoredEntry& recorded) {
                     if (!*alive) return;
                     in_flight_.erase(key);
                     next_scan_ = {};  // a retry time or a free slot: look again
                     if (error) {
                       try {
                         std::rethrow_exception(error);
                       } catch (const std::exception& e) {
                         spdlog::error("TLS-RPT: a report delivery failed unexpectedly: {}", e.what());
                       }
                     } else if (const auto result = attempt_result(recorded.entry.state)) {
                       metrics_.report(*result);
                     }
                   });
  }
}

util::TimePoint ReportScheduler::next_run() const {
  const util::TimePoint now = now_();
  const core::UtcDay today = core::UtcDay::containing(now);
  util::TimePoint planning = today.start() + kPlanSettle;
  if (now >= planning) planning = core::UtcDay{today.days_since_epoch + 1}.start() + kPlanSettle;
  return next_attention_ ? std::min(*next_attention_, planning) : planning;
}

void ReportScheduler::prune() {
  const core::UtcDay first_kept = core::first_retained_day(now_(), config_.tlsrpt.retention_days);
  if (auto pruned = outbox_.prune_days(first_kept); !pruned)
    spdlog::warn("TLS-RPT: pruning the report queue before {} failed: {}", first_kept.to_string(),
                 pruned.error().detail);
  else if (*pruned > 0)
    spdlog::info("TLS-RPT: deleted {} report delivery record(s) before {}", *pruned, first_kept.to_string());
}

}  // namespace mtastsd::daemon

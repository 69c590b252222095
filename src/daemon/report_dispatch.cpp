// Planning and sending queued TLS-RPT reports; see the header.
#include "daemon/report_dispatch.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include "util/printable.hpp"
#include "util/random.hpp"

namespace mtastsd::daemon {

core::ReportOrigin report_origin(const TlsRptSettings& t) {
  return {t.organization_name, t.contact_info, t.submitter};
}

bool has_report_origin(const TlsRptSettings& t) {
  return !t.organization_name.empty() && !t.contact_info.empty() && !t.submitter.empty();
}

io::DeliveryPlanner make_planner(const TlsRptSettings& t, util::NowFn now, std::optional<util::TimePoint> send_at) {
  return [origin = report_origin(t), delay = t.send_delay, now = std::move(now), send_at](
             const core::DomainDayKey& key,
             const core::DomainDay& day) -> std::expected<std::vector<core::OutboxEntry>, std::string> {
    const util::TimePoint when = send_at.value_or(core::first_send_time(key.day, delay, util::random_fraction()));
    auto entries =
        core::plan_deliveries(origin, key, day, when, now(), [] { return util::random_alnum(kReportTokenLength); });
    if (!entries)
      return std::unexpected(fmt::format("{}: {}", core::to_string(entries.error().error), entries.error().detail));
    return std::move(*entries);
  };
}

core::ClaimRules claim_rules(const TlsRptSettings& t, std::size_t attempts_at_once) {
  const auto mail_queue = t.sender.mail_timeout * static_cast<std::int64_t>(std::max<std::size_t>(attempts_at_once, 1));
  const auto longest = std::max(mail_queue, t.sender.https.timeout);
  return core::ClaimRules{
      .retry_period = t.retry_period,
      .lease = std::chrono::duration_cast<std::chrono::seconds>(longest) + kClaimMargin,
      .claimant = ::getpid(),
      // EPERM: the process exists under another user (a root mtastsctl seen by the daemon).
      .alive = [](std::int64_t pid) {
        return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
      },
  };
}

std::string describe(const io::StoredEntry& stored) {
  return fmt::format("{} {} -> {}", stored.key.day.day.to_string(), stored.key.day.report_domain,
                     util::printable_excerpt(stored.entry.rua, 120));
}

void log_delivery(const io::StoredEntry& stored) {
  const core::OutboxEntry& e = stored.entry;
  const std::string result = util::printable_excerpt(e.last_result, 200);
  switch (e.state) {
    case core::OutboxState::delivered:
      spdlog::info("TLS-RPT report {}: delivered (report-id {}, attempt {}): {}", describe(stored),
                   e.report.report_id, e.attempts, result);
      break;
    case core::OutboxState::queued:
      spdlog::info("TLS-RPT report {}: retry (report-id {}, attempt {}, next at {}): {}", describe(stored),
                   e.report.report_id, e.attempts, util::format_utc(e.next_attempt), result);
      break;
    case core::OutboxState::failed:
      // A warning: the report is lost for good.
      spdlog::warn("TLS-RPT report {}: failed (report-id {}, given up after {} attempt(s)): {}", describe(stored),
                   e.report.report_id, e.attempts, result);
      break;
    case core::OutboxState::sending: break;  // no result yet
  }
}

boost::asio::awaitable<io::StoredEntry> deliver(io::ReportSender& sender, io::ReportOutbox& outbox,
                                                io::StoreEnv& env, io::StoredEntry claimed,
                                                std::chrono::seconds retry_period, util::NowFn now) {
  const io::OutgoingReport outgoing{claimed.entry.report, claimed.key.day.report_domain, claimed.entry.submitter};
  const core::DeliveryResult result = co_await sender.send(outgoing, claimed.entry.rua, now());
  core::record_attempt(claimed.entry, result, now(), retry_period);
  if (auto recorded = outbox.record(claimed); !recorded)
    spdlog::error("TLS-RPT report {}: the attempt's result could not be stored ({}); it will be retried once its "
                  "claim runs out",
                  describe(claimed), recorded.error().detail);
  env.sync();
  log_delivery(claimed);
  co_return claimed;
}

}  // namespace mtastsd::daemon

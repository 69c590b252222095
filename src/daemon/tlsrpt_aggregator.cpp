// Sessions held in memory and committed in batches; see the header.
#include "daemon/tlsrpt_aggregator.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace mtastsd::daemon {

TlsrptAggregator::TlsrptAggregator(boost::asio::any_io_executor ex, const Config& config, io::PolicyStore& policies,
                                   io::MxValidationStore& validations, io::TlsrptStore& store, util::NowFn now)
    : config_(config),
      policies_(policies),
      validations_(validations),
      store_(store),
      now_(std::move(now)),
      not_counted_(std::move(ex), "TLS session not counted") {
  const Profile& profile = config.profile_for(config.tlsrpt.postfix_log_profile);
  log_profile_ = core::LogProfile{.testing_enforced = profile.testing == TestingAnswer::enforce, .dane = profile.dane};
}

void TlsrptAggregator::add(core::SessionEvent event) {
  const util::TimePoint now = now_();
  auto key = core::domain_day_key(event, now);
  if (!key) {
    ++stats_.rejected;
    not_counted_.note(fmt::format("{}: {}", core::to_string(key.error().error), key.error().detail));
    return;
  }
  // A record that cannot be read (corrupt, LMDB error) counts as none: the
  // session is still counted, as Postfix reported it.
  auto record = policies_.get(key->report_domain);
  const core::CacheRecord* cached = record && *record ? &**record : nullptr;
  event = core::attribute_log_policy(std::move(event), cached, now, log_profile_);
  if (event.policy.type != core::PolicyType::tlsa && core::policy_failure_in_force(cached, now))
    ++stats_.policy_failures;
  event = core::apply_policy_failure(std::move(event), cached, now);
  const bool testing_mode = cached && cached->policy.mode == core::StsMode::testing;
  if (event.policy.type == core::PolicyType::no_policy_found && testing_mode && config_.mx_validation.enabled) {
    // Unreadable validations count as none: the session is counted with Postfix's outcome.
    auto validations = validations_.get(key->report_domain);
    const core::MxValidations* validated = validations && *validations ? &**validations : nullptr;
    const std::size_t details = event.failure_details.size();
    event = core::apply_testing_validation(std::move(event), cached, validated, now);
    if (event.failure_details.size() > details) ++stats_.validation_failures;
  }
  pending_.push_back(io::KeyedSession{std::move(*key), std::move(event)});
  if (pending_.size() >= kMaxPendingSessions) flush();
}

void TlsrptAggregator::set_position(const std::string& source, const io::LogPosition& position) {
  positions_[source] = position;
}

std::size_t TlsrptAggregator::flush() {
  if (pending_.empty() && positions_.empty()) return 0;
  const std::vector<std::pair<std::string, io::LogPosition>> positions(positions_.begin(), positions_.end());
  auto report = store_.merge(pending_, positions);
  const std::size_t sessions = pending_.size();
  pending_.clear();
  positions_.clear();
  if (!report) {
    // Keeping the batch would grow memory without bound while the store refuses
    // writes (a full map); say what is lost instead.
    stats_.lost += sessions;
    spdlog::error("TLS-RPT: {} session(s) not counted: {}", sessions, report.error().detail);
    return 0;
  }
  for (const std::string& corrupt : report->corrupt_days)
    spdlog::error("TLS-RPT: stored counts did not decode and start again from zero: {}", corrupt);
  for (const core::AggregateFailure& failure : report->rejected)
    not_counted_.note(fmt::format("{}: {}", core::to_string(failure.error), failure.detail));
  stats_.rejected += report->rejected.size();
  stats_.counted += report->merged;
  return report->merged;
}

void TlsrptAggregator::prune() {
  const util::TimePoint now = now_();
  const core::UtcDay first_kept = core::first_retained_day(now, config_.tlsrpt.retention_days);
  if (auto pruned = store_.prune_days(first_kept); !pruned)
    spdlog::warn("TLS-RPT: pruning counts before {} failed: {}", first_kept.to_string(), pruned.error().detail);
  else if (*pruned > 0)
    spdlog::info("TLS-RPT: deleted {} day/domain count(s) before {}", *pruned, first_kept.to_string());
  if (auto pruned = store_.prune_records(now); !pruned)
    spdlog::warn("TLS-RPT: pruning cached TLSRPT records failed: {}", pruned.error().detail);
}

}  // namespace mtastsd::daemon

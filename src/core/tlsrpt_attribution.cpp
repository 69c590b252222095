// Session events completed from mtastsd's policy cache; see the header.
#include "core/tlsrpt_attribution.hpp"

#include <utility>

namespace mtastsd::core {
namespace {

bool non_none_policy_valid(const CacheRecord& r, util::TimePoint now) {
  return r.policy_valid_at(now) && r.policy.mode != StsMode::none;
}

bool dane_applies(const CacheRecord& r, util::TimePoint now) {
  return r.dane && now < r.dane->valid_until &&
         (r.dane->verdict == DaneVerdict::dane || r.dane->verdict == DaneVerdict::dane_only);
}

// What mtastsd answers for the cached policy (answer building in lookup_service):
// enforce always, testing only where the profile enforces it.
bool policy_answered(const CacheRecord& r, util::TimePoint now, const LogProfile& profile) {
  if (!r.policy_valid_at(now)) return false;
  return r.policy.mode == StsMode::enforce || (r.policy.mode == StsMode::testing && profile.testing_enforced);
}

void use_cached_policy(AppliedPolicy& policy, const CacheRecord& r) {
  policy.type = PolicyType::sts;
  policy.strings = r.policy.lines;
  policy.mx_hosts = r.policy.mx;
}

}  // namespace

SessionEvent attribute_log_policy(SessionEvent event, const CacheRecord* record, util::TimePoint now,
                                  const LogProfile& profile) {
  if (event.policy.type != PolicyType::unknown) return event;
  event.policy.strings.clear();
  event.policy.mx_hosts.clear();
  if (event.policy.domain.empty()) event.policy.domain = event.report_domain;
  if (record != nullptr && profile.dane && dane_applies(*record, now)) {
    event.policy.type = PolicyType::tlsa;
  } else if (record != nullptr && policy_answered(*record, now, profile)) {
    use_cached_policy(event.policy, *record);
  } else {
    event.policy.type = PolicyType::no_policy_found;
  }
  return event;
}

std::optional<FailureType> policy_failure_in_force(const CacheRecord* record, util::TimePoint now) {
  if (record == nullptr || !record->failure) return std::nullopt;
  // The id that failed is the one the domain publishes now (last_txt_id is "" once
  // the TXT record is gone or unusable), or a policy is still in force.
  const bool published_id_failing = !record->last_txt_id.empty() && record->failed_id == record->last_txt_id;
  if (published_id_failing || non_none_policy_valid(*record, now)) return record->failure;
  return std::nullopt;
}

SessionEvent apply_policy_failure(SessionEvent event, const CacheRecord* record, util::TimePoint now) {
  if (event.policy.type == PolicyType::tlsa) return event;
  const auto failure = policy_failure_in_force(record, now);
  if (!failure) return event;

  if (event.policy.type != PolicyType::sts) {
    // Postfix saw no policy (mtastsd answered NOTFOUND): the report names the
    // domain's sts policy, as far as one is cached.
    event.policy.strings.clear();
    event.policy.mx_hosts.clear();
    event.policy.type = PolicyType::sts;
    if (non_none_policy_valid(*record, now)) use_cached_policy(event.policy, *record);
  }
  if (event.policy.domain.empty()) event.policy.domain = event.report_domain;
  event.failed = true;
  FailureDetail detail;
  detail.result_type = *failure;
  detail.receiving_mx_hostname = event.mx_hostname;
  detail.failure_reason_code = record->failure_detail;
  event.failure_details.insert(event.failure_details.begin(), std::move(detail));
  return event;
}

}  // namespace mtastsd::core

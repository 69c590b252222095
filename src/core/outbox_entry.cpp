// Queued TLS-RPT report deliveries; see the header. Stored value: versioned JSON,
//   {"v":1, "rua", "submitter", "report":{"id","json","file","subject"}, "state",
//    "attempts", "planned", "next", "first"?, "claimed_by", "lease", "last", "finished"?}
// times in unix seconds. Decoding never throws.
#include "core/outbox_entry.hpp"

#include <algorithm>
#include <charconv>
#include <limits>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include "util/json_fields.hpp"
#include "util/json_text.hpp"

namespace mtastsd::core {
namespace {

using Json = nlohmann::json;

std::unexpected<OutboxCorrupt> outbox_corrupt(std::string detail) {
  return std::unexpected(OutboxCorrupt{std::move(detail)});
}

constexpr std::int64_t kMaxUnix = std::numeric_limits<std::int32_t>::max() * std::int64_t{64};

std::optional<OutboxState> parse_state(std::string_view text) {
  for (OutboxState s : {OutboxState::queued, OutboxState::sending, OutboxState::delivered, OutboxState::failed})
    if (to_string(s) == text) return s;
  return std::nullopt;
}

}  // namespace

std::string_view to_string(OutboxState s) {
  switch (s) {
    case OutboxState::queued: return "queued";
    case OutboxState::sending: return "sending";
    case OutboxState::delivered: return "delivered";
    case OutboxState::failed: return "failed";
  }
  return "?";
}

std::string outbox_key_prefix(const DomainDayKey& day) { return encode_domain_day_key(day) + "/"; }

std::string encode_outbox_key(const OutboxKey& key) {
  return fmt::format("{}{:03}", outbox_key_prefix(key.day), key.index);
}

std::expected<OutboxKey, OutboxCorrupt> decode_outbox_key(std::string_view bytes) {
  const std::size_t slash = bytes.rfind('/');
  if (slash == std::string_view::npos || bytes.size() - slash != 4)
    return outbox_corrupt("key is not \"DAY/domain/NNN\"");
  unsigned index = 0;
  const std::string_view digits = bytes.substr(slash + 1);
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
  if (ec != std::errc() || end != digits.data() + digits.size() || index >= kMaxDeliveriesPerDomainDay)
    return outbox_corrupt("key index is not three digits below 100");
  auto day = decode_domain_day_key(bytes.substr(0, slash));
  if (!day) return outbox_corrupt(day.error().detail);
  return OutboxKey{std::move(*day), index};
}

std::string encode_outbox_entry(const OutboxEntry& e) {
  Json j = {
      {"v", kOutboxFormat},
      {"rua", e.rua},
      {"submitter", e.submitter},
      {"report",
       {{"id", e.report.report_id}, {"json", e.report.json}, {"file", e.report.file_name}, {"subject", e.report.subject}}},
      {"state", to_string(e.state)},
      {"attempts", e.attempts},
      {"planned", util::to_unix(e.planned_at)},
      {"next", util::to_unix(e.next_attempt)},
      {"claimed_by", e.claimed_by},
      {"lease", util::to_unix(e.lease_until)},
      {"last", e.last_result},
  };
  if (e.first_attempt) j["first"] = util::to_unix(*e.first_attempt);
  if (e.finished_at) j["finished"] = util::to_unix(*e.finished_at);
  return util::json_text(j);
}

std::expected<OutboxEntry, OutboxCorrupt> decode_outbox_entry(std::string_view bytes) {
  const Json j = Json::parse(bytes.begin(), bytes.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return outbox_corrupt("not a JSON object");
  auto version = util::json_int(j, "v", 0, std::numeric_limits<int>::max());
  if (!version) return outbox_corrupt(version.error());
  if (*version != kOutboxFormat) return outbox_corrupt(fmt::format("format {} is not {}", *version, kOutboxFormat));

  OutboxEntry e;
  std::string problem;
  auto text = [&](const Json& obj, const char* key, std::string& out) {
    auto v = util::json_string(obj, key);
    if (v)
      out = std::move(*v);
    else if (problem.empty())
      problem = v.error();
  };
  auto time = [&](const Json& obj, const char* key, util::TimePoint& out) {
    auto v = util::json_int(obj, key, 0, kMaxUnix);
    if (v)
      out = util::from_unix(*v);
    else if (problem.empty())
      problem = v.error();
  };
  auto optional_time = [&](const Json& obj, const char* key, std::optional<util::TimePoint>& out) {
    if (!obj.contains(key)) return;
    util::TimePoint t;
    time(obj, key, t);
    out = t;
  };
  text(j, "rua", e.rua);
  text(j, "submitter", e.submitter);
  auto report = util::json_member(j, "report");
  if (!report || !(*report)->is_object()) return outbox_corrupt("field \"report\" is not an object");
  text(**report, "id", e.report.report_id);
  text(**report, "json", e.report.json);
  text(**report, "file", e.report.file_name);
  text(**report, "subject", e.report.subject);
  std::string state;
  text(j, "state", state);
  auto attempts = util::json_int(j, "attempts", 0, 1000000);
  if (!attempts) return outbox_corrupt(attempts.error());
  e.attempts = static_cast<unsigned>(*attempts);
  time(j, "planned", e.planned_at);
  time(j, "next", e.next_attempt);
  optional_time(j, "first", e.first_attempt);
  auto claimed_by = util::json_int(j, "claimed_by", 0, std::numeric_limits<std::int64_t>::max());
  if (!claimed_by) return outbox_corrupt(claimed_by.error());
  e.claimed_by = *claimed_by;
  time(j, "lease", e.lease_until);
  text(j, "last", e.last_result);
  optional_time(j, "finished", e.finished_at);
  if (!problem.empty()) return outbox_corrupt(problem);
  auto parsed = parse_state(state);
  if (!parsed) return outbox_corrupt(fmt::format("unknown state \"{}\"", state));
  e.state = *parsed;
  return e;
}

util::TimePoint first_send_time(UtcDay day, std::chrono::seconds send_delay, double random_fraction) {
  const double fraction = std::clamp(random_fraction, 0.0, 1.0);
  const auto offset = std::chrono::seconds(static_cast<std::int64_t>(static_cast<double>(send_delay.count()) * fraction));
  return UtcDay{day.days_since_epoch + 1}.start() + std::min(offset, send_delay);
}

std::expected<std::vector<OutboxEntry>, ReportFailure> plan_deliveries(const ReportOrigin& origin,
                                                                       const DomainDayKey& key, const DomainDay& day,
                                                                       util::TimePoint send_at, util::TimePoint now,
                                                                       const std::function<std::string()>& new_token) {
  std::vector<OutboxEntry> entries;
  for (const ReportGroup& group : group_by_rua(day)) {
    auto report = build_report(origin, key.day, key.report_domain, group.policies, new_token());
    if (!report) return std::unexpected(report.error());
    for (const std::string& rua : group.rua) {
      if (entries.size() == kMaxDeliveriesPerDomainDay) return entries;
      OutboxEntry e;
      e.rua = rua;
      e.submitter = origin.submitter;
      e.report = *report;
      e.planned_at = now;
      e.next_attempt = send_at;
      entries.push_back(std::move(e));
    }
  }
  if (entries.empty()) return std::unexpected(ReportFailure{ReportError::no_policies, key.report_domain});
  return entries;
}

namespace {
void take_for_sending(OutboxEntry& entry, util::TimePoint now, const ClaimRules& rules) {
  entry.state = OutboxState::sending;
  ++entry.attempts;
  if (!entry.first_attempt) entry.first_attempt = now;
  entry.claimed_by = rules.claimant;
  entry.lease_until = now + rules.lease;
}
}  // namespace

ClaimOutcome claim(OutboxEntry& entry, util::TimePoint now, const ClaimRules& rules) {
  switch (entry.state) {
    case OutboxState::delivered:
    case OutboxState::failed:
      return ClaimOutcome::finished;
    case OutboxState::queued:
      if (entry.next_attempt > now) return ClaimOutcome::not_due;
      take_for_sending(entry, now, rules);
      return ClaimOutcome::claimed;
    case OutboxState::sending: {
      const bool claimant_alive = rules.alive ? rules.alive(entry.claimed_by) : true;
      if (claimant_alive && now < entry.lease_until) return ClaimOutcome::not_due;
      // The claimant died (or hung past its lease) in the middle of an attempt: the
      // report may or may not have been accepted. Sending it again with the same
      // report-id is the lesser evil than losing it (the receiver can drop the copy).
      entry.last_result = fmt::format(
          "temporary failure: the attempt by process {} was interrupted (the sender stopped); outcome unknown",
          entry.claimed_by);
      const util::TimePoint first = entry.first_attempt.value_or(now);
      if (now >= first + rules.retry_period) {
        entry.state = OutboxState::failed;
        entry.finished_at = now;
        entry.claimed_by = 0;
        entry.lease_until = {};
        return ClaimOutcome::gave_up;
      }
      take_for_sending(entry, now, rules);
      return ClaimOutcome::taken_over;
    }
  }
  return ClaimOutcome::finished;
}

void record_attempt(OutboxEntry& entry, const DeliveryResult& result, util::TimePoint now,
                    std::chrono::seconds retry_period) {
  entry.claimed_by = 0;
  entry.lease_until = {};
  if (result) {
    entry.state = OutboxState::delivered;
    entry.last_result = result->detail;
    entry.finished_at = now;
    return;
  }
  entry.last_result = fmt::format("{}: {}", to_string(result.error().error), result.error().detail);
  const util::TimePoint end = entry.first_attempt.value_or(now) + retry_period;
  if (result.error().error == DeliveryError::permanent || now >= end) {
    entry.state = OutboxState::failed;
    entry.finished_at = now;
    return;
  }
  // kFirstRetryDelay * 2^(attempts-1), capped; the shift is bounded so it cannot overflow.
  const unsigned doublings = std::min(entry.attempts == 0 ? 0u : entry.attempts - 1, 16u);
  const auto delay = std::min<std::chrono::seconds>(kFirstRetryDelay * (std::int64_t{1} << doublings), kMaxRetryDelay);
  entry.state = OutboxState::queued;
  entry.next_attempt = std::min(now + delay, end);
}

std::optional<util::TimePoint> next_attention(const OutboxEntry& entry) {
  switch (entry.state) {
    case OutboxState::queued: return entry.next_attempt;
    case OutboxState::sending: return entry.lease_until;
    case OutboxState::delivered:
    case OutboxState::failed: return std::nullopt;
  }
  return std::nullopt;
}

bool make_due(OutboxEntry& entry, util::TimePoint now, bool resend) {
  switch (entry.state) {
    case OutboxState::sending: return false;
    case OutboxState::delivered:
      if (!resend) return false;
      [[fallthrough]];
    case OutboxState::failed:
      // A fresh retry period from the next attempt on.
      entry.first_attempt.reset();
      entry.finished_at.reset();
      entry.state = OutboxState::queued;
      [[fallthrough]];
    case OutboxState::queued:
      entry.next_attempt = now;
      return true;
  }
  return false;
}

}  // namespace mtastsd::core

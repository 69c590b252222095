// MX validation state, its JSON form, and its use for TLS-RPT; see the header.
// Encoding: one compact JSON object (nlohmann-json), like core/cache_record, so values
// stay readable with mdb_dump and the format is versioned ("v"). Times are unix
// seconds. Decoding checks every field's presence, type and range and turns anything
// unexpected into MxValidationsCorrupt; it never throws.
// Limit: strings that are not valid UTF-8 (a probe detail or greeting taken from the
// network) are stored with U+FFFD replacements, since JSON text is UTF-8.
#include "core/mx_validation.hpp"

#include <algorithm>
#include <limits>
#include <utility>
#include <nlohmann/json.hpp>
#include "core/host_name.hpp"
#include "util/json_fields.hpp"
#include "util/json_text.hpp"

namespace mtastsd::core {
namespace {

using Json = nlohmann::json;

// At most kMaxValidatedHosts hosts of kMaxAddressesPerHost checks, each with a detail
// and a greeting capped by the probe (a few hundred octets): far below this.
constexpr std::size_t kMaxEncoded = 1u << 20;
// Unix seconds; the range keeps TimePoint arithmetic from overflowing (as core/cache_record).
constexpr std::int64_t kMaxUnixTime = std::int64_t{1} << 33;

constexpr std::string_view kOk = "ok";
constexpr std::string_view kUnreachable = "unreachable";

std::unexpected<MxValidationsCorrupt> validations_corrupt(std::string detail) {
  return std::unexpected(MxValidationsCorrupt{std::move(detail)});
}

// The field readers (util/json_fields) with their errors as MxValidationsCorrupt.
template <typename T>
auto validations_field(std::expected<T, util::JsonFieldError> r) {
  return util::json_field_as<MxValidationsCorrupt>(std::move(r));
}

std::expected<util::TimePoint, MxValidationsCorrupt> read_time(const Json& obj, const char* key) {
  auto n = validations_field(util::json_int(obj, key, 0, kMaxUnixTime));
  if (!n) return std::unexpected(n.error());
  return util::from_unix(*n);
}

// "result": "ok", "unreachable" or a result type.
std::expected<void, MxValidationsCorrupt> read_result(const Json& obj, MxCheck& check) {
  auto name = validations_field(util::json_string(obj, "result"));
  if (!name) return std::unexpected(name.error());
  if (*name == kOk) {
    check.outcome = MxOutcome::ok;
  } else if (*name == kUnreachable) {
    check.outcome = MxOutcome::unreachable;
  } else if (const auto type = failure_type_from_string(*name)) {
    check.outcome = MxOutcome::failed;
    check.failure = *type;
  } else {
    return validations_corrupt("unknown check result \"" + *name + "\"");
  }
  return {};
}

std::expected<MxCheck, MxValidationsCorrupt> read_check(const Json& obj) {
  if (!obj.is_object()) return validations_corrupt("field \"checks\" holds a non-object");
  MxCheck check;
  if (auto result = read_result(obj, check); !result) return std::unexpected(result.error());
  std::optional<MxValidationsCorrupt> err;
  util::take_field(validations_field(util::json_string(obj, "address")), check.address, err);
  util::take_field(read_time(obj, "checked_at"), check.checked_at, err);
  util::take_field(validations_field(util::json_string(obj, "detail")), check.detail, err);
  util::take_field(validations_field(util::json_string(obj, "helo")), check.helo, err);
  if (err) return std::unexpected(std::move(*err));
  return check;
}

std::expected<MxHostValidation, MxValidationsCorrupt> read_host(const Json& obj) {
  if (!obj.is_object()) return validations_corrupt("field \"hosts\" holds a non-object");
  MxHostValidation host;
  auto name = validations_field(util::json_string(obj, "host"));
  if (!name) return std::unexpected(name.error());
  host.host = std::move(*name);
  auto checks = validations_field(util::json_member(obj, "checks"));
  if (!checks) return std::unexpected(checks.error());
  if (!(*checks)->is_array()) return validations_corrupt("field \"checks\" is not an array");
  for (const Json& item : **checks) {
    auto check = read_check(item);
    if (!check) return std::unexpected(check.error());
    host.checks.push_back(std::move(*check));
  }
  return host;
}

Json check_json(const MxCheck& c) {
  return {{"address", c.address},
          {"checked_at", util::to_unix(c.checked_at)},
          {"result", result_name(c)},
          {"detail", c.detail},
          {"helo", c.helo}};
}

bool reached(const MxCheck& c) { return c.outcome != MxOutcome::unreachable; }

bool testing_policy_valid(const CacheRecord* record, util::TimePoint now) {
  return record != nullptr && record->policy_valid_at(now) && record->policy.mode == StsMode::testing;
}

void use_policy(AppliedPolicy& policy, const CacheRecord& record, std::string_view domain) {
  policy.type = PolicyType::sts;
  policy.strings = record.policy.lines;
  policy.mx_hosts = record.policy.mx;
  if (policy.domain.empty()) policy.domain = std::string(domain);
}

// For addresses known to be valid: IPv6 ones, and only they, hold a colon.
bool is_ipv6_address(std::string_view address) { return address.find(':') != std::string_view::npos; }

}  // namespace

std::string_view result_name(const MxCheck& check) {
  switch (check.outcome) {
    case MxOutcome::ok: return kOk;
    case MxOutcome::unreachable: return kUnreachable;
    case MxOutcome::failed: return to_string(check.failure);
  }
  return kUnreachable;
}

std::string encode_mx_validations(const MxValidations& v) {
  Json hosts = Json::array();
  for (const MxHostValidation& h : v.hosts) {
    Json checks = Json::array();
    for (const MxCheck& c : h.checks) checks.push_back(check_json(c));
    hosts.push_back({{"host", h.host}, {"checks", std::move(checks)}});
  }
  const Json j{{"v", kMxValidationFormat},
               {"checked_at", util::to_unix(v.checked_at)},
               {"policy_id", v.policy_id},
               {"mx_error", v.mx_error},
               {"hosts", std::move(hosts)}};
  return util::json_text(j);
}

std::expected<MxValidations, MxValidationsCorrupt> decode_mx_validations(std::string_view bytes) {
  if (bytes.size() > kMaxEncoded) return validations_corrupt("value larger than 1 MiB");
  const Json j = Json::parse(bytes.begin(), bytes.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return validations_corrupt("not valid JSON");
  if (!j.is_object()) return validations_corrupt("not a JSON object");
  auto version = validations_field(
      util::json_int(j, "v", std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max()));
  if (!version) return std::unexpected(version.error());
  if (*version != kMxValidationFormat)
    return validations_corrupt("unsupported format " + std::to_string(*version) + " (expected " +
                               std::to_string(kMxValidationFormat) + ")");

  MxValidations v;
  std::optional<MxValidationsCorrupt> err;
  util::take_field(read_time(j, "checked_at"), v.checked_at, err);
  util::take_field(validations_field(util::json_string(j, "policy_id")), v.policy_id, err);
  util::take_field(validations_field(util::json_string(j, "mx_error")), v.mx_error, err);
  if (err) return std::unexpected(std::move(*err));
  auto hosts = validations_field(util::json_member(j, "hosts"));
  if (!hosts) return std::unexpected(hosts.error());
  if (!(*hosts)->is_array()) return validations_corrupt("field \"hosts\" is not an array");
  for (const Json& item : **hosts) {
    auto host = read_host(item);
    if (!host) return std::unexpected(host.error());
    v.hosts.push_back(std::move(*host));
  }
  return v;
}

bool validation_due(const MxValidations* last, std::string_view policy_id, util::TimePoint now,
                    util::Seconds interval) {
  if (last == nullptr || last->policy_id != policy_id) return true;
  const util::Seconds wait = last->mx_error.empty() ? interval : std::min(interval, kMxLookupRetry);
  return now >= last->checked_at + wait;
}

bool check_due(const MxCheck* last, util::TimePoint now, util::Seconds interval) {
  return last == nullptr || now >= last->checked_at + interval;
}

const MxCheck* find_check(const MxValidations& v, std::string_view host, std::string_view address) {
  for (const MxHostValidation& h : v.hosts) {
    if (h.host != host) continue;
    for (const MxCheck& c : h.checks)
      if (c.address == address) return &c;
  }
  return nullptr;
}

MxTargets mx_targets(const std::vector<std::string>& mx_records, const StsPolicy& policy) {
  MxTargets targets;
  for (const std::string& record : mx_records) {
    if (record == "." || record.empty()) continue;  // RFC 7505 null MX: no host
    const std::string host = ascii_lowercase(record);
    if (std::ranges::find(targets.hosts, host, &MxTarget::host) != targets.hosts.end()) continue;
    if (targets.hosts.size() == kMaxValidatedHosts) {
      targets.truncated = true;
      break;
    }
    targets.hosts.push_back({host, policy_allows_mx(policy, host)});
  }
  return targets;
}

std::vector<std::string> addresses_to_probe(const std::vector<std::string>& addresses) {
  const auto v4 = std::ranges::find_if(addresses, [](const std::string& a) { return !is_ipv6_address(a); });
  const auto v6 = std::ranges::find_if(addresses, [](const std::string& a) { return is_ipv6_address(a); });
  if (v4 != addresses.end() && v6 != addresses.end()) return {*v4, *v6};
  const std::size_t n = std::min(addresses.size(), kMaxAddressesPerHost);
  return {addresses.begin(), addresses.begin() + static_cast<std::ptrdiff_t>(n)};
}

MxCheck not_in_policy_check(util::TimePoint now) {
  return MxCheck{.address = "",
                 .checked_at = now,
                 .outcome = MxOutcome::failed,
                 .failure = FailureType::validation_failure,
                 .detail = std::string(kNotInPolicy),
                 .helo = ""};
}

MxCheck no_address_check(util::TimePoint now, std::string detail) {
  return MxCheck{.address = "", .checked_at = now, .outcome = MxOutcome::unreachable, .detail = std::move(detail)};
}

MxValidations with_mx_error(const MxValidations* last, std::string policy_id, std::string error, util::TimePoint now) {
  MxValidations v = last ? *last : MxValidations{};
  v.checked_at = now;
  v.policy_id = std::move(policy_id);
  v.mx_error = std::move(error);
  return v;
}

const MxCheck* deciding_check(const MxHostValidation& host) {
  const auto failed = std::ranges::find(host.checks, MxOutcome::failed, &MxCheck::outcome);
  if (failed != host.checks.end()) return &*failed;
  const auto passed = std::ranges::find(host.checks, MxOutcome::ok, &MxCheck::outcome);
  return passed != host.checks.end() ? &*passed : nullptr;
}

const MxHostValidation* session_host(const MxValidations& v, std::string_view session_mx_hostname) {
  if (!session_mx_hostname.empty()) {
    std::string_view name = session_mx_hostname;
    if (name.ends_with('.')) name.remove_suffix(1);
    const std::string host = ascii_lowercase(name);
    const auto it = std::ranges::find(v.hosts, host, &MxHostValidation::host);
    return it == v.hosts.end() ? nullptr : &*it;
  }
  const auto it = std::ranges::find_if(
      v.hosts, [](const MxHostValidation& h) { return std::ranges::any_of(h.checks, reached); });
  return it == v.hosts.end() ? nullptr : &*it;
}

FailureDetail failure_detail(std::string_view host, const MxCheck& check) {
  FailureDetail d;
  d.result_type = check.failure;
  d.receiving_mx_hostname = std::string(host);
  d.receiving_ip = check.address;
  d.receiving_mx_helo = check.helo;
  d.failure_reason_code = check.detail;
  return d;
}

SessionEvent apply_testing_validation(SessionEvent event, const CacheRecord* record,
                                      const MxValidations* validations, util::TimePoint now) {
  if (event.policy.type != PolicyType::no_policy_found || !testing_policy_valid(record, now)) return event;
  event.policy.strings.clear();
  event.policy.mx_hosts.clear();
  use_policy(event.policy, *record, event.report_domain);
  const MxHostValidation* host = validations ? session_host(*validations, event.mx_hostname) : nullptr;
  const MxCheck* check = host ? deciding_check(*host) : nullptr;
  if (check == nullptr || check->outcome != MxOutcome::failed) return event;  // Postfix's own outcome
  event.failed = true;
  event.failure_details.insert(event.failure_details.begin(), failure_detail(host->host, *check));
  if (event.mx_hostname.empty()) event.mx_hostname = host->host;
  return event;
}

std::optional<SessionEvent> validation_session(std::string_view domain, const CacheRecord& record,
                                               std::string_view host, const MxCheck& check) {
  if (!reached(check)) return std::nullopt;
  SessionEvent e;
  e.report_domain = std::string(domain);
  use_policy(e.policy, record, domain);
  e.mx_hostname = std::string(host);
  if (check.outcome == MxOutcome::failed) {
    e.failed = true;
    e.failure_details.push_back(failure_detail(host, check));
  }
  return e;
}

}  // namespace mtastsd::core

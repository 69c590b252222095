// TLS-RPT aggregates, their storage encoding, and RFC 8460 report building.
//
// DomainDay value format (kAggregateFormat 1), compact JSON (nlohmann-json):
//   {"v":1,"policies":[{"rua":[URI...],"type":"sts"|"tlsa"|"no-policy-found",
//     "strings":[...],"domain":D,"mx":[...],"ok":N,"failed":N,"dropped":N,
//     "details":[{"t":RESULT-TYPE,"c":N, "s"?,"n"?,"h"?,"r"?,"a"?,"f"?}]}]}
// Detail keys are libtlsrpt's (s sending-mta-ip, n receiving-mx-hostname,
// h receiving-mx-helo, r receiving-ip, a additional-information, f
// failure-reason-code); empty ones are left out. Strings that are not valid
// UTF-8 (log text) are stored with U+FFFD replacements, as JSON text is UTF-8.
#include "core/tlsrpt_report.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <limits>
#include <utility>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/host_name.hpp"
#include "core/tlsrpt_record.hpp"
#include "util/ascii.hpp"
#include "util/printable.hpp"
#include "util/json_fields.hpp"
#include "util/json_text.hpp"

namespace mtastsd::core {
namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

constexpr std::int64_t kSecondsPerDay = 86400;
constexpr std::size_t kMaxUniqueTokenLength = 32;

std::unexpected<AggregateCorrupt> aggregate_corrupt(std::string detail) {
  return std::unexpected(AggregateCorrupt{std::move(detail)});
}

// At most max bytes, never cutting a UTF-8 sequence in two.
std::string truncate_utf8(std::string_view s, std::size_t max) {
  if (s.size() <= max) return std::string(s);
  std::size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return std::string(s.substr(0, cut));
}

// The fields of a failure detail with their storage keys, for one place to list them.
template <typename Detail>
auto detail_fields(Detail& d) {
  return std::array<std::pair<const char*, decltype(&d.sending_mta_ip)>, 6>{{
      {"s", &d.sending_mta_ip},
      {"n", &d.receiving_mx_hostname},
      {"h", &d.receiving_mx_helo},
      {"r", &d.receiving_ip},
      {"a", &d.additional_information},
      {"f", &d.failure_reason_code},
  }};
}

// --- decoding helpers (util/json_fields) with their errors as AggregateCorrupt ---

auto member(const Json& obj, const char* key) {
  return util::json_field_as<AggregateCorrupt>(util::json_member(obj, key));
}
auto read_string(const Json& obj, const char* key) {
  return util::json_field_as<AggregateCorrupt>(util::json_string(obj, key));
}
auto read_count(const Json& obj, const char* key) {
  return util::json_field_as<AggregateCorrupt>(util::json_count(obj, key));
}
auto read_strings(const Json& obj, const char* key) {
  return util::json_field_as<AggregateCorrupt>(util::json_string_array(obj, key));
}

std::expected<FailureDetailCount, AggregateCorrupt> read_detail(const Json& obj) {
  if (!obj.is_object()) return aggregate_corrupt("a failure detail is not an object");
  FailureDetailCount out;
  auto type = read_string(obj, "t");
  if (!type) return std::unexpected(type.error());
  const auto result_type = failure_type_from_string(*type);
  if (!result_type) return aggregate_corrupt("unknown result type \"" + util::printable_excerpt(*type, 40) + "\"");
  out.detail.result_type = *result_type;
  std::optional<AggregateCorrupt> err;
  util::take_field(read_count(obj, "c"), out.sessions, err);
  for (const auto& [key, field] : detail_fields(out.detail))
    if (obj.contains(key)) util::take_field(read_string(obj, key), *field, err);
  if (err) return std::unexpected(std::move(*err));
  return out;
}

std::expected<PolicyAggregate, AggregateCorrupt> read_policy(const Json& obj) {
  if (!obj.is_object()) return aggregate_corrupt("a policy is not an object");
  PolicyAggregate out;
  std::string type;
  std::optional<AggregateCorrupt> err;
  util::take_field(read_strings(obj, "rua"), out.rua, err);
  util::take_field(read_string(obj, "type"), type, err);
  util::take_field(read_strings(obj, "strings"), out.policy.strings, err);
  util::take_field(read_string(obj, "domain"), out.policy.domain, err);
  util::take_field(read_strings(obj, "mx"), out.policy.mx_hosts, err);
  util::take_field(read_count(obj, "ok"), out.successful_sessions, err);
  util::take_field(read_count(obj, "failed"), out.failed_sessions, err);
  util::take_field(read_count(obj, "dropped"), out.failure_details_dropped, err);
  if (err) return std::unexpected(std::move(*err));
  const auto policy_type = policy_type_from_string(type);
  if (!policy_type) return aggregate_corrupt("unknown policy type \"" + util::printable_excerpt(type, 40) + "\"");
  out.policy.type = *policy_type;

  auto details = member(obj, "details");
  if (!details) return std::unexpected(details.error());
  if (!(*details)->is_array()) return aggregate_corrupt("field \"details\" is not an array");
  for (const Json& item : **details) {
    auto detail = read_detail(item);
    if (!detail) return std::unexpected(detail.error());
    out.failure_details.push_back(std::move(*detail));
  }
  return out;
}

// --- report building ---

bool is_unique_token(std::string_view token) {
  return !token.empty() && token.size() <= kMaxUniqueTokenLength && std::ranges::all_of(token, util::is_alnum);
}

// RFC 3339 sec. 5.6 in UTC, as in RFC 8460's example: "2016-04-01T23:59:59Z".
std::string rfc3339(util::TimePoint t) {
  const auto seconds = std::chrono::floor<std::chrono::seconds>(t);
  const auto day = std::chrono::floor<std::chrono::days>(seconds);
  const std::chrono::year_month_day ymd{day};
  const std::chrono::hh_mm_ss time{seconds - day};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), time.hours().count(),
                     time.minutes().count(), time.seconds().count());
}

OrderedJson report_policy(const PolicyAggregate& p) {
  OrderedJson policy = OrderedJson::object();
  policy["policy-type"] = to_string(p.policy.type);
  if (!p.policy.strings.empty()) policy["policy-string"] = p.policy.strings;
  policy["policy-domain"] = p.policy.domain;
  if (!p.policy.mx_hosts.empty()) policy["mx-host"] = p.policy.mx_hosts;

  OrderedJson details = OrderedJson::array();
  for (const FailureDetailCount& c : p.failure_details) {
    const FailureDetail& d = c.detail;
    OrderedJson detail = OrderedJson::object();
    detail["result-type"] = to_string(d.result_type);
    // Only what is known (sec. 4.4 lists them all, a sender fills what it has).
    const auto add = [&](const char* name, const std::string& value) {
      if (!value.empty()) detail[name] = value;
    };
    add("sending-mta-ip", d.sending_mta_ip);
    add("receiving-mx-hostname", d.receiving_mx_hostname);
    add("receiving-mx-helo", d.receiving_mx_helo);
    add("receiving-ip", d.receiving_ip);
    detail["failed-session-count"] = c.sessions;
    add("additional-information", d.additional_information);
    add("failure-reason-code", d.failure_reason_code);
    details.push_back(std::move(detail));
  }

  OrderedJson out = OrderedJson::object();
  out["policy"] = std::move(policy);
  out["summary"] = {{"total-successful-session-count", p.successful_sessions},
                    {"total-failure-session-count", p.failed_sessions}};
  out["failure-details"] = std::move(details);
  return out;
}

std::unexpected<ReportFailure> report_fail(ReportError error, std::string detail) {
  return std::unexpected(ReportFailure{error, std::move(detail)});
}

}  // namespace

// --- UtcDay ---

UtcDay UtcDay::containing(util::TimePoint t) {
  return UtcDay{std::chrono::floor<std::chrono::days>(t).time_since_epoch().count()};
}

std::optional<UtcDay> UtcDay::parse(std::string_view text) {
  // YYYY-MM-DD
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  const auto number = [&](std::size_t pos, std::size_t len) -> std::optional<int> {
    int value = 0;
    for (const char c : text.substr(pos, len)) {
      if (c < '0' || c > '9') return std::nullopt;
      value = value * 10 + (c - '0');
    }
    return value;
  };
  const auto y = number(0, 4), m = number(5, 2), d = number(8, 2);
  if (!y || !m || !d || *y < 1970) return std::nullopt;
  const std::chrono::year_month_day ymd{std::chrono::year{*y}, std::chrono::month{static_cast<unsigned>(*m)},
                                        std::chrono::day{static_cast<unsigned>(*d)}};
  if (!ymd.ok()) return std::nullopt;
  return UtcDay{std::chrono::sys_days{ymd}.time_since_epoch().count()};
}

util::TimePoint UtcDay::start() const { return util::TimePoint(std::chrono::days{days_since_epoch}); }

util::TimePoint UtcDay::last_second() const { return start() + std::chrono::seconds{kSecondsPerDay - 1}; }

std::string UtcDay::to_string() const {
  const std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{days_since_epoch}}};
  return fmt::format("{:04}-{:02}-{:02}", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                     static_cast<unsigned>(ymd.day()));
}

// --- storage encoding ---

std::string encode_domain_day_key(const DomainDayKey& key) { return key.day.to_string() + "/" + key.report_domain; }

std::expected<DomainDayKey, AggregateCorrupt> decode_domain_day_key(std::string_view bytes) {
  const auto day = UtcDay::parse(bytes.substr(0, 10));
  if (!day || bytes.size() < 12 || bytes[10] != '/') return aggregate_corrupt("key is not \"YYYY-MM-DD/domain\"");
  const std::string_view domain = bytes.substr(11);
  if (!is_host_name(domain) || ascii_lowercase(domain) != domain)
    return aggregate_corrupt("key domain is not a lowercase host name");
  return DomainDayKey{*day, std::string(domain)};
}

UtcDay first_retained_day(util::TimePoint now, unsigned retention_days) {
  return UtcDay{UtcDay::containing(now).days_since_epoch - static_cast<std::int64_t>(retention_days)};
}

std::string encode_domain_day(const DomainDay& day) {
  Json policies = Json::array();
  for (const PolicyAggregate& p : day.policies) {
    Json details = Json::array();
    for (const FailureDetailCount& c : p.failure_details) {
      Json detail = {{"t", to_string(c.detail.result_type)}, {"c", c.sessions}};
      for (const auto& [key, field] : detail_fields(c.detail))
        if (!field->empty()) detail[key] = *field;
      details.push_back(std::move(detail));
    }
    policies.push_back({
        {"rua", p.rua},
        {"type", to_string(p.policy.type)},
        {"strings", p.policy.strings},
        {"domain", p.policy.domain},
        {"mx", p.policy.mx_hosts},
        {"ok", p.successful_sessions},
        {"failed", p.failed_sessions},
        {"dropped", p.failure_details_dropped},
        {"details", std::move(details)},
    });
  }
  return util::json_text(Json{{"v", kAggregateFormat}, {"policies", std::move(policies)}});
}

std::expected<DomainDay, AggregateCorrupt> decode_domain_day(std::string_view bytes) {
  if (bytes.size() > kMaxEncodedDomainDay) return aggregate_corrupt("value larger than 32 MiB");
  // Without exceptions: a parse error yields a "discarded" value.
  const Json j = Json::parse(bytes.begin(), bytes.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return aggregate_corrupt("not valid JSON");
  if (!j.is_object()) return aggregate_corrupt("not a JSON object");
  const auto version = j.find("v");
  if (version == j.end() || !version->is_number_integer() || version->get<std::int64_t>() != kAggregateFormat)
    return aggregate_corrupt("unsupported aggregate format (expected " + std::to_string(kAggregateFormat) + ")");
  auto policies = member(j, "policies");
  if (!policies) return std::unexpected(policies.error());
  if (!(*policies)->is_array()) return aggregate_corrupt("field \"policies\" is not an array");
  DomainDay out;
  for (const Json& item : **policies) {
    auto policy = read_policy(item);
    if (!policy) return std::unexpected(policy.error());
    out.policies.push_back(std::move(*policy));
  }
  return out;
}

// --- aggregation ---

std::string_view to_string(AggregateError e) {
  switch (e) {
    case AggregateError::bad_report_domain: return "report domain is not a host name";
    case AggregateError::unresolved_policy_type: return "policy type not resolved";
    case AggregateError::no_tlsrpt_record: return "no TLSRPT record";
    case AggregateError::unusable_tlsrpt_record: return "unusable TLSRPT record";
    case AggregateError::too_many_policies: return "too many policies for one domain and day";
  }
  return "cannot aggregate";
}

std::expected<DomainDayKey, AggregateFailure> domain_day_key(const SessionEvent& event, util::TimePoint received_at) {
  const std::string domain = ascii_lowercase(event.report_domain);
  if (!is_host_name(domain))
    return std::unexpected(
        AggregateFailure{AggregateError::bad_report_domain, util::printable_excerpt(event.report_domain, 60)});
  return DomainDayKey{UtcDay::containing(received_at), domain};
}

std::expected<void, AggregateFailure> merge_session(DomainDay& day, const SessionEvent& event) {
  if (event.policy.type == PolicyType::unknown)
    return std::unexpected(AggregateFailure{AggregateError::unresolved_policy_type, event.report_domain});
  if (event.tlsrpt_record.empty())
    return std::unexpected(AggregateFailure{AggregateError::no_tlsrpt_record, event.report_domain});
  auto record = parse_tlsrpt_record(event.tlsrpt_record);
  if (!record)
    return std::unexpected(
        AggregateFailure{AggregateError::unusable_tlsrpt_record,
                         std::string(to_string(record.error().error)) + ": " + record.error().detail});

  PolicyAggregate wanted;
  for (const ReportUri& uri : record->rua) wanted.rua.push_back(uri.uri);
  wanted.policy = event.policy;
  if (wanted.policy.domain.empty()) wanted.policy.domain = ascii_lowercase(event.report_domain);

  auto it = std::ranges::find_if(
      day.policies, [&](const PolicyAggregate& p) { return p.rua == wanted.rua && p.policy == wanted.policy; });
  if (it == day.policies.end()) {
    if (day.policies.size() >= kMaxPoliciesPerDomainDay)
      return std::unexpected(AggregateFailure{AggregateError::too_many_policies, event.report_domain});
    day.policies.push_back(std::move(wanted));
    it = std::prev(day.policies.end());
  }
  PolicyAggregate& aggregate = *it;
  ++(event.failed ? aggregate.failed_sessions : aggregate.successful_sessions);

  for (const FailureDetail& raw : event.failure_details) {
    FailureDetail detail = raw;
    for (const auto& [key, field] : detail_fields(detail)) *field = truncate_utf8(*field, kMaxDetailFieldLength);
    auto counted = std::ranges::find(aggregate.failure_details, detail, &FailureDetailCount::detail);
    if (counted != aggregate.failure_details.end()) {
      ++counted->sessions;
    } else if (aggregate.failure_details.size() < kMaxFailureDetailsPerPolicy) {
      aggregate.failure_details.push_back(FailureDetailCount{std::move(detail), 1});
    } else {
      ++aggregate.failure_details_dropped;
    }
  }
  return {};
}

std::vector<ReportGroup> group_by_rua(const DomainDay& day) {
  std::vector<ReportGroup> groups;
  for (const PolicyAggregate& p : day.policies) {
    auto group = std::ranges::find(groups, p.rua, &ReportGroup::rua);
    if (group == groups.end()) {
      groups.push_back(ReportGroup{p.rua, {}});
      group = std::prev(groups.end());
    }
    group->policies.push_back(p);
  }
  return groups;
}

// --- reports ---

std::string_view to_string(ReportError e) {
  switch (e) {
    case ReportError::bad_origin: return "bad report origin";
    case ReportError::bad_report_domain: return "report domain is not a host name";
    case ReportError::bad_unique_token: return "unique token is not 1-32 letters or digits";
    case ReportError::no_policies: return "nothing to report";
  }
  return "cannot build report";
}

std::expected<TlsRptReport, ReportFailure> build_report(const ReportOrigin& origin, UtcDay day,
                                                        std::string_view report_domain,
                                                        const std::vector<PolicyAggregate>& policies,
                                                        std::string_view unique_token) {
  const std::string submitter = ascii_lowercase(origin.submitter);
  const std::string domain = ascii_lowercase(report_domain);
  if (origin.organization_name.empty() || origin.contact_info.empty() || !is_host_name(submitter))
    return report_fail(ReportError::bad_origin, "organization name, contact info and a submitter domain are required");
  if (!is_host_name(domain))
    return report_fail(ReportError::bad_report_domain, util::printable_excerpt(report_domain, 60));
  if (!is_unique_token(unique_token))
    return report_fail(ReportError::bad_unique_token, util::printable_excerpt(unique_token, 60));
  if (policies.empty()) return report_fail(ReportError::no_policies, domain);

  TlsRptReport out;
  // A msg-id (RFC 5322 sec. 3.6.4) as the Subject quotes it (sec. 5.3): dot-atom "@" domain.
  std::string compact_day = day.to_string();
  std::erase(compact_day, '-');
  out.report_id = fmt::format("{}.{}.{}@{}", compact_day, unique_token, domain, submitter);

  OrderedJson report = OrderedJson::object();
  report["organization-name"] = origin.organization_name;
  report["date-range"] = {{"start-datetime", rfc3339(day.start())}, {"end-datetime", rfc3339(day.last_second())}};
  report["contact-info"] = origin.contact_info;
  report["report-id"] = out.report_id;
  report["policies"] = OrderedJson::array();
  for (const PolicyAggregate& p : policies) report["policies"].push_back(report_policy(p));
  out.json = util::json_text(report);

  // sec. 5.1: filename = sender "!" policy-domain "!" begin-timestamp "!" end-timestamp
  //                      [ "!" unique-id ] "." extension; timestamps in unix seconds,
  // the same range as date-range.
  out.file_name = fmt::format("{}!{}!{}!{}!{}.json.gz", submitter, domain, util::to_unix(day.start()),
                              util::to_unix(day.last_second()), unique_token);
  out.subject = fmt::format("Report Domain: {} Submitter: {} Report-ID: <{}>", domain, submitter, out.report_id);
  return out;
}

}  // namespace mtastsd::core

// libtlsrpt datagram protocol version 1 -> SessionEvents. Member names and codes
// follow libtlsrpt's tlsrpt.h (policy types, result codes) and its JSON writer.
// Domains ("d", "policy-domain") are lowercased and lose one trailing dot; they must
// then be host names, since reports are addressed to them.
#include "core/tlsrpt_datagram.hpp"

#include <algorithm>
#include <array>
#include <limits>
#include <utility>
#include <nlohmann/json.hpp>

#include "core/host_name.hpp"
#include "util/printable.hpp"

namespace mtastsd::core {
namespace {

using Json = nlohmann::json;
using DatagramRejection = std::unexpected<DatagramFailure>;

DatagramRejection reject_datagram(DatagramError error, std::string detail) {
  return DatagramRejection(DatagramFailure{error, std::move(detail)});
}

// tlsrpt_policy_type_t
constexpr std::array<std::pair<std::int64_t, PolicyType>, 3> kPolicyTypes{{
    {1, PolicyType::tlsa},
    {2, PolicyType::sts},
    {9, PolicyType::no_policy_found},
}};

// tlsrpt_failure_t (901, TLSRPT_UNFINISHED_POLICY, is internal to the library)
constexpr std::array<std::pair<std::int64_t, FailureType>, 11> kFailureCodes{{
    {201, FailureType::starttls_not_supported},
    {202, FailureType::certificate_host_mismatch},
    {203, FailureType::certificate_not_trusted},
    {204, FailureType::certificate_expired},
    {205, FailureType::validation_failure},
    {301, FailureType::sts_policy_fetch_error},
    {302, FailureType::sts_policy_invalid},
    {303, FailureType::sts_webpki_invalid},
    {304, FailureType::tlsa_invalid},
    {305, FailureType::dnssec_invalid},
    {306, FailureType::dane_required},
}};

// Where in the datagram a member sits, for error details: "policies[0].t".
std::string where(std::string_view path, const char* key) {
  return std::string(path) + (path.empty() ? "" : ".") + key;
}

std::expected<const Json*, DatagramFailure> member(const Json& obj, std::string_view path, const char* key) {
  const auto it = obj.find(key);
  if (it == obj.end()) return reject_datagram(DatagramError::missing_member, "missing " + where(path, key));
  return &*it;
}

std::expected<std::string, DatagramFailure> read_string(const Json& value, std::string_view path, const char* key) {
  if (!value.is_string()) return reject_datagram(DatagramError::wrong_type, where(path, key) + " is not a string");
  return value.get_ref<const std::string&>();
}

std::expected<std::int64_t, DatagramFailure> read_int(const Json& value, std::string_view path, const char* key) {
  if (value.is_number_unsigned()) {
    const auto u = value.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      return reject_datagram(DatagramError::bad_value, where(path, key) + " out of range");
    return static_cast<std::int64_t>(u);
  }
  if (value.is_number_integer()) return value.get<std::int64_t>();
  return reject_datagram(DatagramError::wrong_type, where(path, key) + " is not an integer");
}

// An optional array of strings; absent means empty.
std::expected<std::vector<std::string>, DatagramFailure> read_optional_strings(const Json& obj, std::string_view path,
                                                                               const char* key) {
  const auto it = obj.find(key);
  if (it == obj.end()) return std::vector<std::string>{};
  if (!it->is_array()) return reject_datagram(DatagramError::wrong_type, where(path, key) + " is not an array");
  std::vector<std::string> out;
  out.reserve(it->size());
  for (const Json& item : *it) {
    if (!item.is_string()) return reject_datagram(DatagramError::wrong_type, where(path, key) + " holds a non-string");
    out.push_back(item.get_ref<const std::string&>());
  }
  return out;
}

// An optional string member; absent means "".
std::expected<std::string, DatagramFailure> read_optional_string(const Json& obj, std::string_view path,
                                                                 const char* key) {
  const auto it = obj.find(key);
  if (it == obj.end()) return std::string();
  return read_string(*it, path, key);
}

std::expected<std::string, DatagramFailure> read_domain(const Json& value, std::string_view path, const char* key) {
  auto text = read_string(value, path, key);
  if (!text) return DatagramRejection(text.error());
  std::string domain = ascii_lowercase(*text);
  if (domain.ends_with('.')) domain.pop_back();
  if (!is_host_name(domain))
    return reject_datagram(DatagramError::bad_value,
                           where(path, key) + " is not a domain: \"" + util::printable_excerpt(*text, 60) + "\"");
  return domain;
}

std::expected<FailureDetail, DatagramFailure> read_failure_detail(const Json& obj, const std::string& path) {
  if (!obj.is_object()) return reject_datagram(DatagramError::wrong_type, path + " is not an object");
  auto code_member = member(obj, path, "c");
  if (!code_member) return DatagramRejection(code_member.error());
  auto code = read_int(**code_member, path, "c");
  if (!code) return DatagramRejection(code.error());
  const auto type = failure_code_to_type(*code);
  if (!type)
    return reject_datagram(DatagramError::unknown_failure_code, where(path, "c") + " = " + std::to_string(*code));

  FailureDetail detail;
  detail.result_type = *type;
  const std::pair<const char*, std::string*> fields[] = {
      {"s", &detail.sending_mta_ip}, {"n", &detail.receiving_mx_hostname},  {"h", &detail.receiving_mx_helo},
      {"r", &detail.receiving_ip},   {"a", &detail.additional_information}, {"f", &detail.failure_reason_code},
  };
  for (const auto& [key, target] : fields) {
    auto value = read_optional_string(obj, path, key);
    if (!value) return DatagramRejection(value.error());
    *target = std::move(*value);
  }
  return detail;
}

std::expected<SessionEvent, DatagramFailure> read_policy(const Json& obj, const std::string& path,
                                                         const std::string& report_domain, const std::string& record) {
  if (!obj.is_object()) return reject_datagram(DatagramError::wrong_type, path + " is not an object");
  SessionEvent event;
  event.report_domain = report_domain;
  event.tlsrpt_record = record;

  auto type_member = member(obj, path, "policy-type");
  if (!type_member) return DatagramRejection(type_member.error());
  auto type_code = read_int(**type_member, path, "policy-type");
  if (!type_code) return DatagramRejection(type_code.error());
  const auto type = std::ranges::find(kPolicyTypes, *type_code, &std::pair<std::int64_t, PolicyType>::first);
  if (type == kPolicyTypes.end())
    return reject_datagram(DatagramError::unknown_policy_type,
                           where(path, "policy-type") + " = " + std::to_string(*type_code));
  event.policy.type = type->second;

  if (const auto it = obj.find("policy-domain"); it != obj.end()) {
    auto domain = read_domain(*it, path, "policy-domain");
    if (!domain) return DatagramRejection(domain.error());
    event.policy.domain = std::move(*domain);
  } else {
    event.policy.domain = report_domain;
  }
  auto strings = read_optional_strings(obj, path, "policy-string");
  if (!strings) return DatagramRejection(strings.error());
  event.policy.strings = std::move(*strings);
  auto mx_hosts = read_optional_strings(obj, path, "mx-host");
  if (!mx_hosts) return DatagramRejection(mx_hosts.error());
  event.policy.mx_hosts = std::move(*mx_hosts);

  if (const auto it = obj.find("failure-details"); it != obj.end()) {
    if (!it->is_array())
      return reject_datagram(DatagramError::wrong_type, where(path, "failure-details") + " is not an array");
    for (std::size_t i = 0; i < it->size(); ++i) {
      auto detail = read_failure_detail((*it)[i], where(path, "failure-details") + "[" + std::to_string(i) + "]");
      if (!detail) return DatagramRejection(detail.error());
      event.failure_details.push_back(std::move(*detail));
    }
  }
  auto count_member = member(obj, path, "t");
  if (!count_member) return DatagramRejection(count_member.error());
  auto count = read_int(**count_member, path, "t");
  if (!count) return DatagramRejection(count.error());
  if (*count < 0 || static_cast<std::uint64_t>(*count) != event.failure_details.size())
    return reject_datagram(DatagramError::count_mismatch, where(path, "t") + " = " + std::to_string(*count) + " but " +
                                                              std::to_string(event.failure_details.size()) +
                                                              " failure details");

  auto result_member = member(obj, path, "f");
  if (!result_member) return DatagramRejection(result_member.error());
  auto result = read_int(**result_member, path, "f");
  if (!result) return DatagramRejection(result.error());
  if (*result != 0 && *result != 1)
    return reject_datagram(DatagramError::bad_value, where(path, "f") + " is neither 0 nor 1");
  event.failed = *result == 1;

  for (const FailureDetail& detail : event.failure_details) {
    if (!detail.receiving_mx_hostname.empty()) {
      event.mx_hostname = detail.receiving_mx_hostname;
      break;
    }
  }
  return event;
}

}  // namespace

std::string_view to_string(DatagramError e) {
  switch (e) {
    case DatagramError::too_large: return "datagram too large";
    case DatagramError::not_json: return "not a JSON object";
    case DatagramError::bad_version: return "unsupported datagram protocol version";
    case DatagramError::missing_member: return "missing member";
    case DatagramError::wrong_type: return "member of the wrong type";
    case DatagramError::bad_value: return "member value out of range";
    case DatagramError::unknown_policy_type: return "unknown policy type";
    case DatagramError::unknown_failure_code: return "unknown failure code";
    case DatagramError::count_mismatch: return "failure count mismatch";
  }
  return "malformed datagram";
}

std::optional<FailureType> failure_code_to_type(std::int64_t code) {
  for (const auto& [known, type] : kFailureCodes)
    if (known == code) return type;
  return std::nullopt;
}

std::expected<std::vector<SessionEvent>, DatagramFailure> parse_tlsrpt_datagram(std::string_view datagram) {
  if (datagram.size() > kMaxDatagramSize)
    return reject_datagram(DatagramError::too_large,
                           std::to_string(datagram.size()) + " bytes, more than " + std::to_string(kMaxDatagramSize));
  // Without exceptions: a parse error (including invalid UTF-8) yields a "discarded" value.
  const Json j = Json::parse(datagram.begin(), datagram.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return reject_datagram(DatagramError::not_json, util::printable_excerpt(datagram, 60));

  // Absent: a library before 0.5.0 (see the header), whose datagrams are version 1.
  const auto version = j.find("dpv");
  if (version != j.end() && (!version->is_string() || version->get_ref<const std::string&>() != "1"))
    return reject_datagram(DatagramError::bad_version, "dpv = " + util::printable_excerpt(version->dump(), 20));

  auto domain_member = member(j, "", "d");
  if (!domain_member) return DatagramRejection(domain_member.error());
  auto report_domain = read_domain(**domain_member, "", "d");
  if (!report_domain) return DatagramRejection(report_domain.error());
  auto record_member = member(j, "", "pr");
  if (!record_member) return DatagramRejection(record_member.error());
  auto record = read_string(**record_member, "", "pr");
  if (!record) return DatagramRejection(record.error());

  auto policies = member(j, "", "policies");
  if (!policies) return DatagramRejection(policies.error());
  if (!(*policies)->is_array()) return reject_datagram(DatagramError::wrong_type, "policies is not an array");
  if ((*policies)->empty()) return reject_datagram(DatagramError::bad_value, "policies is empty");

  std::vector<SessionEvent> events;
  for (std::size_t i = 0; i < (*policies)->size(); ++i) {
    auto event = read_policy((**policies)[i], "policies[" + std::to_string(i) + "]", *report_domain, *record);
    if (!event) return DatagramRejection(event.error());
    events.push_back(std::move(*event));
  }
  return events;
}

}  // namespace mtastsd::core

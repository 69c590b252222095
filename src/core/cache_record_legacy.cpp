// Cache records of formats 1 and 2 (before 2026-12): one compact JSON object
// (nlohmann-json) with a version field "v". Only decoded, so that a cache written
// by an older mtastsd keeps every policy after an upgrade; the next write of a
// record replaces it with the current format (core/cache_record.cpp).
// Decoding checks every field's presence, type and range and turns anything
// unexpected into CacheRecordCorrupt; it never throws. Format 2 added "dane";
// format 1 records decode with no DANE state.
#include "core/cache_record_legacy.hpp"
#include "util/json_fields.hpp"

#include <cstddef>
#include <limits>
#include <utility>
#include <nlohmann/json.hpp>

namespace mtastsd::core {
namespace {
// Named too, so that a unity build keeps these readers apart from other decoders'.
namespace legacy_format {

using Json = nlohmann::json;

// The JSON formats: without and with DANE state.
constexpr int kFormatWithoutDane = 1;
constexpr int kFormatWithDane = 2;

std::unexpected<CacheRecordCorrupt> corrupt(std::string detail) {
  return std::unexpected(CacheRecordCorrupt{std::move(detail)});
}

// Field readers (util/json_fields) with their errors as CacheRecordCorrupt.
auto member(const Json& obj, const char* key) {
  return util::json_field_as<CacheRecordCorrupt>(util::json_member(obj, key));
}
auto read_string(const Json& obj, const char* key) {
  return util::json_field_as<CacheRecordCorrupt>(util::json_string(obj, key));
}
auto read_int(const Json& obj, const char* key, std::int64_t min, std::int64_t max) {
  return util::json_field_as<CacheRecordCorrupt>(util::json_int(obj, key, min, max));
}

std::expected<util::TimePoint, CacheRecordCorrupt> read_time(const Json& obj, const char* key) {
  auto n = read_int(obj, key, 0, kMaxRecordUnixTime);
  if (!n) return std::unexpected(n.error());
  return util::from_unix(*n);
}

auto read_string_array(const Json& obj, const char* key) {
  return util::json_field_as<CacheRecordCorrupt>(util::json_string_array(obj, key));
}

std::expected<StsPolicy, CacheRecordCorrupt> read_policy(const Json& obj) {
  auto m = member(obj, "policy");
  if (!m) return std::unexpected(m.error());
  const Json& p = **m;
  if (!p.is_object()) return corrupt("field \"policy\" is not an object");
  StsPolicy policy;
  auto mode = read_string(p, "mode");
  if (!mode) return std::unexpected(mode.error());
  const auto parsed_mode = sts_mode_from_string(*mode);
  if (!parsed_mode) return corrupt("unknown policy mode \"" + *mode + "\"");
  policy.mode = *parsed_mode;
  auto max_age = read_int(p, "max_age", 0, kMaxAgeLimit);
  if (!max_age) return std::unexpected(max_age.error());
  policy.max_age = *max_age;
  auto mx = read_string_array(p, "mx");
  if (!mx) return std::unexpected(mx.error());
  policy.mx = std::move(*mx);
  auto lines = read_string_array(p, "lines");
  if (!lines) return std::unexpected(lines.error());
  policy.lines = std::move(*lines);
  return policy;
}

std::expected<std::optional<FailureType>, CacheRecordCorrupt> read_failure(const Json& obj) {
  auto m = member(obj, "failure");
  if (!m) return std::unexpected(m.error());
  if ((*m)->is_null()) return std::optional<FailureType>{};
  if (!(*m)->is_string()) return corrupt("field \"failure\" is neither null nor a string");
  const auto& name = (*m)->get_ref<const std::string&>();
  const auto type = failure_type_from_string(name);
  if (!type) return corrupt("unknown failure type \"" + name + "\"");
  return type;
}

auto read_bool(const Json& obj, const char* key) {
  return util::json_field_as<CacheRecordCorrupt>(util::json_bool(obj, key));
}

std::expected<std::vector<DaneHost>, CacheRecordCorrupt> read_dane_hosts(const Json& obj) {
  auto m = member(obj, "hosts");
  if (!m) return std::unexpected(m.error());
  if (!(*m)->is_array()) return corrupt("field \"dane.hosts\" is not an array");
  std::vector<DaneHost> hosts;
  for (const Json& item : **m) {
    if (!item.is_object()) return corrupt("field \"dane.hosts\" holds a non-object");
    auto host = read_string(item, "host");
    if (!host) return std::unexpected(host.error());
    auto usable = read_bool(item, "usable_tlsa");
    if (!usable) return std::unexpected(usable.error());
    hosts.push_back({std::move(*host), *usable});
  }
  return hosts;
}

std::expected<std::optional<DaneState>, CacheRecordCorrupt> read_dane(const Json& obj) {
  auto m = member(obj, "dane");
  if (!m) return std::unexpected(m.error());
  const Json& d = **m;
  if (d.is_null()) return std::optional<DaneState>{};
  if (!d.is_object()) return corrupt("field \"dane\" is neither null nor an object");
  DaneState state;
  auto verdict = read_string(d, "verdict");
  if (!verdict) return std::unexpected(verdict.error());
  const auto parsed = dane_verdict_from_string(*verdict);
  if (!parsed) return corrupt("unknown DANE verdict \"" + *verdict + "\"");
  state.verdict = *parsed;
  std::optional<CacheRecordCorrupt> err;
  util::take_field(read_string(d, "reason"), state.reason, err);
  util::take_field(read_time(d, "checked_at"), state.checked_at, err);
  util::take_field(read_time(d, "valid_until"), state.valid_until, err);
  util::take_field(read_dane_hosts(d), state.hosts, err);
  if (err) return std::unexpected(std::move(*err));
  return state;
}

std::expected<CacheRecord, CacheRecordCorrupt> decode(std::string_view bytes) {
  // Without exceptions: a parse error yields a "discarded" value.
  const Json j = Json::parse(bytes.begin(), bytes.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return corrupt("not valid JSON");
  if (!j.is_object()) return corrupt("not a JSON object");

  auto version = read_int(j, "v", std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max());
  if (!version) return std::unexpected(version.error());
  if (*version != kFormatWithDane && *version != kFormatWithoutDane)
    return corrupt("unsupported record format " + std::to_string(*version) + " (expected " +
                   std::to_string(kFormatWithoutDane) + " or " + std::to_string(kFormatWithDane) + ")");

  CacheRecord r;
  std::int64_t failures = 0;
  std::optional<CacheRecordCorrupt> err;
  util::take_field(read_string(j, "policy_id"), r.policy_id, err);
  util::take_field(read_string(j, "policy_text"), r.policy_text, err);
  util::take_field(read_policy(j), r.policy, err);
  util::take_field(read_time(j, "fetched_at"), r.fetched_at, err);
  util::take_field(read_time(j, "valid_until"), r.valid_until, err);
  util::take_field(read_time(j, "last_id_check"), r.last_id_check, err);
  util::take_field(read_string(j, "last_txt_id"), r.last_txt_id, err);
  util::take_field(read_time(j, "last_used"), r.last_used, err);
  util::take_field(read_time(j, "negative_until"), r.negative_until, err);
  util::take_field(read_failure(j), r.failure, err);
  util::take_field(read_string(j, "failure_detail"), r.failure_detail, err);
  util::take_field(read_string(j, "failed_id"), r.failed_id, err);
  util::take_field(read_time(j, "failed_at"), r.failed_at, err);
  util::take_field(read_time(j, "next_retry"), r.next_retry, err);
  util::take_field(read_int(j, "consecutive_failures", 0, std::numeric_limits<std::uint32_t>::max()), failures, err);
  if (*version != kFormatWithoutDane) util::take_field(read_dane(j), r.dane, err);
  if (err) return std::unexpected(std::move(*err));
  r.consecutive_failures = static_cast<std::uint32_t>(failures);
  return r;
}

}  // namespace legacy_format
}  // namespace

std::expected<CacheRecord, CacheRecordCorrupt> decode_legacy_cache_record(std::string_view bytes) {
  return legacy_format::decode(bytes);
}

}  // namespace mtastsd::core

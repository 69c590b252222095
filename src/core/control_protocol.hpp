// The control protocol between mtastsctl and mtastsd (the daemon's control socket,
// config `control`): one request per connection; the request and the reply are each
// one netstring (util/netstring) holding a JSON object.
//   request  {"command":"status"} | {"command":"stats"} | {"command":"refresh","domain":D}
//   reply    {"ok":true, ...} | {"ok":false,"error":"text"}
//   status   {"ok":true, <the daemon's status members>}
//   stats    {"ok":true,"samples":[{"name":N,"labels":{L:V,..},"value":X},..]}: the samples
//            of the Prometheus text (histograms as _bucket/_sum/_count samples)
//   refresh  {"ok":true,"record":<core/cache_record_json of the new record>}
// Pure: parsing, validation and building; the socket ends are daemon/control_server
// and ctl/control_client. Requests are strict (an unknown command or member is an
// error: both ends ship together); replies may grow members.
#pragma once
#include <cstddef>
#include <expected>
#include <string>
#include <string_view>
#include <utility>
#include <vector>
#include <nlohmann/json.hpp>
#include "core/cache_record.hpp"
#include "core/cache_rules.hpp"
#include "util/clock.hpp"

namespace mtastsd::core {

// Our caps (the protocol has none of its own). A request is a command and at most a
// domain name (253 bytes, RFC 1035 sec. 2.3.4, more as UTF-8 before IDNA): 64 KiB is
// plenty. A reply holds at most one cached policy (64 KiB, RFC 8461 sec. 3.3) or the
// metric samples (a few hundred of about 100 bytes): 4 MiB is far above both.
inline constexpr std::size_t kMaxControlRequestBytes = 64 * 1024;
inline constexpr std::size_t kMaxControlReplyBytes = 4 * 1024 * 1024;

enum class ControlCommand { status, stats, refresh };
std::string_view to_string(ControlCommand c);

struct ControlRequest {
  ControlCommand command = ControlCommand::status;
  std::string domain;  // refresh only: normalised like a socketmap key (core/next_hop)

  bool operator==(const ControlRequest&) const = default;
};

enum class ControlRequestError {
  not_json,           // not JSON text
  not_an_object,      // JSON, but not an object
  bad_command,        // "command" missing, not a string, or not a known command
  unexpected_member,  // a member other than "command" (and "domain" for refresh)
  missing_domain,     // refresh without a "domain" string
  bad_domain,         // "domain" is no domain name (IP literal, ".parent", invalid)
};
std::string_view to_string(ControlRequestError e);

std::expected<ControlRequest, ControlRequestError> parse_control_request(std::string_view payload);
// The request's JSON text (the payload of its netstring).
std::string encode_control_request(const ControlRequest& request);

// Reply payloads. `members` must be a JSON object; "ok" is set to true. Text that is not
// UTF-8 (a detail quoting a server) is passed with U+FFFD in place of the bad bytes.
std::string control_ok_reply(nlohmann::json members);
std::string control_error_reply(std::string_view error);

struct ControlReply {
  bool ok = false;
  std::string error;     // !ok: what failed, as the daemon said it
  nlohmann::json body;   // the whole reply object
};
enum class ControlReplyError {
  not_json,       // not JSON text
  not_an_object,  // JSON, but not an object
  missing_ok,     // no boolean "ok"
  missing_error,  // "ok" false without an "error" string
};
std::string_view to_string(ControlReplyError e);
std::expected<ControlReply, ControlReplyError> parse_control_reply(std::string_view payload);

// ---- refresh ----
// The members of a refresh's ok reply: {"record": record_json(domain, record, now, settings)}.
nlohmann::json refresh_reply_members(const std::string& domain, const CacheRecord& record, util::TimePoint now,
                                     const CacheSettings& settings);

// ---- stats ----
struct MetricSample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  // in name order (JSON object members)
  double value = 0;

  bool operator==(const MetricSample&) const = default;
};
// [{"name", "labels": {..}, "value"}, ..]: what a stats handler gives the server.
nlohmann::json samples_json(const std::vector<MetricSample>& samples);
// The samples of a stats reply; the error names the sample and member at fault. A null
// value (how nlohmann-json writes NaN and infinities) is read as NaN.
std::expected<std::vector<MetricSample>, std::string> parse_samples(const nlohmann::json& reply);
// One sample as a line of the Prometheus text format without its newline, with a tab
// before the value: `name{label="value",..}<TAB>value`; label values escaped as there
// (\\, \", \n), the value as the shortest decimal that reads back the same, NaN, +Inf, -Inf.
std::string sample_line(const MetricSample& sample);

}  // namespace mtastsd::core

// The control protocol's messages; see the header.
#include "core/control_protocol.hpp"

#include <cmath>
#include <fmt/format.h>
#include "core/cache_record_json.hpp"
#include "core/next_hop.hpp"
#include "util/ascii.hpp"
#include "util/json_text.hpp"

namespace mtastsd::core {
namespace {

// Prometheus data model (exposition formats, "Metric names and labels"):
// metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*.
bool is_name(std::string_view name, bool colon_allowed) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = util::is_alpha(c) || c == '_' || (colon_allowed && c == ':');
    if (!letter && !(i > 0 && util::is_digit(c))) return false;
  }
  return true;
}

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

}  // namespace

std::string_view to_string(ControlCommand c) {
  switch (c) {
    case ControlCommand::status: return "status";
    case ControlCommand::stats: return "stats";
    case ControlCommand::refresh: return "refresh";
  }
  return "?";
}

std::string_view to_string(ControlRequestError e) {
  switch (e) {
    case ControlRequestError::not_json: return "request is not JSON";
    case ControlRequestError::not_an_object: return "request is not a JSON object";
    case ControlRequestError::bad_command: return "request has no known \"command\" (status, stats, refresh)";
    case ControlRequestError::unexpected_member: return "request has a member its command does not take";
    case ControlRequestError::missing_domain: return "refresh needs a \"domain\" string";
    case ControlRequestError::bad_domain: return "\"domain\" is not a domain name";
  }
  return "bad request";
}

std::expected<ControlRequest, ControlRequestError> parse_control_request(std::string_view payload) {
  const auto j = nlohmann::json::parse(payload, nullptr, false);
  if (j.is_discarded()) return std::unexpected(ControlRequestError::not_json);
  if (!j.is_object()) return std::unexpected(ControlRequestError::not_an_object);
  const auto command = j.find("command");
  if (command == j.end() || !command->is_string()) return std::unexpected(ControlRequestError::bad_command);
  ControlRequest request;
  const auto& name = command->get_ref<const std::string&>();
  if (name == "status") request.command = ControlCommand::status;
  else if (name == "stats") request.command = ControlCommand::stats;
  else if (name == "refresh") request.command = ControlCommand::refresh;
  else return std::unexpected(ControlRequestError::bad_command);

  const bool takes_domain = request.command == ControlCommand::refresh;
  for (const auto& [key, value] : j.items())
    if (key != "command" && !(takes_domain && key == "domain"))
      return std::unexpected(ControlRequestError::unexpected_member);
  if (!takes_domain) return request;

  const auto domain = j.find("domain");
  if (domain == j.end() || !domain->is_string()) return std::unexpected(ControlRequestError::missing_domain);
  const NextHop hop = normalize_next_hop(domain->get_ref<const std::string&>());
  if (hop.kind != NextHopKind::domain) return std::unexpected(ControlRequestError::bad_domain);
  request.domain = hop.domain;
  return request;
}

std::string encode_control_request(const ControlRequest& request) {
  nlohmann::json j{{"command", std::string(to_string(request.command))}};
  if (request.command == ControlCommand::refresh) j["domain"] = request.domain;
  return util::json_text(j);
}

std::string control_ok_reply(nlohmann::json members) {
  members["ok"] = true;
  return util::json_text(members);
}

std::string control_error_reply(std::string_view error) {
  return util::json_text(nlohmann::json{{"ok", false}, {"error", std::string(error)}});
}

std::string_view to_string(ControlReplyError e) {
  switch (e) {
    case ControlReplyError::not_json: return "reply is not JSON";
    case ControlReplyError::not_an_object: return "reply is not a JSON object";
    case ControlReplyError::missing_ok: return "reply has no boolean \"ok\"";
    case ControlReplyError::missing_error: return "error reply has no \"error\" string";
  }
  return "bad reply";
}

std::expected<ControlReply, ControlReplyError> parse_control_reply(std::string_view payload) {
  auto j = nlohmann::json::parse(payload, nullptr, false);
  if (j.is_discarded()) return std::unexpected(ControlReplyError::not_json);
  if (!j.is_object()) return std::unexpected(ControlReplyError::not_an_object);
  const auto ok = j.find("ok");
  if (ok == j.end() || !ok->is_boolean()) return std::unexpected(ControlReplyError::missing_ok);
  ControlReply reply;
  reply.ok = ok->get<bool>();
  if (!reply.ok) {
    const auto error = j.find("error");
    if (error == j.end() || !error->is_string()) return std::unexpected(ControlReplyError::missing_error);
    reply.error = error->get<std::string>();
  }
  reply.body = std::move(j);
  return reply;
}

nlohmann::json refresh_reply_members(const std::string& domain, const CacheRecord& record, util::TimePoint now,
                                     const CacheSettings& settings) {
  return {{"record", record_json(domain, record, now, settings)}};
}

nlohmann::json samples_json(const std::vector<MetricSample>& samples) {
  nlohmann::json out = nlohmann::json::array();
  for (const MetricSample& s : samples) {
    nlohmann::json labels = nlohmann::json::object();
    for (const auto& [name, value] : s.labels) labels[name] = value;
    out.push_back({{"name", s.name}, {"labels", std::move(labels)}, {"value", s.value}});
  }
  return out;
}

std::expected<std::vector<MetricSample>, std::string> parse_samples(const nlohmann::json& reply) {
  const auto list = reply.find("samples");
  if (list == reply.end() || !list->is_array()) return std::unexpected("reply has no \"samples\" array");
  std::vector<MetricSample> out;
  out.reserve(list->size());
  for (std::size_t i = 0; i < list->size(); ++i) {
    const nlohmann::json& item = (*list)[i];
    const auto fail = [i](std::string_view what) {
      return std::unexpected(fmt::format("sample {}: {}", i, what));
    };
    if (!item.is_object()) return fail("not an object");
    MetricSample s;
    const auto name = item.find("name");
    if (name == item.end() || !name->is_string() || !is_name(name->get_ref<const std::string&>(), true))
      return fail("\"name\" is not a metric name");
    s.name = name->get<std::string>();
    const auto labels = item.find("labels");
    if (labels != item.end()) {
      if (!labels->is_object()) return fail("\"labels\" is not an object");
      for (const auto& [label, value] : labels->items()) {
        if (!is_name(label, false)) return fail(fmt::format("label \"{}\" is not a label name", label));
        if (!value.is_string()) return fail(fmt::format("label \"{}\" has no string value", label));
        s.labels.emplace_back(label, value.get<std::string>());
      }
    }
    const auto value = item.find("value");
    if (value == item.end() || !(value->is_number() || value->is_null())) return fail("\"value\" is not a number");
    s.value = value->is_null() ? std::nan("") : value->get<double>();
    out.push_back(std::move(s));
  }
  return out;
}

std::string sample_line(const MetricSample& sample) {
  std::string out = sample.name;
  if (!sample.labels.empty()) {
    out += '{';
    for (std::size_t i = 0; i < sample.labels.size(); ++i) {
      if (i > 0) out += ',';
      out += fmt::format("{}=\"{}\"", sample.labels[i].first, escape_label_value(sample.labels[i].second));
    }
    out += '}';
  }
  out += '\t';
  out += format_value(sample.value);
  return out;
}

}  // namespace mtastsd::core

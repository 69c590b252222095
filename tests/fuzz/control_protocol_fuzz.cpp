// The control protocol's messages (core/control_protocol): a request as the
// daemon's control socket receives it from a local client, and a reply as
// mtastsctl reads it (with its stats samples). Properties: a parsed request
// encodes to text that parses to the same request; a refresh domain is what
// next_hop makes of a key; an error reply built from any text parses back as
// that error (text that is not UTF-8 comes back with U+FFFD); samples converted
// back to JSON parse to the same samples; no input throws.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>
#include "core/control_protocol.hpp"
#include "core/next_hop.hpp"
#include "fuzz_support.hpp"

namespace {

using namespace mtastsd::core;

bool same_value(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

bool same_samples(const std::vector<MetricSample>& a, const std::vector<MetricSample>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].name != b[i].name || a[i].labels != b[i].labels || !same_value(a[i].value, b[i].value)) return false;
  return true;
}

bool is_utf8(std::string_view text) {
  try {
    (void)nlohmann::json(std::string(text)).dump();
    return true;
  } catch (const nlohmann::json::type_error&) {
    return false;
  }
}

void check_request(std::string_view payload) {
  const auto request = parse_control_request(payload);
  if (!request) return;
  if (request->command == ControlCommand::refresh) {
    const NextHop hop = normalize_next_hop(request->domain);
    FUZZ_CHECK(hop.kind == NextHopKind::domain && hop.domain == request->domain);
  } else {
    FUZZ_CHECK(request->domain.empty());
  }
  const auto again = parse_control_request(encode_control_request(*request));
  FUZZ_CHECK(again && *again == *request);
}

void check_reply(std::string_view payload) {
  const auto reply = parse_control_reply(payload);
  if (!reply) return;
  FUZZ_CHECK(reply->body.is_object() && reply->body.at("ok").get<bool>() == reply->ok);
  if (!reply->ok) FUZZ_CHECK(reply->body.at("error").get<std::string>() == reply->error);
  const auto samples = parse_samples(reply->body);
  if (!samples) return;
  for (const MetricSample& sample : *samples) {
    const std::string line = sample_line(sample);
    FUZZ_CHECK(line.starts_with(sample.name) && line.find('\n') == std::string::npos);
  }
  const auto again = parse_samples(nlohmann::json{{"samples", samples_json(*samples)}});
  FUZZ_CHECK(again && same_samples(*again, *samples));
}

void check_error_reply(std::string_view text) {
  const auto reply = parse_control_reply(control_error_reply(text));
  FUZZ_CHECK(reply && !reply->ok);
  if (is_utf8(text)) FUZZ_CHECK(reply->error == text);
  else FUZZ_CHECK(reply->error.find("\xEF\xBF\xBD") != std::string::npos);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view payload = mtastsd::fuzz::as_text(data, size);
  check_request(payload);
  check_reply(payload);
  check_error_reply(payload);
  return 0;
}

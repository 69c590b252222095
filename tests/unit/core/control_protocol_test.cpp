// The control protocol's messages (core/control_protocol.hpp): strict requests,
// replies that always parse back, the refresh reply and the metric samples.
#include "core/control_protocol.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/cache_rules.hpp"

namespace mtastsd::core {
namespace control_protocol_test {

using nlohmann::json;

std::expected<ControlRequest, ControlRequestError> parse(const json& j) { return parse_control_request(j.dump()); }

// ---------------------------------------------------------------- requests

TEST(ControlRequest, StatusAndStatsTakeNoDomain) {
  EXPECT_EQ(parse({{"command", "status"}}), (ControlRequest{ControlCommand::status, ""}));
  EXPECT_EQ(parse({{"command", "stats"}}), (ControlRequest{ControlCommand::stats, ""}));
  EXPECT_EQ(parse({{"command", "status"}, {"domain", "example.com"}}).error(),
            ControlRequestError::unexpected_member);
}

TEST(ControlRequest, RefreshDomainIsNormalisedLikeALookupKey) {
  EXPECT_EQ(parse({{"command", "refresh"}, {"domain", "Example.COM."}}),
            (ControlRequest{ControlCommand::refresh, "example.com"}));
  EXPECT_EQ(parse({{"command", "refresh"}, {"domain", "[mx.example.com]:587"}})->domain, "mx.example.com");
  EXPECT_EQ(parse({{"command", "refresh"}, {"domain", "bücher.example"}})->domain, "xn--bcher-kva.example");
}

TEST(ControlRequest, RefreshNeedsADomainString) {
  EXPECT_EQ(parse({{"command", "refresh"}}).error(), ControlRequestError::missing_domain);
  EXPECT_EQ(parse({{"command", "refresh"}, {"domain", 5}}).error(), ControlRequestError::missing_domain);
}

TEST(ControlRequest, RefreshRefusesWhatIsNoDomain) {
  for (const char* key : {"", "[192.0.2.1]", ".example.com", "exa mple.com"})
    EXPECT_EQ(parse({{"command", "refresh"}, {"domain", key}}).error(), ControlRequestError::bad_domain) << key;
}

TEST(ControlRequest, UnknownOrMissingCommand) {
  EXPECT_EQ(parse({{"command", "reload"}}).error(), ControlRequestError::bad_command);
  EXPECT_EQ(parse({{"command", 1}}).error(), ControlRequestError::bad_command);
  EXPECT_EQ(parse({{"domain", "example.com"}}).error(), ControlRequestError::bad_command);
  EXPECT_EQ(parse(json::object()).error(), ControlRequestError::bad_command);
}

TEST(ControlRequest, ExtraMembersAreRefused) {
  EXPECT_EQ(parse({{"command", "refresh"}, {"domain", "example.com"}, {"force", true}}).error(),
            ControlRequestError::unexpected_member);
}

TEST(ControlRequest, NotJsonOrNotAnObject) {
  EXPECT_EQ(parse_control_request("").error(), ControlRequestError::not_json);
  EXPECT_EQ(parse_control_request("{\"command\":").error(), ControlRequestError::not_json);
  EXPECT_EQ(parse_control_request("status").error(), ControlRequestError::not_json);
  EXPECT_EQ(parse_control_request("[\"status\"]").error(), ControlRequestError::not_an_object);
  EXPECT_EQ(parse_control_request("\"status\"").error(), ControlRequestError::not_an_object);
}

TEST(ControlRequest, EncodeParsesBack) {
  for (const ControlRequest& r : {ControlRequest{ControlCommand::status, ""}, ControlRequest{ControlCommand::stats, ""},
                                  ControlRequest{ControlCommand::refresh, "example.com"}})
    EXPECT_EQ(parse_control_request(encode_control_request(r)), r);
}

TEST(ControlRequest, EveryErrorHasText) {
  for (auto e : {ControlRequestError::not_json, ControlRequestError::not_an_object, ControlRequestError::bad_command,
                 ControlRequestError::unexpected_member, ControlRequestError::missing_domain,
                 ControlRequestError::bad_domain})
    EXPECT_FALSE(to_string(e).empty());
}

// ---------------------------------------------------------------- replies

TEST(ControlReply, OkReplyCarriesItsMembers) {
  const auto reply = parse_control_reply(control_ok_reply({{"pid", 42}, {"version", "0.1.0"}}));
  ASSERT_TRUE(reply) << to_string(reply.error());
  EXPECT_TRUE(reply->ok);
  EXPECT_EQ(reply->body["pid"], 42);
  EXPECT_EQ(reply->body["version"], "0.1.0");
}

TEST(ControlReply, OkCannotBeOverriddenByAMember) {
  const auto reply = parse_control_reply(control_ok_reply({{"ok", false}}));
  ASSERT_TRUE(reply);
  EXPECT_TRUE(reply->ok);
}

TEST(ControlReply, ErrorReplyCarriesTheText) {
  const auto reply = parse_control_reply(control_error_reply("example.com: no MTA-STS policy"));
  ASSERT_TRUE(reply);
  EXPECT_FALSE(reply->ok);
  EXPECT_EQ(reply->error, "example.com: no MTA-STS policy");
}

TEST(ControlReply, BytesThatAreNotUtf8DoNotBreakTheReply) {
  const auto reply = parse_control_reply(control_error_reply("server said \xff\xfe"));
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->error, "server said \xEF\xBF\xBD\xEF\xBF\xBD");  // U+FFFD twice
  EXPECT_TRUE(parse_control_reply(control_ok_reply({{"detail", "\xc3"}})));
}

TEST(ControlReply, MalformedReplies) {
  EXPECT_EQ(parse_control_reply("{").error(), ControlReplyError::not_json);
  EXPECT_EQ(parse_control_reply("[]").error(), ControlReplyError::not_an_object);
  EXPECT_EQ(parse_control_reply("{}").error(), ControlReplyError::missing_ok);
  EXPECT_EQ(parse_control_reply(R"({"ok":"yes"})").error(), ControlReplyError::missing_ok);
  EXPECT_EQ(parse_control_reply(R"({"ok":false})").error(), ControlReplyError::missing_error);
  EXPECT_EQ(parse_control_reply(R"({"ok":false,"error":3})").error(), ControlReplyError::missing_error);
}

// ---------------------------------------------------------------- refresh

TEST(RefreshReply, RecordAsCacheShowPrintsIt) {
  const util::TimePoint t0 = util::from_unix(1'700'000'000);
  const CacheSettings settings;
  FetchSuccess fetched;
  fetched.policy.mode = StsMode::enforce;
  fetched.policy.max_age = 86400;
  fetched.policy.mx = {"mx.example.com"};
  fetched.text = "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n";
  const CacheRecord r = apply_fetch_success(nullptr, TxtOutcome{TxtStatus::found, "id2", util::Seconds(60), ""},
                                            fetched, t0, settings);
  const json members = refresh_reply_members("example.com", r, t0, settings);
  const json& record = members.at("record");
  EXPECT_EQ(record["domain"], "example.com");
  EXPECT_EQ(record["state"], "policy");
  EXPECT_EQ(record["policy_id"], "id2");
  EXPECT_EQ(record["mode"], "enforce");
  EXPECT_EQ(record["policy_text"], fetched.text);
  EXPECT_EQ(record["valid_until"], 1'700'000'000 + 86400);
  EXPECT_EQ(record["next_refresh"], 1'700'000'000 + 86400 / 2);  // margin capped at max_age / 2
}

TEST(RefreshReply, NoNextRefreshWithoutPolicy) {
  const util::TimePoint t0 = util::from_unix(1'700'000'000);
  const CacheRecord r =
      apply_txt(nullptr, TxtOutcome{TxtStatus::absent, "", util::Seconds(300), "NXDOMAIN"}, t0, CacheSettings{});
  const json record = refresh_reply_members("example.com", r, t0, CacheSettings{}).at("record");
  EXPECT_TRUE(record["next_refresh"].is_null());
  EXPECT_TRUE(record["mode"].is_null());
  EXPECT_EQ(record["state"], "negative");
}

// ---------------------------------------------------------------- stats

TEST(Samples, RoundTripThroughAReply) {
  const std::vector<MetricSample> samples{
      {"mtastsd_build_info", {{"version", "0.1.0"}}, 1},
      {"mtastsd_lookups_total", {{"answer", "secure"}, {"profile", "default"}}, 12},
      {"mtastsd_lookup_duration_seconds_sum", {}, 0.25},
  };
  const auto reply = parse_control_reply(control_ok_reply({{"samples", samples_json(samples)}}));
  ASSERT_TRUE(reply);
  EXPECT_EQ(parse_samples(reply->body), samples);
}

TEST(Samples, LinesLikeThePrometheusTextWithATab) {
  EXPECT_EQ(sample_line({"mtastsd_cache_hits_total", {}, 3}), "mtastsd_cache_hits_total\t3");
  EXPECT_EQ(sample_line({"mtastsd_lookups_total", {{"answer", "secure"}, {"profile", "default"}}, 12}),
            "mtastsd_lookups_total{answer=\"secure\",profile=\"default\"}\t12");
  EXPECT_EQ(sample_line({"mtastsd_lookup_duration_seconds_bucket", {{"le", "0.005"}}, 7}),
            "mtastsd_lookup_duration_seconds_bucket{le=\"0.005\"}\t7");
  EXPECT_EQ(sample_line({"x", {}, 0.25}), "x\t0.25");
  EXPECT_EQ(sample_line({"x", {}, 1.7e9}), "x\t1700000000");
}

TEST(Samples, LabelValuesAreEscaped) {
  EXPECT_EQ(sample_line({"x", {{"l", "a\\b\"c\nd"}}, 1}), "x{l=\"a\\\\b\\\"c\\nd\"}\t1");
}

TEST(Samples, NonFiniteValues) {
  EXPECT_EQ(sample_line({"x", {}, std::numeric_limits<double>::infinity()}), "x\t+Inf");
  EXPECT_EQ(sample_line({"x", {}, -std::numeric_limits<double>::infinity()}), "x\t-Inf");
  EXPECT_EQ(sample_line({"x", {}, std::nan("")}), "x\tNaN");
  // nlohmann-json writes them as null; they read back as NaN.
  const auto parsed = parse_samples(json::parse(control_ok_reply({{"samples", samples_json({{"x", {}, NAN}})}})));
  ASSERT_TRUE(parsed) << parsed.error();
  EXPECT_TRUE(std::isnan(parsed->at(0).value));
}

TEST(Samples, MalformedSamplesAreRefusedWithTheirIndex) {
  const auto bad = [](json sample) {
    auto parsed = parse_samples({{"samples", json::array({{{"name", "ok_one"}, {"value", 1}}, sample})}});
    EXPECT_FALSE(parsed) << sample.dump();
    return parsed ? std::string() : parsed.error();
  };
  EXPECT_EQ(bad(json("x")), "sample 1: not an object");
  EXPECT_NE(bad({{"value", 1}}).find("name"), std::string::npos);
  EXPECT_NE(bad({{"name", "has space"}, {"value", 1}}).find("name"), std::string::npos);
  EXPECT_NE(bad({{"name", "9starts_with_digit"}, {"value", 1}}).find("name"), std::string::npos);
  EXPECT_NE(bad({{"name", "x"}, {"labels", {{"bad-label", "v"}}}, {"value", 1}}).find("bad-label"),
            std::string::npos);
  EXPECT_NE(bad({{"name", "x"}, {"labels", {{"ns:l", "v"}}}, {"value", 1}}).find("ns:l"), std::string::npos);
  EXPECT_NE(bad({{"name", "x"}, {"labels", {{"l", 1}}}, {"value", 1}}).find("l"), std::string::npos);
  EXPECT_NE(bad({{"name", "x"}, {"labels", json::array()}, {"value", 1}}).find("labels"), std::string::npos);
  EXPECT_NE(bad({{"name", "x"}}).find("value"), std::string::npos);
  EXPECT_NE(bad({{"name", "x"}, {"value", "1"}}).find("value"), std::string::npos);
  EXPECT_FALSE(parse_samples(json::object()));
  EXPECT_FALSE(parse_samples({{"samples", json::object()}}));
}

TEST(Samples, ColonsAreAllowedInMetricNames) {
  const auto parsed = parse_samples({{"samples", json::array({{{"name", "job:rate:5m"}, {"value", 1}}})}});
  ASSERT_TRUE(parsed) << parsed.error();
  EXPECT_EQ(parsed->at(0).name, "job:rate:5m");
}

}  // namespace control_protocol_test
}  // namespace mtastsd::core

// TLS-RPT aggregation (exact counts, distinct keys, caps), the storage encoding
// of aggregates, and report building (RFC 8460 sec. 4, 5.1, 5.3), with reports
// checked against tests/data/tlsrpt-report.schema.json.
#include "core/tlsrpt_report.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>
#include <string>

#include "json_schema_subset.hpp"

namespace mtastsd::core {
namespace tlsrpt_report_test {

using Json = nlohmann::json;
using util::from_unix;

constexpr std::int64_t kApril1st2024 = 1711929600;  // 2024-04-01T00:00:00Z
constexpr std::string_view kRecord = "v=TLSRPTv1; rua=mailto:tlsrpt@example.com";

Json report_schema() {
  std::ifstream in(std::string(MTASTSD_TEST_DATA_DIR) + "/tlsrpt-report.schema.json");
  EXPECT_TRUE(in.good()) << "schema file missing";
  std::stringstream text;
  text << in.rdbuf();
  return Json::parse(text.str());
}

std::vector<std::string> schema_errors(const Json& report) {
  return test::JsonSchemaSubset::check(report_schema(), report);
}

AppliedPolicy sts_policy() {
  return AppliedPolicy{PolicyType::sts,
                       {"version: STSv1", "mode: enforce", "mx: *.example.net", "max_age: 86400"},
                       "example.com",
                       {"*.example.net"}};
}

SessionEvent success(std::string_view record = kRecord) {
  SessionEvent e;
  e.report_domain = "example.com";
  e.tlsrpt_record = record;
  e.policy = sts_policy();
  return e;
}

SessionEvent failure(FailureDetail detail) {
  SessionEvent e = success();
  e.failed = true;
  e.failure_details.push_back(std::move(detail));
  return e;
}

FailureDetail host_mismatch() {
  FailureDetail d;
  d.result_type = FailureType::certificate_host_mismatch;
  d.sending_mta_ip = "192.0.2.1";
  d.receiving_mx_hostname = "mx1.example.net";
  d.receiving_ip = "198.51.100.7";
  return d;
}

FailureDetail expired() {
  FailureDetail d;
  d.result_type = FailureType::certificate_expired;
  d.receiving_mx_hostname = "mx2.example.net";
  d.failure_reason_code = "certificate has expired";
  return d;
}

void merge_ok(DomainDay& day, const SessionEvent& e) {
  auto r = merge_session(day, e);
  ASSERT_TRUE(r.has_value()) << r.error().detail;
}

AggregateError merge_error(DomainDay& day, const SessionEvent& e) {
  const DomainDay before = day;
  auto r = merge_session(day, e);
  EXPECT_FALSE(r.has_value());
  EXPECT_EQ(day, before) << "a failed merge must not change the aggregate";
  return r ? AggregateError::bad_report_domain : r.error().error;
}

const ReportOrigin kOrigin{"Example Sender", "tlsrpt-admin@sender.example", "sender.example"};

// --- UtcDay ---

TEST(UtcDay, ContainingAndBoundaries) {
  const UtcDay day = UtcDay::containing(from_unix(kApril1st2024 + 3600));
  EXPECT_EQ(day.days_since_epoch, 19814);
  EXPECT_EQ(day.to_string(), "2024-04-01");
  EXPECT_EQ(util::to_unix(day.start()), kApril1st2024);
  EXPECT_EQ(util::to_unix(day.last_second()), kApril1st2024 + 86399);
  EXPECT_EQ(UtcDay::containing(from_unix(kApril1st2024)), day);
  EXPECT_EQ(UtcDay::containing(from_unix(kApril1st2024 + 86399)), day);
  EXPECT_EQ(UtcDay::containing(from_unix(kApril1st2024 + 86400)).to_string(), "2024-04-02");
  EXPECT_EQ(UtcDay::containing(from_unix(kApril1st2024 - 1)).to_string(), "2024-03-31");
  EXPECT_EQ(UtcDay{}.to_string(), "1970-01-01");
}

TEST(UtcDay, Parse) {
  ASSERT_TRUE(UtcDay::parse("2024-04-01").has_value());
  EXPECT_EQ(UtcDay::parse("2024-04-01")->days_since_epoch, 19814);
  EXPECT_EQ(UtcDay::parse("2016-04-01")->days_since_epoch, 16892);
  EXPECT_TRUE(UtcDay::parse("2024-02-29").has_value());
  EXPECT_TRUE(UtcDay::parse("1970-01-01").has_value());
  EXPECT_TRUE(UtcDay::parse("9999-12-31").has_value());
  for (const char* bad : {"2023-02-29", "2024-04-31", "2024-13-01", "2024-00-10", "2024-01-00", "1969-12-31",
                          "2024-4-01", "2024/04/01", "2024-04-01x", "20240401", "abcd-ef-gh", "", "+024-04-01"})
    EXPECT_FALSE(UtcDay::parse(bad).has_value()) << bad;
  const UtcDay day = UtcDay::containing(from_unix(1234567890));
  EXPECT_EQ(UtcDay::parse(day.to_string()), day);
}

// --- keys ---

TEST(DomainDayKey, EncodingRoundTripsAndSortsByDay) {
  const DomainDayKey key{*UtcDay::parse("2024-04-01"), "example.com"};
  EXPECT_EQ(encode_domain_day_key(key), "2024-04-01/example.com");
  auto decoded = decode_domain_day_key("2024-04-01/example.com");
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, key);
  EXPECT_LT(encode_domain_day_key({*UtcDay::parse("2024-04-01"), "zzz.example"}),
            encode_domain_day_key({*UtcDay::parse("2024-04-02"), "aaa.example"}));
  for (const char* bad : {"2024-04-01example.com", "2024-04-01/", "2024-13-01/example.com", "2024-04-01/Example.com",
                          "2024-04-01/exa mple.com", "x", ""})
    EXPECT_FALSE(decode_domain_day_key(bad).has_value()) << bad;
}

TEST(DomainDayKey, FromEvent) {
  SessionEvent e = success();
  e.report_domain = "Example.COM";
  auto key = domain_day_key(e, from_unix(kApril1st2024 + 10));
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(encode_domain_day_key(*key), "2024-04-01/example.com");
  e.report_domain = "not/a domain";
  ASSERT_FALSE(domain_day_key(e, from_unix(kApril1st2024)).has_value());
  EXPECT_EQ(domain_day_key(e, from_unix(kApril1st2024)).error().error, AggregateError::bad_report_domain);
}

// --- merging ---

TEST(MergeSession, CountsSuccessesFailuresAndDetails) {
  DomainDay day;
  merge_ok(day, success());
  merge_ok(day, failure(host_mismatch()));
  merge_ok(day, failure(host_mismatch()));
  merge_ok(day, failure(expired()));
  merge_ok(day, success());
  ASSERT_EQ(day.policies.size(), 1u);
  const PolicyAggregate& p = day.policies[0];
  EXPECT_EQ(p.rua, std::vector<std::string>{"mailto:tlsrpt@example.com"});
  EXPECT_EQ(p.policy, sts_policy());
  EXPECT_EQ(p.successful_sessions, 2u);
  EXPECT_EQ(p.failed_sessions, 3u);
  ASSERT_EQ(p.failure_details.size(), 2u);
  EXPECT_EQ(p.failure_details[0], (FailureDetailCount{host_mismatch(), 2}));
  EXPECT_EQ(p.failure_details[1], (FailureDetailCount{expired(), 1}));
  EXPECT_EQ(p.failure_details_dropped, 0u);
}

TEST(MergeSession, ExactCountsUnderManyMerges) {
  DomainDay day;
  constexpr int kRounds = 20000;
  for (int i = 0; i < kRounds; ++i) {
    if (i % 4 == 0)
      merge_ok(day, failure(i % 8 == 0 ? host_mismatch() : expired()));
    else
      merge_ok(day, success());
  }
  // Through the storage encoding too, as the LMDB table will see it.
  auto decoded = decode_domain_day(encode_domain_day(day));
  ASSERT_TRUE(decoded.has_value());
  merge_ok(*decoded, success());
  const PolicyAggregate& p = decoded->policies.at(0);
  EXPECT_EQ(p.successful_sessions, static_cast<std::uint64_t>(kRounds * 3 / 4 + 1));
  EXPECT_EQ(p.failed_sessions, static_cast<std::uint64_t>(kRounds / 4));
  ASSERT_EQ(p.failure_details.size(), 2u);
  EXPECT_EQ(p.failure_details[0].sessions, static_cast<std::uint64_t>(kRounds / 8));
  EXPECT_EQ(p.failure_details[1].sessions, static_cast<std::uint64_t>(kRounds / 8));
}

TEST(MergeSession, EveryKeyPartSeparatesAggregates) {
  DomainDay day;
  merge_ok(day, success());
  SessionEvent other_strings = success();
  other_strings.policy.strings.back() = "max_age: 604800";
  merge_ok(day, other_strings);
  SessionEvent other_mx = success();
  other_mx.policy.mx_hosts = {"mx.example.net"};
  merge_ok(day, other_mx);
  SessionEvent other_domain = success();
  other_domain.policy.domain = "mail.example.com";
  merge_ok(day, other_domain);
  SessionEvent other_type = success();
  other_type.policy = AppliedPolicy{PolicyType::no_policy_found, {}, "example.com", {}};
  merge_ok(day, other_type);
  merge_ok(day, success("v=TLSRPTv1; rua=https://r.example.com/"));
  EXPECT_EQ(day.policies.size(), 6u);
}

TEST(MergeSession, RecordsWithTheSameRuaListShareAnAggregate) {
  DomainDay day;
  merge_ok(day, success("v=TLSRPTv1; rua=mailto:tlsrpt@example.com"));
  merge_ok(day, success("v=TLSRPTv1;rua=mailto:tlsrpt@example.com;"));
  merge_ok(day, success("v=TLSRPTv1; rua=mailto:tlsrpt@example.com; ext=1"));
  ASSERT_EQ(day.policies.size(), 1u);
  EXPECT_EQ(day.policies[0].successful_sessions, 3u);
}

TEST(MergeSession, EmptyPolicyDomainIsTheReportDomain) {
  DomainDay day;
  SessionEvent e = success();
  e.policy.domain = "";
  merge_ok(day, e);
  merge_ok(day, success());
  ASSERT_EQ(day.policies.size(), 1u);
  EXPECT_EQ(day.policies[0].policy.domain, "example.com");
}

TEST(MergeSession, EventsThatCannotBeCounted) {
  DomainDay day;
  merge_ok(day, success());
  SessionEvent unknown = success();
  unknown.policy.type = PolicyType::unknown;
  EXPECT_EQ(merge_error(day, unknown), AggregateError::unresolved_policy_type);
  EXPECT_EQ(merge_error(day, success("")), AggregateError::no_tlsrpt_record);
  EXPECT_EQ(merge_error(day, success("v=TLSRPTv1; rua=http://r.example.com/")), AggregateError::unusable_tlsrpt_record);
  EXPECT_EQ(merge_error(day, success("v=STSv1; id=1")), AggregateError::unusable_tlsrpt_record);
}

TEST(MergeSession, PolicyCap) {
  DomainDay day;
  for (std::size_t i = 0; i < kMaxPoliciesPerDomainDay; ++i) {
    SessionEvent e = success();
    e.policy.strings.push_back("extra: " + std::to_string(i));
    merge_ok(day, e);
  }
  SessionEvent one_more = success();
  one_more.policy.strings.push_back("extra: more");
  EXPECT_EQ(merge_error(day, one_more), AggregateError::too_many_policies);
  SessionEvent known = success();
  known.policy.strings.push_back("extra: 0");
  merge_ok(day, known);  // existing aggregates still count
  EXPECT_EQ(day.policies[0].successful_sessions, 2u);
}

TEST(MergeSession, FailureDetailCap) {
  DomainDay day;
  const auto nth = [](std::size_t i) {
    FailureDetail d = host_mismatch();
    d.receiving_ip = "198.51.100." + std::to_string(i);
    return d;
  };
  for (std::size_t i = 0; i < kMaxFailureDetailsPerPolicy + 5; ++i) merge_ok(day, failure(nth(i)));
  merge_ok(day, failure(nth(0)));  // a known detail still counts
  const PolicyAggregate& p = day.policies.at(0);
  EXPECT_EQ(p.failed_sessions, kMaxFailureDetailsPerPolicy + 6);
  EXPECT_EQ(p.failure_details.size(), kMaxFailureDetailsPerPolicy);
  EXPECT_EQ(p.failure_details[0].sessions, 2u);
  EXPECT_EQ(p.failure_details_dropped, 5u);
}

TEST(MergeSession, LongDetailFieldsAreTruncatedOnUtf8Boundaries) {
  std::string helo = "a";
  for (int i = 0; i < 300; ++i) helo += "\xc3\xa9";  // 601 bytes
  FailureDetail d = host_mismatch();
  d.receiving_mx_helo = helo;
  DomainDay day;
  merge_ok(day, failure(d));
  d.receiving_mx_helo = helo + "different tail";
  merge_ok(day, failure(d));  // same after truncation: same detail
  const PolicyAggregate& p = day.policies.at(0);
  ASSERT_EQ(p.failure_details.size(), 1u);
  EXPECT_EQ(p.failure_details[0].sessions, 2u);
  EXPECT_EQ(p.failure_details[0].detail.receiving_mx_helo.size(), 511u);  // 512 would split "\xc3\xa9"
  EXPECT_EQ(p.failure_details[0].detail.receiving_mx_helo, helo.substr(0, 511));
}

TEST(MergeSession, FailureDetailsOfSuccessfulSessionsCountToo) {
  // libtlsrpt may carry details with "f":0; they are reported as given.
  DomainDay day;
  SessionEvent e = success();
  e.failure_details.push_back(expired());
  merge_ok(day, e);
  EXPECT_EQ(day.policies.at(0).successful_sessions, 1u);
  EXPECT_EQ(day.policies.at(0).failed_sessions, 0u);
  EXPECT_EQ(day.policies.at(0).failure_details.at(0).sessions, 1u);
}

// --- storage encoding ---

DomainDay full_day() {
  DomainDay day;
  merge_ok(day, success());
  FailureDetail all_fields{FailureType::sts_webpki_invalid,   "2001:db8::1", "mx.example.net",
                           "250 mx.example.net \xe2\x9c\x93", "2001:db8::2", "https://info.example/x",
                           "X509_V_ERR_CERT_HAS_EXPIRED"};
  merge_ok(day, failure(all_fields));
  merge_ok(day, failure(expired()));
  SessionEvent none = success("v=TLSRPTv1; rua=https://r.example.com/,mailto:b@example.com");
  none.policy = AppliedPolicy{PolicyType::no_policy_found, {}, "example.com", {}};
  merge_ok(day, none);
  SessionEvent tlsa = success();
  tlsa.policy = AppliedPolicy{PolicyType::tlsa, {"3 1 1 abcd"}, "example.com", {}};
  merge_ok(day, tlsa);
  day.policies[0].failure_details_dropped = 7;
  return day;
}

TEST(DomainDayEncoding, RoundTrip) {
  const DomainDay day = full_day();
  auto decoded = decode_domain_day(encode_domain_day(day));
  ASSERT_TRUE(decoded.has_value()) << decoded.error().detail;
  EXPECT_EQ(*decoded, day);
  auto empty = decode_domain_day(encode_domain_day(DomainDay{}));
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->policies.empty());
}

TEST(DomainDayEncoding, IsCompactVersionedJson) {
  const Json j = Json::parse(encode_domain_day(full_day()));
  EXPECT_EQ(j["v"], kAggregateFormat);
  const Json& detail = j["policies"][0]["details"][1];  // expired(): only n and f set
  EXPECT_EQ(detail,
            (Json{{"t", "certificate-expired"}, {"c", 1}, {"n", "mx2.example.net"}, {"f", "certificate has expired"}}));
}

TEST(DomainDayEncoding, InvalidUtf8IsReplacedNotFatal) {
  DomainDay day;
  FailureDetail d = host_mismatch();
  d.failure_reason_code = "bad \xff byte";
  merge_ok(day, failure(d));
  auto decoded = decode_domain_day(encode_domain_day(day));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->policies[0].failure_details[0].detail.failure_reason_code, "bad \xef\xbf\xbd byte");
}

TEST(DomainDayEncoding, CorruptValuesAreErrorsNotCrashes) {
  const Json good = Json::parse(encode_domain_day(full_day()));
  const auto with = [&](auto&& change) {
    Json j = good;
    change(j);
    return decode_domain_day(j.dump()).has_value();
  };
  EXPECT_FALSE(decode_domain_day("").has_value());
  EXPECT_FALSE(decode_domain_day("{").has_value());
  EXPECT_FALSE(decode_domain_day("[]").has_value());
  EXPECT_FALSE(decode_domain_day(std::string(kMaxEncodedDomainDay + 1, ' ')).has_value());
  EXPECT_FALSE(with([](Json& j) { j.erase("v"); }));
  EXPECT_FALSE(with([](Json& j) { j["v"] = 2; }));
  EXPECT_FALSE(with([](Json& j) { j["v"] = "1"; }));
  EXPECT_FALSE(with([](Json& j) { j["policies"] = Json::object(); }));
  EXPECT_FALSE(with([](Json& j) { j["policies"][0] = 1; }));
  for (const char* key : {"rua", "type", "strings", "domain", "mx", "ok", "failed", "dropped", "details"}) {
    EXPECT_FALSE(with([&](Json& j) { j["policies"][0].erase(key); })) << key;
    EXPECT_FALSE(with([&](Json& j) { j["policies"][0][key] = nullptr; })) << key;
  }
  EXPECT_FALSE(with([](Json& j) { j["policies"][0]["type"] = "unknown"; }));
  EXPECT_FALSE(with([](Json& j) { j["policies"][0]["ok"] = -1; }));
  EXPECT_FALSE(with([](Json& j) { j["policies"][0]["failed"] = 1.5; }));
  EXPECT_FALSE(with([](Json& j) { j["policies"][0]["rua"] = {1}; }));
  EXPECT_FALSE(with([](Json& j) { j["policies"][0]["details"][0] = "x"; }));
  EXPECT_FALSE(with([](Json& j) { j["policies"][0]["details"][0]["t"] = "broken-cert"; }));
  EXPECT_FALSE(with([](Json& j) { j["policies"][0]["details"][0].erase("c"); }));
  EXPECT_FALSE(with([](Json& j) { j["policies"][0]["details"][0]["n"] = 5; }));
  EXPECT_TRUE(with([](Json& j) { j["policies"][0]["future"] = 5; }));  // unknown members are ignored
}

// --- grouping and reports ---

TEST(GroupByRua, OneGroupPerRuaListInFirstSeenOrder) {
  const auto groups = group_by_rua(full_day());
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].rua, std::vector<std::string>{"mailto:tlsrpt@example.com"});
  EXPECT_EQ(groups[0].policies.size(), 2u);  // sts and tlsa
  EXPECT_EQ(groups[1].rua, (std::vector<std::string>{"https://r.example.com/", "mailto:b@example.com"}));
  EXPECT_EQ(groups[1].policies.size(), 1u);
}

DomainDay fixture_day() {
  DomainDay day;
  for (int i = 0; i < 3; ++i) merge_ok(day, success());
  merge_ok(day, failure(host_mismatch()));
  merge_ok(day, failure(host_mismatch()));
  merge_ok(day, failure(expired()));
  return day;
}

TEST(BuildReport, ExactJsonForAFixture) {
  const UtcDay day = *UtcDay::parse("2024-04-01");
  auto report = build_report(kOrigin, day, "example.com", fixture_day().policies, "a1b2c3");
  ASSERT_TRUE(report.has_value()) << report.error().detail;
  EXPECT_EQ(report->json,
            R"({"organization-name":"Example Sender",)"
            R"("date-range":{"start-datetime":"2024-04-01T00:00:00Z","end-datetime":"2024-04-01T23:59:59Z"},)"
            R"("contact-info":"tlsrpt-admin@sender.example",)"
            R"("report-id":"20240401.a1b2c3.example.com@sender.example",)"
            R"("policies":[{"policy":{"policy-type":"sts",)"
            R"("policy-string":["version: STSv1","mode: enforce","mx: *.example.net","max_age: 86400"],)"
            R"("policy-domain":"example.com","mx-host":["*.example.net"]},)"
            R"("summary":{"total-successful-session-count":3,"total-failure-session-count":3},)"
            R"("failure-details":[{"result-type":"certificate-host-mismatch","sending-mta-ip":"192.0.2.1",)"
            R"("receiving-mx-hostname":"mx1.example.net","receiving-ip":"198.51.100.7","failed-session-count":2},)"
            R"({"result-type":"certificate-expired","receiving-mx-hostname":"mx2.example.net",)"
            R"("failed-session-count":1,"failure-reason-code":"certificate has expired"}]}]})");
  EXPECT_EQ(report->report_id, "20240401.a1b2c3.example.com@sender.example");
}

TEST(BuildReport, FileNameAndSubject) {
  const UtcDay day = *UtcDay::parse("2024-04-01");
  auto report = build_report(kOrigin, day, "Example.com", fixture_day().policies, "a1b2c3");
  ASSERT_TRUE(report.has_value());
  // sec. 5.1: sender!policy-domain!begin-timestamp!end-timestamp!unique-id.json.gz (unix seconds)
  EXPECT_EQ(report->file_name, "sender.example!example.com!1711929600!1712015999!a1b2c3.json.gz");
  // sec. 5.3
  EXPECT_EQ(
      report->subject,
      "Report Domain: example.com Submitter: sender.example Report-ID: <20240401.a1b2c3.example.com@sender.example>");
}

TEST(BuildReport, TokenMakesReportsUnique) {
  const UtcDay day = *UtcDay::parse("2024-04-01");
  const auto a = build_report(kOrigin, day, "example.com", fixture_day().policies, "1");
  const auto b = build_report(kOrigin, day, "example.com", fixture_day().policies, "2");
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->report_id, b->report_id);
  EXPECT_NE(a->file_name, b->file_name);
}

TEST(BuildReport, ValidatesAgainstTheSchema) {
  const DomainDay day = full_day();
  for (const ReportGroup& group : group_by_rua(day)) {
    auto report = build_report(kOrigin, *UtcDay::parse("2024-02-29"), "example.com", group.policies, "Z9");
    ASSERT_TRUE(report.has_value());
    const Json json = Json::parse(report->json);
    EXPECT_EQ(schema_errors(json), std::vector<std::string>{}) << report->json;
  }
}

TEST(BuildReport, NoPolicyFoundLeavesOutEmptyArraysButKeepsFailureDetails) {
  DomainDay day;
  SessionEvent e = success();
  e.policy = AppliedPolicy{PolicyType::no_policy_found, {}, "example.com", {}};
  merge_ok(day, e);
  auto report = build_report(kOrigin, *UtcDay::parse("2024-04-01"), "example.com", day.policies, "x");
  ASSERT_TRUE(report.has_value());
  const Json j = Json::parse(report->json);
  EXPECT_EQ(j["policies"][0]["policy"], (Json{{"policy-type", "no-policy-found"}, {"policy-domain", "example.com"}}));
  EXPECT_EQ(j["policies"][0]["failure-details"], Json::array());
  EXPECT_EQ(schema_errors(j), std::vector<std::string>{});
}

TEST(BuildReport, RejectsBadInput) {
  const UtcDay day = *UtcDay::parse("2024-04-01");
  const auto policies = fixture_day().policies;
  const auto error = [&](const ReportOrigin& origin, std::string_view domain, const std::vector<PolicyAggregate>& p,
                         std::string_view token) {
    auto r = build_report(origin, day, domain, p, token);
    EXPECT_FALSE(r.has_value());
    return r ? ReportError::no_policies : r.error().error;
  };
  EXPECT_EQ(error({"", "a@b.example", "b.example"}, "example.com", policies, "x"), ReportError::bad_origin);
  EXPECT_EQ(error({"Org", "", "b.example"}, "example.com", policies, "x"), ReportError::bad_origin);
  EXPECT_EQ(error({"Org", "a@b.example", "b_example"}, "example.com", policies, "x"), ReportError::bad_origin);
  EXPECT_EQ(error(kOrigin, "exa mple.com", policies, "x"), ReportError::bad_report_domain);
  EXPECT_EQ(error(kOrigin, "example.com", policies, ""), ReportError::bad_unique_token);
  EXPECT_EQ(error(kOrigin, "example.com", policies, "a-b"), ReportError::bad_unique_token);
  EXPECT_EQ(error(kOrigin, "example.com", policies, "a!b"), ReportError::bad_unique_token);
  EXPECT_EQ(error(kOrigin, "example.com", policies, std::string(33, 'a')), ReportError::bad_unique_token);
  EXPECT_EQ(error(kOrigin, "example.com", {}, "x"), ReportError::no_policies);
  EXPECT_TRUE(build_report(kOrigin, day, "example.com", policies, std::string(32, 'a')).has_value());
}

// The checker must be able to fail, or the schema tests above prove nothing.
TEST(ReportSchema, CheckerFindsViolations) {
  auto report = build_report(kOrigin, *UtcDay::parse("2024-04-01"), "example.com", fixture_day().policies, "a1");
  ASSERT_TRUE(report.has_value());
  const Json good = Json::parse(report->json);
  ASSERT_EQ(schema_errors(good), std::vector<std::string>{});
  const auto errors_after = [&](auto&& change) {
    Json j = good;
    change(j);
    return schema_errors(j).size();
  };
  EXPECT_GT(errors_after([](Json& j) { j.erase("report-id"); }), 0u);
  EXPECT_GT(errors_after([](Json& j) { j["policies"] = Json::array(); }), 0u);
  EXPECT_GT(errors_after([](Json& j) { j["date-range"]["end-datetime"] = "2024-04-01 23:59:59"; }), 0u);
  EXPECT_GT(errors_after([](Json& j) { j["policies"][0]["policy"]["policy-type"] = "dane"; }), 0u);
  EXPECT_GT(errors_after([](Json& j) { j["policies"][0]["policy"].erase("policy-domain"); }), 0u);
  EXPECT_GT(errors_after([](Json& j) { j["policies"][0]["summary"]["total-failure-session-count"] = "3"; }), 0u);
  EXPECT_GT(errors_after([](Json& j) { j["policies"][0]["summary"]["total-failure-session-count"] = -1; }), 0u);
  EXPECT_GT(errors_after([](Json& j) { j["policies"][0]["failure-details"][0]["result-type"] = "expired"; }), 0u);
  EXPECT_GT(errors_after([](Json& j) { j["policies"][0]["failure-details"][0].erase("failed-session-count"); }), 0u);
  EXPECT_GT(errors_after([](Json& j) { j["policies"][0]["failure-details"][0]["failure-error-code"] = "x"; }), 0u);
  EXPECT_GT(errors_after([](Json& j) { j["policies"][0]["policy"]["mx-host"] = "*.example.net"; }), 0u);
}

TEST(ReportSchema, AcceptsAReportShapedLikeTheRfcExample) {
  // Our own report in the shape of RFC 8460 Appendix B (other fields, ids and numbers).
  const Json report = Json::parse(R"({
    "organization-name": "Other Sender Inc.",
    "date-range": {"start-datetime": "2019-06-01T00:00:00Z", "end-datetime": "2019-06-01T23:59:59Z"},
    "contact-info": "tls-reports@other.example",
    "report-id": "6c1c2a1e-8f0b-4a53-9d5e-0d2b1f1c9a77",
    "policies": [{
      "policy": {"policy-type": "sts",
                 "policy-string": ["version: STSv1", "mode: testing", "mx: *.mail.receiver.example", "max_age: 604800"],
                 "policy-domain": "receiver.example", "mx-host": ["*.mail.receiver.example"]},
      "summary": {"total-successful-session-count": 1200, "total-failure-session-count": 40},
      "failure-details": [
        {"result-type": "starttls-not-supported", "sending-mta-ip": "2001:db8:1::25",
         "receiving-mx-hostname": "mx3.mail.receiver.example", "receiving-ip": "203.0.113.25",
         "failed-session-count": 30, "additional-information": "https://other.example/tlsrpt/info?id=6c1c"},
        {"result-type": "validation-failure", "sending-mta-ip": "198.51.100.25", "receiving-ip": "203.0.113.26",
         "receiving-mx-hostname": "mx4.mail.receiver.example", "failed-session-count": 10,
         "failure-reason-code": "X509_V_ERR_CERT_CHAIN_TOO_LONG"}]
    }]
  })");
  EXPECT_EQ(schema_errors(report), std::vector<std::string>{});
}

TEST(ReportSchema, CheckerRejectsKeywordsItDoesNotImplement) {
  const Json schema = Json::parse(R"({"type": "object", "oneOf": [{"type": "object"}]})");
  EXPECT_EQ(test::JsonSchemaSubset::check(schema, Json::object()).size(), 1u);
}

}  // namespace tlsrpt_report_test
}  // namespace mtastsd::core

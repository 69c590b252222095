// libtlsrpt datagrams (protocol version 1) -> session events, and every way a
// datagram can be malformed.
#include "core/tlsrpt_datagram.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>

namespace mtastsd::core {
namespace tlsrpt_datagram_test {

using Json = nlohmann::json;

// The example datagram from the interface notes (one line, as libtlsrpt writes it).
constexpr std::string_view kExample =
    R"({"dpv": "1","d": "example.com","pr": "v=TLSRPTv1; rua=mailto:tlsrpt@example.com","policies":[{"policy-type":2,"policy-domain": "example.com","policy-string":["version: STSv1","mode: enforce"],"mx-host":["*.example.net"],"failure-details":[{"c":202,"s": "192.0.2.1","n": "mx1.example.net","h": "250-mx1.example.net\r\n250 STARTTLS","r": "198.51.100.7"}],"t":1,"f":1}]})";

Json example() { return Json::parse(kExample); }

std::vector<SessionEvent> parse_ok(const std::string& datagram) {
  auto r = parse_tlsrpt_datagram(datagram);
  EXPECT_TRUE(r.has_value()) << datagram << ": " << (r ? "" : r.error().detail);
  return r.value_or(std::vector<SessionEvent>{});
}

DatagramFailure parse_error(const std::string& datagram) {
  auto r = parse_tlsrpt_datagram(datagram);
  EXPECT_FALSE(r.has_value()) << datagram << " parsed";
  return r ? DatagramFailure{DatagramError::not_json, "parsed"} : r.error();
}

DatagramError error_of(const Json& datagram) { return parse_error(datagram.dump()).error; }

TEST(TlsRptDatagram, InterfaceNotesExample) {
  const auto events = parse_ok(std::string(kExample));
  ASSERT_EQ(events.size(), 1u);
  const SessionEvent& e = events[0];
  EXPECT_EQ(e.report_domain, "example.com");
  EXPECT_EQ(e.tlsrpt_record, "v=TLSRPTv1; rua=mailto:tlsrpt@example.com");
  EXPECT_EQ(e.policy.type, PolicyType::sts);
  EXPECT_EQ(e.policy.domain, "example.com");
  EXPECT_EQ(e.policy.strings, (std::vector<std::string>{"version: STSv1", "mode: enforce"}));
  EXPECT_EQ(e.policy.mx_hosts, std::vector<std::string>{"*.example.net"});
  EXPECT_TRUE(e.failed);
  ASSERT_EQ(e.failure_details.size(), 1u);
  const FailureDetail& d = e.failure_details[0];
  EXPECT_EQ(d.result_type, FailureType::certificate_host_mismatch);
  EXPECT_EQ(d.sending_mta_ip, "192.0.2.1");
  EXPECT_EQ(d.receiving_mx_hostname, "mx1.example.net");
  EXPECT_EQ(d.receiving_mx_helo, "250-mx1.example.net\r\n250 STARTTLS");
  EXPECT_EQ(d.receiving_ip, "198.51.100.7");
  EXPECT_EQ(d.additional_information, "");
  EXPECT_EQ(d.failure_reason_code, "");
  EXPECT_EQ(e.mx_hostname, "mx1.example.net");
}

TEST(TlsRptDatagram, SuccessfulNoPolicyFoundSession) {
  // What libtlsrpt sends for a successful session without policy: no optional members.
  const auto events = parse_ok(
      R"({"dpv": "1","d": "example.org","pr": "v=TLSRPTv1;rua=https://r.example.org/",)"
      R"("policies":[{"policy-type":9,"t":0,"f":0}]})");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].policy.type, PolicyType::no_policy_found);
  EXPECT_EQ(events[0].policy.domain, "example.org");  // defaults to the report domain
  EXPECT_TRUE(events[0].policy.strings.empty());
  EXPECT_TRUE(events[0].policy.mx_hosts.empty());
  EXPECT_FALSE(events[0].failed);
  EXPECT_TRUE(events[0].failure_details.empty());
  EXPECT_EQ(events[0].mx_hostname, "");
}

TEST(TlsRptDatagram, TlsaPolicyAndAllDetailFields) {
  Json j = example();
  j["policies"][0]["policy-type"] = 1;
  j["policies"][0]["failure-details"] = Json::array({{{"c", 304},
                                                      {"s", "2001:db8::1"},
                                                      {"n", "mx.example.net"},
                                                      {"h", "helo"},
                                                      {"r", "2001:db8::2"},
                                                      {"a", "https://info.example/x"},
                                                      {"f", "X509_V_ERR_CERT_HAS_EXPIRED"}},
                                                     {{"c", 306}}});
  j["policies"][0]["t"] = 2;
  const auto events = parse_ok(j.dump());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].policy.type, PolicyType::tlsa);
  ASSERT_EQ(events[0].failure_details.size(), 2u);
  EXPECT_EQ(events[0].failure_details[0],
            (FailureDetail{FailureType::tlsa_invalid, "2001:db8::1", "mx.example.net", "helo", "2001:db8::2",
                           "https://info.example/x", "X509_V_ERR_CERT_HAS_EXPIRED"}));
  EXPECT_EQ(events[0].failure_details[1], FailureDetail{FailureType::dane_required});
}

TEST(TlsRptDatagram, EveryPolicyEntryIsOneSession) {
  Json j = example();
  Json second = {{"policy-type", 9}, {"t", 0}, {"f", 0}};
  j["policies"].push_back(second);
  const auto events = parse_ok(j.dump());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].policy.type, PolicyType::sts);
  EXPECT_EQ(events[1].policy.type, PolicyType::no_policy_found);
  EXPECT_EQ(events[1].tlsrpt_record, events[0].tlsrpt_record);
}

TEST(TlsRptDatagram, DomainsAreNormalised) {
  Json j = example();
  j["d"] = "Example.COM.";
  j["policies"][0]["policy-domain"] = "MAIL.Example.com.";
  const auto events = parse_ok(j.dump());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].report_domain, "example.com");
  EXPECT_EQ(events[0].policy.domain, "mail.example.com");
}

TEST(TlsRptDatagram, UnknownMembersAreIgnored) {
  Json j = example();
  j["future"] = {1, 2};
  j["policies"][0]["x"] = "y";
  j["policies"][0]["failure-details"][0]["z"] = 1;
  EXPECT_EQ(parse_ok(j.dump()).size(), 1u);
}

TEST(TlsRptDatagram, EveryFailureCodeMaps) {
  const std::pair<int, FailureType> codes[] = {
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
  };
  for (const auto& [code, type] : codes) {
    Json j = example();
    j["policies"][0]["failure-details"][0]["c"] = code;
    const auto events = parse_ok(j.dump());
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].failure_details[0].result_type, type) << code;
  }
  EXPECT_FALSE(failure_code_to_type(200).has_value());
  EXPECT_FALSE(failure_code_to_type(901).has_value());  // libtlsrpt-internal
}

TEST(TlsRptDatagram, UnknownCodesAreRejected) {
  for (const int code : {0, 200, 206, 300, 307, 901}) {
    Json j = example();
    j["policies"][0]["failure-details"][0]["c"] = code;
    EXPECT_EQ(error_of(j), DatagramError::unknown_failure_code) << code;
  }
  for (const int type : {0, 3, 8, 10}) {
    Json j = example();
    j["policies"][0]["policy-type"] = type;
    EXPECT_EQ(error_of(j), DatagramError::unknown_policy_type) << type;
  }
}

TEST(TlsRptDatagram, VersionMustBeStringOne) {
  Json j = example();
  j["dpv"] = 1;
  EXPECT_EQ(error_of(j), DatagramError::bad_version);
  j["dpv"] = "2";
  EXPECT_EQ(error_of(j), DatagramError::bad_version);
}

// Debian 13's libtlsrpt0 0.5.0rc1, byte for byte as it sends a failed sts
// session (captured from the library; "dpv" came with 0.5.0).
TEST(TlsRptDatagram, WithoutVersionAsLibtlsrpt050rc1SendsIt) {
  const auto events = parse_tlsrpt_datagram(
      R"({"d": "example.com","pr": "v=TLSRPTv1; rua=mailto:r@example.com","policies":[{"policy-type":2,)"
      R"("policy-domain": "example.com","policy-string":["version: STSv1","mode: enforce"],"mx-host":["*.mx.example"],)"
      R"("failure-details":[{"c":202,"s": "192.0.2.1","n": "mx1.mx.example","h": "mx1.mx.example ESMTP",)"
      R"("r": "198.51.100.7","a": "https://sender.example/why","f": "hostname mismatch"}],"t":1,"f":1}]})");
  ASSERT_TRUE(events.has_value()) << events.error().detail;
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].report_domain, "example.com");
  EXPECT_TRUE((*events)[0].failed);
  ASSERT_EQ((*events)[0].failure_details.size(), 1u);
  EXPECT_EQ((*events)[0].failure_details[0].failure_reason_code, "hostname mismatch");
}

TEST(TlsRptDatagram, NotJson) {
  EXPECT_EQ(parse_error("").error, DatagramError::not_json);
  EXPECT_EQ(parse_error("{\"dpv\":\"1\"").error, DatagramError::not_json);
  EXPECT_EQ(parse_error("[1,2]").error, DatagramError::not_json);
  EXPECT_EQ(parse_error("\"dpv\"").error, DatagramError::not_json);
  EXPECT_EQ(parse_error("{\"dpv\":\"1\",\"d\":\"\xff\"}").error, DatagramError::not_json);  // invalid UTF-8
}

TEST(TlsRptDatagram, SizeCap) {
  Json j = example();
  j["padding"] = std::string(kMaxDatagramSize, 'x');
  const DatagramFailure f = parse_error(j.dump());
  EXPECT_EQ(f.error, DatagramError::too_large);

  // Just at the cap is fine.
  Json k = example();
  k["padding"] = "";
  const std::size_t room = kMaxDatagramSize - k.dump().size();
  k["padding"] = std::string(room, 'x');
  ASSERT_EQ(k.dump().size(), kMaxDatagramSize);
  EXPECT_EQ(parse_ok(k.dump()).size(), 1u);
}

TEST(TlsRptDatagram, MissingRequiredMembers) {
  for (const char* key : {"d", "pr", "policies"}) {
    Json j = example();
    j.erase(key);
    EXPECT_EQ(error_of(j), DatagramError::missing_member) << key;
  }
  for (const char* key : {"policy-type", "t", "f"}) {
    Json j = example();
    j["policies"][0].erase(key);
    EXPECT_EQ(error_of(j), DatagramError::missing_member) << key;
  }
  Json j = example();
  j["policies"][0]["failure-details"][0].erase("c");
  const DatagramFailure f = parse_error(j.dump());
  EXPECT_EQ(f.error, DatagramError::missing_member);
  EXPECT_EQ(f.detail, "missing policies[0].failure-details[0].c");
}

TEST(TlsRptDatagram, WrongTypes) {
  const auto with = [](auto&& change) {
    Json j = example();
    change(j);
    return error_of(j);
  };
  EXPECT_EQ(with([](Json& j) { j["d"] = 5; }), DatagramError::wrong_type);
  EXPECT_EQ(with([](Json& j) { j["pr"] = nullptr; }), DatagramError::wrong_type);
  EXPECT_EQ(with([](Json& j) { j["policies"] = Json::object(); }), DatagramError::wrong_type);
  EXPECT_EQ(with([](Json& j) { j["policies"][0] = 2; }), DatagramError::wrong_type);
  EXPECT_EQ(with([](Json& j) { j["policies"][0]["policy-type"] = "2"; }), DatagramError::wrong_type);
  EXPECT_EQ(with([](Json& j) { j["policies"][0]["policy-type"] = 2.0; }), DatagramError::wrong_type);
  EXPECT_EQ(with([](Json& j) { j["policies"][0]["policy-domain"] = true; }), DatagramError::wrong_type);
  EXPECT_EQ(with([](Json& j) { j["policies"][0]["policy-string"] = "version: STSv1"; }), DatagramError::wrong_type);
  EXPECT_EQ(with([](Json& j) { j["policies"][0]["mx-host"] = {1}; }), DatagramError::wrong_type);
  EXPECT_EQ(with([](Json& j) { j["policies"][0]["failure-details"] = Json::object(); }), DatagramError::wrong_type);
  EXPECT_EQ(with([](Json& j) { j["policies"][0]["failure-details"][0] = "x"; }), DatagramError::wrong_type);
  EXPECT_EQ(with([](Json& j) { j["policies"][0]["failure-details"][0]["c"] = "202"; }), DatagramError::wrong_type);
  for (const char* key : {"s", "n", "h", "r", "a", "f"})
    EXPECT_EQ(with([&](Json& j) { j["policies"][0]["failure-details"][0][key] = 1; }), DatagramError::wrong_type)
        << key;
  EXPECT_EQ(with([](Json& j) { j["policies"][0]["t"] = "1"; }), DatagramError::wrong_type);
  EXPECT_EQ(with([](Json& j) { j["policies"][0]["f"] = true; }), DatagramError::wrong_type);
}

TEST(TlsRptDatagram, BadValues) {
  const auto with = [](auto&& change) {
    Json j = example();
    change(j);
    return error_of(j);
  };
  EXPECT_EQ(with([](Json& j) { j["d"] = ""; }), DatagramError::bad_value);
  EXPECT_EQ(with([](Json& j) { j["d"] = "not a domain"; }), DatagramError::bad_value);
  EXPECT_EQ(with([](Json& j) { j["d"] = "192.0.2.1"; }), DatagramError::bad_value);
  EXPECT_EQ(with([](Json& j) { j["policies"][0]["policy-domain"] = "a/b"; }), DatagramError::bad_value);
  EXPECT_EQ(with([](Json& j) { j["policies"] = Json::array(); }), DatagramError::bad_value);
  EXPECT_EQ(with([](Json& j) { j["policies"][0]["f"] = 2; }), DatagramError::bad_value);
  EXPECT_EQ(with([](Json& j) { j["policies"][0]["f"] = -1; }), DatagramError::bad_value);
  EXPECT_EQ(with([](Json& j) { j["policies"][0]["t"] = 18446744073709551615ull; }), DatagramError::bad_value);
}

TEST(TlsRptDatagram, CountMustMatchTheDetails) {
  Json j = example();
  j["policies"][0]["t"] = 2;
  EXPECT_EQ(error_of(j), DatagramError::count_mismatch);
  j["policies"][0]["t"] = -1;
  EXPECT_EQ(error_of(j), DatagramError::count_mismatch);
  j["policies"][0].erase("failure-details");
  j["policies"][0]["t"] = 1;
  EXPECT_EQ(error_of(j), DatagramError::count_mismatch);
  j["policies"][0]["t"] = 0;
  EXPECT_EQ(parse_ok(j.dump()).size(), 1u);
}

TEST(TlsRptDatagram, OneBadPolicyRejectsTheWholeDatagram) {
  Json j = example();
  j["policies"].push_back({{"policy-type", 7}, {"t", 0}, {"f", 0}});
  const DatagramFailure f = parse_error(j.dump());
  EXPECT_EQ(f.error, DatagramError::unknown_policy_type);
  EXPECT_EQ(f.detail, "policies[1].policy-type = 7");
}

TEST(TlsRptDatagram, ErrorDetailsArePrintableAndShort) {
  const DatagramFailure f = parse_error(std::string("\x01\x02garbage ") + std::string(500, 'x'));
  EXPECT_EQ(f.error, DatagramError::not_json);
  EXPECT_LE(f.detail.size(), 63u);
  EXPECT_EQ(f.detail.find('\x01'), std::string::npos);
}

}  // namespace tlsrpt_datagram_test
}  // namespace mtastsd::core

// The DANE decision (RFC 7672 sec. 2.2, 3.1): which TLSA records are usable, which
// hosts are checked, and the verdict for every combination of MX and TLSA answers.
#include "core/dane.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mtastsd::core {
namespace dane_test {

using testing::ElementsAre;
using testing::HasSubstr;
using util::Seconds;

const std::string kSha256(64, 'a');   // 32 octets
const std::string kSha512(128, 'b');  // 64 octets

std::string tlsa(int usage, int selector, int mtype, const std::string& hex) {
  return std::to_string(usage) + " " + std::to_string(selector) + " " + std::to_string(mtype) + " " + hex;
}

// ---------------------------------------------------------------- tlsa_usable

TEST(TlsaUsable, DaneTaAndDaneEeWithEverySelectorAndMatchingType) {
  for (int usage : {2, 3}) {
    for (int selector : {0, 1}) {
      EXPECT_TRUE(tlsa_usable(tlsa(usage, selector, 0, "3082010a"))) << usage << selector;
      EXPECT_TRUE(tlsa_usable(tlsa(usage, selector, 1, kSha256))) << usage << selector;
      EXPECT_TRUE(tlsa_usable(tlsa(usage, selector, 2, kSha512))) << usage << selector;
    }
  }
}

TEST(TlsaUsable, PkixUsagesAreUnusableForSmtp) {  // RFC 7672 sec. 3.1.3
  EXPECT_FALSE(tlsa_usable(tlsa(0, 0, 1, kSha256)));
  EXPECT_FALSE(tlsa_usable(tlsa(1, 1, 1, kSha256)));
  EXPECT_FALSE(tlsa_usable(tlsa(4, 1, 1, kSha256)));
  EXPECT_FALSE(tlsa_usable(tlsa(255, 1, 1, kSha256)));
}

TEST(TlsaUsable, UnknownSelectorOrMatchingType) {
  EXPECT_FALSE(tlsa_usable(tlsa(3, 2, 1, kSha256)));
  EXPECT_FALSE(tlsa_usable(tlsa(3, 1, 3, kSha256)));
  EXPECT_FALSE(tlsa_usable(tlsa(3, 1, 255, kSha256)));
}

TEST(TlsaUsable, DigestLengthMustFitTheMatchingType) {
  EXPECT_FALSE(tlsa_usable(tlsa(3, 1, 1, kSha256 + "aa")));
  EXPECT_FALSE(tlsa_usable(tlsa(3, 1, 1, kSha256.substr(2))));
  EXPECT_FALSE(tlsa_usable(tlsa(3, 1, 1, kSha512)));
  EXPECT_FALSE(tlsa_usable(tlsa(3, 1, 2, kSha256)));
  EXPECT_FALSE(tlsa_usable(tlsa(3, 1, 2, kSha512.substr(2))));
}

TEST(TlsaUsable, MalformedText) {
  EXPECT_FALSE(tlsa_usable(""));
  EXPECT_FALSE(tlsa_usable("3 1 1"));
  EXPECT_FALSE(tlsa_usable("3 1 1 " + kSha256 + " extra"));
  EXPECT_FALSE(tlsa_usable("3 1 0 abc"));         // odd number of hex digits
  EXPECT_FALSE(tlsa_usable("3 1 0 zz"));          // not hex
  EXPECT_FALSE(tlsa_usable("3 1 0 0x00"));
  EXPECT_FALSE(tlsa_usable("x 1 1 " + kSha256));  // usage not a number
  EXPECT_FALSE(tlsa_usable("3 -1 1 " + kSha256));
  EXPECT_FALSE(tlsa_usable("259 1 1 " + kSha256));  // 3 modulo 256 must not pass
  EXPECT_TRUE(tlsa_usable("3 1 1 " + std::string(64, 'F')));  // either case of hex
  EXPECT_TRUE(tlsa_usable("  3  1 1 " + kSha256 + " "));      // runs of spaces
}

// ------------------------------------------------------------ DNS answers used

DaneDnsAnswer mx(std::vector<std::string> hosts, bool secure = true, Seconds ttl = Seconds(300)) {
  return {DaneDnsStatus::records, secure, std::move(hosts), ttl, ""};
}
DaneDnsAnswer negative(DaneDnsStatus status, bool secure = true, Seconds ttl = Seconds(120)) {
  return {status, secure, {}, ttl, ""};
}
DaneDnsAnswer failed(std::string detail = "servfail (SERVFAIL)") {
  return {DaneDnsStatus::failed, false, {}, Seconds(0), std::move(detail)};
}
DaneDnsAnswer bogus() { return {DaneDnsStatus::bogus, false, {}, Seconds(0), "signature crypto failed"}; }
DaneDnsAnswer usable(Seconds ttl = Seconds(600), bool secure = true) {
  return {DaneDnsStatus::records, secure, {tlsa(3, 1, 1, kSha256)}, ttl, ""};
}
DaneDnsAnswer unusable() { return {DaneDnsStatus::records, true, {tlsa(1, 1, 1, kSha256)}, Seconds(600), ""}; }

// ------------------------------------------------------------ dane_candidates

TEST(DaneCandidates, MxHostsInOrderWithoutDuplicates) {
  const auto c = dane_candidates("example.com", mx({"mx1.example.com", "mx2.example.net", "mx1.example.com"}));
  ASSERT_TRUE(c.has_value());
  EXPECT_THAT(c->hosts, ElementsAre("mx1.example.com", "mx2.example.net"));
  EXPECT_FALSE(c->truncated);
}

TEST(DaneCandidates, SecureNodataMeansTheImplicitMx) {  // RFC 5321 sec. 5.1
  const auto c = dane_candidates("example.com", negative(DaneDnsStatus::nodata));
  ASSERT_TRUE(c.has_value());
  EXPECT_THAT(c->hosts, ElementsAre("example.com"));
}

TEST(DaneCandidates, AtMostTenHosts) {
  std::vector<std::string> hosts;
  for (int i = 0; i < 12; ++i) hosts.push_back("mx" + std::to_string(i) + ".example.com");
  const auto c = dane_candidates("example.com", mx(hosts));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->hosts.size(), kMaxDaneHosts);
  EXPECT_EQ(c->hosts.back(), "mx9.example.com");
  EXPECT_TRUE(c->truncated);

  hosts.resize(kMaxDaneHosts);
  EXPECT_FALSE(dane_candidates("example.com", mx(hosts))->truncated);
}

TEST(DaneCandidates, NoneWhenTheMxAnswerDecides) {
  EXPECT_FALSE(dane_candidates("example.com", failed()).has_value());
  EXPECT_FALSE(dane_candidates("example.com", bogus()).has_value());
  EXPECT_FALSE(dane_candidates("example.com", mx({"mx.example.com"}, false)).has_value());
  EXPECT_FALSE(dane_candidates("example.com", negative(DaneDnsStatus::nodata, false)).has_value());
  EXPECT_FALSE(dane_candidates("example.com", negative(DaneDnsStatus::nxdomain)).has_value());
  EXPECT_FALSE(dane_candidates("example.com", mx({"."})).has_value());
}

// ---------------------------------------------------------------- decide_dane

TEST(DecideDane, EveryHostWithUsableTlsaIsDaneOnly) {
  const auto d = decide_dane("example.com", mx({"mx1.example.com", "mx2.example.com"}),
                             {{"mx1.example.com", usable()}, {"mx2.example.com", usable()}});
  EXPECT_EQ(d.verdict, DaneVerdict::dane_only);
  EXPECT_EQ(d.reason, "all 2 MX hosts have usable TLSA records");
  EXPECT_THAT(d.hosts, ElementsAre(DaneHost{"mx1.example.com", true}, DaneHost{"mx2.example.com", true}));
}

TEST(DecideDane, SomeHostsWithUsableTlsaIsDane) {
  const auto d = decide_dane("example.com", mx({"mx1.example.com", "mx2.example.com"}),
                             {{"mx1.example.com", negative(DaneDnsStatus::nxdomain)}, {"mx2.example.com", usable()}});
  EXPECT_EQ(d.verdict, DaneVerdict::dane);
  EXPECT_EQ(d.reason, "1 of 2 MX hosts have usable TLSA records");
  EXPECT_THAT(d.hosts, ElementsAre(DaneHost{"mx1.example.com", false}, DaneHost{"mx2.example.com", true}));
}

TEST(DecideDane, ImplicitMxWithUsableTlsa) {
  const auto d = decide_dane("example.com", negative(DaneDnsStatus::nodata), {{"example.com", usable()}});
  EXPECT_EQ(d.verdict, DaneVerdict::dane_only);
  EXPECT_THAT(d.reason, HasSubstr("implicit MX"));
  EXPECT_THAT(d.hosts, ElementsAre(DaneHost{"example.com", true}));
}

TEST(DecideDane, HostsWithoutUsableTlsaCountAsNoDane) {
  // Insecure TLSA (unsigned zone), secure NODATA/NXDOMAIN, and only unusable records.
  for (const DaneDnsAnswer& answer : {usable(Seconds(600), false), negative(DaneDnsStatus::nodata),
                                      negative(DaneDnsStatus::nxdomain), unusable()}) {
    const auto d = decide_dane("example.com", mx({"mx.example.com"}), {{"mx.example.com", answer}});
    EXPECT_EQ(d.verdict, DaneVerdict::not_applicable);
    EXPECT_EQ(d.reason, "no MX host has usable TLSA records");
    EXPECT_THAT(d.hosts, ElementsAre(DaneHost{"mx.example.com", false}));
  }
}

TEST(DecideDane, MoreThanTenHostsIsNeverDaneOnly) {
  std::vector<std::string> hosts;
  std::vector<HostTlsa> answers;
  for (int i = 0; i < 11; ++i) {
    hosts.push_back("mx" + std::to_string(i) + ".example.com");
    answers.push_back({hosts.back(), usable()});
  }
  const auto d = decide_dane("example.com", mx(hosts), answers);
  EXPECT_EQ(d.verdict, DaneVerdict::dane);  // the eleventh host was not checked
  EXPECT_EQ(d.reason, "10 of the first 10 MX hosts have usable TLSA records");
  EXPECT_EQ(d.hosts.size(), kMaxDaneHosts);
}

TEST(DecideDane, MxLookupFailureOrBogusIsTempError) {
  auto d = decide_dane("example.com", failed("timeout (no answer before the deadline)"), {});
  EXPECT_EQ(d.verdict, DaneVerdict::temp_error);
  EXPECT_EQ(d.reason, "MX lookup failed");
  EXPECT_EQ(d.detail, "timeout (no answer before the deadline)");
  EXPECT_FALSE(d.ttl.has_value());
  d = decide_dane("example.com", bogus(), {});
  EXPECT_EQ(d.verdict, DaneVerdict::temp_error);
  EXPECT_EQ(d.reason, "MX records are DNSSEC-bogus");
  EXPECT_EQ(d.detail, "signature crypto failed");
}

TEST(DecideDane, InsecureMxIsNotApplicable) {
  const auto d = decide_dane("example.com", mx({"mx.example.com"}, false, Seconds(30)),
                             {{"mx.example.com", usable()}});
  EXPECT_EQ(d.verdict, DaneVerdict::not_applicable);
  EXPECT_EQ(d.reason, "MX records are not DNSSEC-signed");
  EXPECT_TRUE(d.hosts.empty());
  EXPECT_EQ(d.ttl, Seconds(30));
  EXPECT_EQ(decide_dane("example.com", negative(DaneDnsStatus::nodata, false), {{"example.com", usable()}}).verdict,
            DaneVerdict::not_applicable);
}

TEST(DecideDane, SecureNxdomainAndNullMxAreNotApplicable) {
  auto d = decide_dane("example.com", negative(DaneDnsStatus::nxdomain), {});
  EXPECT_EQ(d.verdict, DaneVerdict::not_applicable);
  EXPECT_EQ(d.reason, "the domain does not exist");
  d = decide_dane("example.com", mx({"."}), {});  // RFC 7505
  EXPECT_EQ(d.verdict, DaneVerdict::not_applicable);
  EXPECT_THAT(d.reason, HasSubstr("null MX"));
  // "." among real hosts is skipped, not taken as a null MX.
  d = decide_dane("example.com", mx({".", "mx.example.com"}), {{"mx.example.com", usable()}});
  EXPECT_EQ(d.verdict, DaneVerdict::dane_only);
}

TEST(DecideDane, FailedTlsaLookupWithoutAnyDaneHostIsTempError) {
  auto d = decide_dane("example.com", mx({"mx1.example.com", "mx2.example.com"}),
                       {{"mx1.example.com", negative(DaneDnsStatus::nodata)}, {"mx2.example.com", failed()}});
  EXPECT_EQ(d.verdict, DaneVerdict::temp_error);
  EXPECT_EQ(d.reason, "TLSA lookup for mx2.example.com failed");
  EXPECT_EQ(d.detail, "servfail (SERVFAIL)");
  EXPECT_FALSE(d.ttl.has_value());
  EXPECT_THAT(d.hosts, ElementsAre(DaneHost{"mx1.example.com", false}, DaneHost{"mx2.example.com", false}));

  d = decide_dane("example.com", mx({"mx.example.com"}), {{"mx.example.com", bogus()}});
  EXPECT_EQ(d.verdict, DaneVerdict::temp_error);
  EXPECT_EQ(d.reason, "TLSA records of mx.example.com are DNSSEC-bogus");
}

TEST(DecideDane, FailedTlsaLookupBesideADaneHostIsDane) {
  // Postfix, at level dane, looks the failed host's TLSA records up again itself.
  const auto d = decide_dane("example.com", mx({"mx1.example.com", "mx2.example.com"}),
                             {{"mx1.example.com", usable()}, {"mx2.example.com", bogus()}});
  EXPECT_EQ(d.verdict, DaneVerdict::dane);
  EXPECT_THAT(d.hosts, ElementsAre(DaneHost{"mx1.example.com", true}, DaneHost{"mx2.example.com", false}));
}

TEST(DecideDane, MissingTlsaAnswerCountsAsFailed) {
  const auto d = decide_dane("example.com", mx({"mx.example.com"}), {{"other.example.com", usable()}});
  EXPECT_EQ(d.verdict, DaneVerdict::temp_error);
  EXPECT_EQ(d.detail, "no TLSA answer");
}

TEST(DecideDane, TtlIsTheLowestOfTheAnswersUsed) {
  auto d = decide_dane("example.com", mx({"mx1.example.com", "mx2.example.com"}, true, Seconds(300)),
                       {{"mx1.example.com", usable(Seconds(900))}, {"mx2.example.com", usable(Seconds(45))}});
  EXPECT_EQ(d.ttl, Seconds(45));
  d = decide_dane("example.com", mx({"mx.example.com"}, true, Seconds(20)), {{"mx.example.com", usable()}});
  EXPECT_EQ(d.ttl, Seconds(20));
  d = decide_dane("example.com", mx({"mx.example.com"}, true, Seconds(300)),
                  {{"mx.example.com", negative(DaneDnsStatus::nodata, true, Seconds(7))}});
  EXPECT_EQ(d.ttl, Seconds(7));  // a negative answer's TTL counts too
  // A failed host's lookup has no TTL to give.
  d = decide_dane("example.com", mx({"mx1.example.com", "mx2.example.com"}, true, Seconds(300)),
                  {{"mx1.example.com", usable(Seconds(100))}, {"mx2.example.com", failed()}});
  EXPECT_EQ(d.ttl, Seconds(100));
}

TEST(DaneVerdictNames, RoundTrip) {
  for (DaneVerdict v :
       {DaneVerdict::not_applicable, DaneVerdict::dane, DaneVerdict::dane_only, DaneVerdict::temp_error})
    EXPECT_EQ(dane_verdict_from_string(to_string(v)), v);
  EXPECT_FALSE(dane_verdict_from_string("dane-only").has_value());
}

TEST(DaneReply, PostfixLevelsTempOrNothing) {
  EXPECT_EQ(encode_reply(*dane_reply(DaneVerdict::dane_only, "x")), "OK dane-only");
  EXPECT_EQ(encode_reply(*dane_reply(DaneVerdict::dane, "x")), "OK dane");
  EXPECT_EQ(encode_reply(*dane_reply(DaneVerdict::temp_error, "MX lookup failed")), "TEMP DANE: MX lookup failed");
  EXPECT_FALSE(dane_reply(DaneVerdict::not_applicable, "x").has_value());
}

}  // namespace dane_test
}  // namespace mtastsd::core

// The findings of `mtastsctl check` (core/setup_check): each rule's severity, code and
// the guide's failure mode, and the facts its text names.
#include "core/setup_check.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mtastsd::core {
namespace setup_check_test {

using Status = TxtLookup::Status;
const util::TimePoint kNow = util::from_unix(1'800'000'000);
constexpr util::Seconds kDay{86400};

// The one finding that is not ok (fails the test when there is none or several).
Finding only_problem(const std::vector<Finding>& findings) {
  std::vector<Finding> problems;
  for (const auto& f : findings)
    if (f.severity == Severity::warning || f.severity == Severity::failure) problems.push_back(f);
  EXPECT_EQ(problems.size(), 1u);
  return problems.empty() ? Finding{} : problems.front();
}

std::vector<std::string> codes(const std::vector<Finding>& findings) {
  std::vector<std::string> out;
  for (const auto& f : findings) out.push_back(f.code);
  return out;
}

bool has_text(const Finding& f, std::string_view part) { return f.text.find(part) != std::string::npos; }

// ---- severity ----

TEST(SetupCheckSeverity, WorstOfTheFindings) {
  EXPECT_EQ(worst({}), Severity::ok);
  EXPECT_EQ(worst({not_checked(CheckArea::mx_tls, "why")}), Severity::skipped);
  std::vector<Finding> f{{CheckArea::mx, Severity::warning}, {CheckArea::dane, Severity::ok}};
  EXPECT_EQ(worst(f), Severity::warning);
  f.push_back({CheckArea::policy, Severity::failure});
  EXPECT_EQ(worst(f), Severity::failure);
}

TEST(SetupCheckSeverity, FailureModesHaveStableNamesAndTheGuidesTitles) {
  EXPECT_EQ(to_string(FailureMode::wrong_content_type), "wrong-content-type");
  EXPECT_EQ(title(FailureMode::policy_redirect), "HTTP redirect on the policy URL");
  EXPECT_EQ(title(FailureMode::id_not_updated), "id not updated after policy change");
}

// ---- certificate names (RFC 6125 sec. 6.4.3) ----

TEST(CertificateCovers, ExactAndOneLabelWildcard) {
  CertificateFacts c{.names = {"MTA-STS.Example.com", "*.mx.example.com"}};
  EXPECT_TRUE(certificate_covers(c, "mta-sts.example.com"));
  EXPECT_TRUE(certificate_covers(c, "a.mx.example.com"));
  EXPECT_FALSE(certificate_covers(c, "a.b.mx.example.com"));
  EXPECT_FALSE(certificate_covers(c, "mx.example.com"));
  EXPECT_FALSE(certificate_covers(c, "example.com"));
  EXPECT_FALSE(certificate_covers(CertificateFacts{.names = {"m*.example.com"}}, "mx.example.com"));
  EXPECT_FALSE(certificate_covers(CertificateFacts{}, "mx.example.com"));
}

// ---- _mta-sts ----

TEST(JudgeStsRecord, OneValidRecordIsOkAndNamesTheId) {
  auto f = judge_sts_record("example.com", {Status::records, {"v=spf1 -all", "v=STSv1; id=2026a;"}, ""});
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::ok);
  EXPECT_EQ(f[0].code, "sts-record");
  EXPECT_TRUE(has_text(f[0], "2026a"));
  EXPECT_EQ(f[0].subject, "_mta-sts.example.com");
}

TEST(JudgeStsRecord, MissingRecordFails) {
  EXPECT_EQ(only_problem(judge_sts_record("example.com", {Status::absent, {}, "NXDOMAIN"})).code,
            "sts-record-missing");
  const Finding other = only_problem(judge_sts_record("example.com", {Status::records, {"v=STSv10; id=x"}, ""}));
  EXPECT_EQ(other.code, "sts-record-missing");
  EXPECT_EQ(other.severity, Severity::failure);
}

TEST(JudgeStsRecord, DnsErrorFails) {
  const Finding f = only_problem(judge_sts_record("example.com", {Status::dns_error, {}, "servfail: x"}));
  EXPECT_EQ(f.code, "sts-record-dns-error");
  EXPECT_TRUE(has_text(f, "servfail"));
}

TEST(JudgeStsRecord, SeveralRecordsFail) {
  const Finding f =
      only_problem(judge_sts_record("example.com", {Status::records, {"v=STSv1; id=a", "v=STSv1; id=b"}, ""}));
  EXPECT_EQ(f.code, "sts-record-multiple");
  EXPECT_EQ(f.severity, Severity::failure);
  EXPECT_TRUE(has_text(f, "id=a") && has_text(f, "id=b"));
}

TEST(JudgeStsRecord, InvalidRecordFailsAndSaysWhy) {
  const Finding bad_id = only_problem(judge_sts_record("example.com", {Status::records, {"v=STSv1; id=bad_id!;"}, ""}));
  EXPECT_EQ(bad_id.code, "sts-record-invalid");
  EXPECT_TRUE(has_text(bad_id, "1 to 32 letters and digits"));
  const Finding no_id = only_problem(judge_sts_record("example.com", {Status::records, {"v=STSv1; x=1"}, ""}));
  EXPECT_TRUE(has_text(no_id, "no id"));
}

// ---- the fetch ----

CertificateFacts good_certificate(std::string name = "mta-sts.example.com") {
  return CertificateFacts{.subject = "CN=" + name,
                          .issuer = "CN=Test CA",
                          .names = {std::move(name)},
                          .not_before = kNow - 10 * kDay,
                          .not_after = kNow + 60 * kDay};
}

PolicyFetchFacts fetched(std::string body = "version: STSv1\n") {
  return PolicyFetchFacts{.host = "mta-sts.example.com",
                          .body = std::move(body),
                          .certificate = good_certificate(),
                          .tls_version = "TLS 1.3",
                          .http_status = 200,
                          .content_type = "text/plain"};
}

PolicyFetchFacts failed(FailureType type, std::string detail) {
  PolicyFetchFacts f = fetched();
  f.body = std::unexpected(FetchFailed{type, std::move(detail)});
  return f;
}

TEST(JudgePolicyFetch, SuccessIsOkAndDescribesTheCertificate) {
  auto f = judge_policy_fetch(fetched(), kNow);
  EXPECT_EQ(codes(f), (std::vector<std::string>{"certificate", "policy-fetch"}));
  EXPECT_EQ(worst(f), Severity::ok);
  EXPECT_TRUE(has_text(f[0], "60 days") && has_text(f[0], "(mta-sts.example.com)"));
  EXPECT_TRUE(has_text(f[1], "TLS 1.3") && has_text(f[1], "15 bytes"));
}

TEST(JudgePolicyFetch, RedirectIsTheGuidesFailureMode) {
  PolicyFetchFacts facts = failed(FailureType::sts_policy_fetch_error, "HTTP status 301: redirect");
  facts.http_status = 301;
  facts.location = "https://www.example.com/mta-sts.txt";
  const Finding f = only_problem(judge_policy_fetch(facts, kNow));
  EXPECT_EQ(f.code, "redirect");
  EXPECT_EQ(f.failure_mode, FailureMode::policy_redirect);
  EXPECT_TRUE(has_text(f, "301") && has_text(f, "https://www.example.com/mta-sts.txt"));
}

TEST(JudgePolicyFetch, OtherStatusFailsWithoutAFailureMode) {
  PolicyFetchFacts facts = failed(FailureType::sts_policy_fetch_error, "HTTP status 404");
  facts.http_status = 404;
  const Finding f = only_problem(judge_policy_fetch(facts, kNow));
  EXPECT_EQ(f.code, "http-status");
  EXPECT_FALSE(f.failure_mode.has_value());
}

TEST(JudgePolicyFetch, WrongContentTypeIsTheGuidesFailureMode) {
  PolicyFetchFacts facts = failed(FailureType::sts_policy_invalid, "Content-Type text/html is not text/plain");
  facts.content_type = "application/octet-stream";
  const Finding f = only_problem(judge_policy_fetch(facts, kNow));
  EXPECT_EQ(f.code, "content-type");
  EXPECT_EQ(f.failure_mode, FailureMode::wrong_content_type);
  EXPECT_TRUE(has_text(f, "application/octet-stream"));
  facts.content_type = "";
  EXPECT_TRUE(has_text(only_problem(judge_policy_fetch(facts, kNow)), "without a Content-Type"));
}

TEST(JudgePolicyFetch, BodyProblemOnA200) {
  const Finding f =
      only_problem(judge_policy_fetch(failed(FailureType::sts_policy_fetch_error, "body exceeds 65536 bytes"), kNow));
  EXPECT_EQ(f.code, "policy-body");
  EXPECT_TRUE(has_text(f, "65536"));
}

TEST(JudgePolicyFetch, CertificateNotCoveringThePolicyHostIsTheGuidesFailureMode) {
  PolicyFetchFacts facts = failed(FailureType::sts_webpki_invalid, "hostname mismatch");
  facts.http_status.reset();
  facts.certificate = good_certificate("*.example.net");
  facts.certificate->verification = FailureType::certificate_host_mismatch;
  const Finding f = only_problem(judge_policy_fetch(facts, kNow));
  EXPECT_EQ(f.code, "certificate-name");
  EXPECT_EQ(f.failure_mode, FailureMode::certificate_not_covering_host);
  EXPECT_TRUE(has_text(f, "*.example.net") && has_text(f, "one label"));
}

TEST(JudgePolicyFetch, WildcardOneLevelUpCoversThePolicyHost) {
  PolicyFetchFacts facts = fetched();
  facts.certificate = good_certificate("*.example.com");
  facts.certificate->names.insert(facts.certificate->names.begin(), "www.example.com");
  auto f = judge_policy_fetch(facts, kNow);
  EXPECT_EQ(worst(f), Severity::ok);
  EXPECT_TRUE(has_text(f[0], "names it (*.example.com)")) << f[0].text;
}

TEST(JudgePolicyFetch, ALongNameListIsShortened) {
  PolicyFetchFacts facts = failed(FailureType::sts_webpki_invalid, "hostname mismatch");
  facts.http_status.reset();
  facts.certificate->names = {"a.example.net", "b.example.net", "c.example.net", "d.example.net", "e.example.net",
                              "f.example.net", "g.example.net"};
  const Finding f = only_problem(judge_policy_fetch(facts, kNow));
  EXPECT_TRUE(has_text(f, "e.example.net, and 2 more")) << f.text;
  EXPECT_FALSE(has_text(f, "f.example.net"));
}

TEST(JudgePolicyFetch, ExpiredCertificateIsOneFinding) {
  PolicyFetchFacts facts = failed(FailureType::sts_webpki_invalid, "certificate has expired");
  facts.http_status.reset();
  facts.certificate->not_after = kNow - kDay;
  facts.certificate->verification = FailureType::certificate_expired;
  EXPECT_EQ(codes(judge_policy_fetch(facts, kNow)), std::vector<std::string>{"certificate-expired"});
}

TEST(JudgePolicyFetch, NotYetValidCertificate) {
  PolicyFetchFacts facts = failed(FailureType::sts_webpki_invalid, "certificate is not yet valid");
  facts.http_status.reset();
  facts.certificate->not_before = kNow + kDay;
  facts.certificate->verification = FailureType::certificate_expired;
  EXPECT_EQ(codes(judge_policy_fetch(facts, kNow)), std::vector<std::string>{"certificate-not-yet-valid"});
}

TEST(JudgePolicyFetch, CertificateExpiringSoonWarns) {
  PolicyFetchFacts facts = fetched();
  facts.certificate->not_after = kNow + kCertificateRenewalWarning - util::Seconds(1);
  const Finding f = only_problem(judge_policy_fetch(facts, kNow));
  EXPECT_EQ(f.code, "certificate-expires-soon");
  EXPECT_EQ(f.severity, Severity::warning);
  facts.certificate->not_after = kNow + kCertificateRenewalWarning;
  EXPECT_EQ(worst(judge_policy_fetch(facts, kNow)), Severity::ok);
}

TEST(JudgePolicyFetch, UntrustedChainBehindAWrongNameShowsBoth) {
  PolicyFetchFacts facts = failed(FailureType::sts_webpki_invalid, "unable to get local issuer certificate");
  facts.http_status.reset();
  facts.certificate = good_certificate("other.example.org");
  facts.certificate->verification = FailureType::certificate_not_trusted;
  facts.certificate->verification_detail = "unable to get local issuer certificate";
  EXPECT_EQ(codes(judge_policy_fetch(facts, kNow)),
            (std::vector<std::string>{"certificate-name", "certificate-untrusted"}));
}

TEST(JudgePolicyFetch, VerificationFailureTheFactsDoNotExplainIsShown) {
  PolicyFetchFacts facts = failed(FailureType::sts_webpki_invalid, "x");
  facts.http_status.reset();
  facts.certificate->verification = FailureType::validation_failure;
  facts.certificate->verification_detail = "unsupported certificate purpose";
  const Finding f = only_problem(judge_policy_fetch(facts, kNow));
  EXPECT_EQ(f.code, "certificate-invalid");
  EXPECT_TRUE(has_text(f, "unsupported certificate purpose"));
}

TEST(JudgePolicyFetch, TlsFailureWithoutACertificate) {
  PolicyFetchFacts facts = failed(FailureType::sts_webpki_invalid, "offers no TLS 1.2 or later");
  facts.http_status.reset();
  facts.certificate.reset();
  EXPECT_EQ(only_problem(judge_policy_fetch(facts, kNow)).code, "tls");
}

TEST(JudgePolicyFetch, UnreachableHost) {
  PolicyFetchFacts facts = failed(FailureType::sts_policy_fetch_error, "no A or AAAA record for mta-sts.example.com");
  facts.http_status.reset();
  facts.certificate.reset();
  const Finding f = only_problem(judge_policy_fetch(facts, kNow));
  EXPECT_EQ(f.code, "policy-unreachable");
  EXPECT_TRUE(has_text(f, "no A or AAAA record"));
}

// ---- the policy ----

std::string policy_text(std::string mode = "enforce", std::string max_age = "604800", std::string extra = "") {
  return "version: STSv1\nmode: " + mode + "\nmx: mail.example.com\nmx: *.mx.example.com\nmax_age: " + max_age +
         "\n" + extra;
}

TEST(JudgePolicy, EnforceAndTestingAreOk) {
  auto enforce = judge_policy(policy_text());
  ASSERT_TRUE(enforce.policy.has_value());
  EXPECT_EQ(codes(enforce.findings), std::vector<std::string>{"mode"});
  EXPECT_EQ(worst(enforce.findings), Severity::ok);
  auto testing = judge_policy(policy_text("testing"));
  EXPECT_EQ(worst(testing.findings), Severity::ok);
  EXPECT_TRUE(has_text(testing.findings[0], "report"));
}

TEST(JudgePolicy, InvalidPolicyFailsAndSaysWhy) {
  auto j = judge_policy("version: STSv1\nmode: enforce\nmax_age: 86400\n");
  EXPECT_FALSE(j.policy.has_value());
  const Finding f = only_problem(j.findings);
  EXPECT_EQ(f.code, "policy-invalid");
  EXPECT_TRUE(has_text(f, "at least one mx"));
}

TEST(JudgePolicy, ModeNoneWarns) {
  auto j = judge_policy("version: STSv1\nmode: none\nmax_age: 86400\n");
  EXPECT_EQ(only_problem(j.findings).code, "mode-none");
}

TEST(JudgePolicy, MaxAgeBelowADayWarns) {
  EXPECT_EQ(only_problem(judge_policy(policy_text("enforce", "86399")).findings).code, "max-age-short");
  EXPECT_EQ(worst(judge_policy(policy_text("enforce", "86400")).findings), Severity::ok);
}

TEST(JudgePolicy, RepeatedKeyWarnsWithTheValueSendersUse) {
  const Finding f = only_problem(judge_policy(policy_text("enforce", "604800", "mode: testing\n")).findings);
  EXPECT_EQ(f.code, "repeated-key");
  EXPECT_TRUE(has_text(f, "\"mode\" appears 2 times") && has_text(f, "\"enforce\""));
}

// ---- the cache ----

CacheRecord cached(std::string id, std::string text) {
  CacheRecord r;
  r.policy_id = std::move(id);
  r.policy_text = std::move(text);
  r.policy = *parse_sts_policy(r.policy_text);
  r.fetched_at = kNow - kDay;
  return r;
}

std::vector<Finding> compare(const CacheLookup& cache, std::string id, const std::string& live_text) {
  return judge_cached_policy(cache, id, live_text, *parse_sts_policy(live_text));
}

TEST(JudgeCachedPolicy, SameIdChangedPolicyIsTheGuidesFailureMode) {
  const std::string live = policy_text("enforce");
  const Finding f = only_problem(compare({"", cached("id1", policy_text("testing"))}, "id1", live));
  EXPECT_EQ(f.code, "id-not-updated");
  EXPECT_EQ(f.failure_mode, FailureMode::id_not_updated);
  EXPECT_TRUE(has_text(f, "mode testing -> enforce") && has_text(f, "id1"));
}

TEST(JudgeCachedPolicy, ChangedMxListIsAChange) {
  const std::string old_text = "version: STSv1\nmode: enforce\nmx: mail.example.com\nmax_age: 604800\n";
  EXPECT_EQ(only_problem(compare({"", cached("id1", old_text)}, "id1", policy_text())).code, "id-not-updated");
}

TEST(JudgeCachedPolicy, SameMeaningInOtherWordsIsOk) {
  const std::string reordered =
      "version: STSv1\nmx: *.mx.example.com\nmode: enforce\nmax_age: 604800\nmx: mail.example.com\nx-note: hi\n";
  auto f = compare({"", cached("id1", policy_text())}, "id1", reordered);
  EXPECT_EQ(codes(f), std::vector<std::string>{"cache-same-meaning"});
  EXPECT_EQ(worst(f), Severity::ok);
}

TEST(JudgeCachedPolicy, SamePolicyOrNewIdIsOk) {
  EXPECT_EQ(codes(compare({"", cached("id1", policy_text())}, "id1", policy_text())),
            std::vector<std::string>{"cache-same"});
  EXPECT_EQ(codes(compare({"", cached("id1", policy_text("testing"))}, "id2", policy_text())),
            std::vector<std::string>{"cache-other-id"});
}

TEST(JudgeCachedPolicy, NothingToCompareIsSkipped) {
  EXPECT_EQ(worst(compare({"no such file", std::nullopt}, "id1", policy_text())), Severity::skipped);
  EXPECT_EQ(codes(compare({"", std::nullopt}, "id1", policy_text())), std::vector<std::string>{"cache-not-cached"});
  EXPECT_EQ(codes(compare({"", CacheRecord{}}, "id1", policy_text())), std::vector<std::string>{"cache-not-cached"});
}

// ---- MX ----

using MxStatus = MxLookup::Status;

TEST(MailHosts, MxHostsImplicitMxAndNullMx) {
  EXPECT_EQ(mail_hosts("example.com", {MxStatus::records, {"a.example.com", "b.example.com", "a.example.com"}, ""}),
            (std::vector<std::string>{"a.example.com", "b.example.com"}));
  EXPECT_EQ(mail_hosts("example.com", {MxStatus::absent, {}, ""}), std::vector<std::string>{"example.com"});
  EXPECT_TRUE(mail_hosts("example.com", {MxStatus::records, {"."}, ""}).empty());
  EXPECT_TRUE(mail_hosts("example.com", {MxStatus::dns_error, {}, "x"}).empty());
  EXPECT_TRUE(mail_hosts("example.com", {MxStatus::nxdomain, {}, "NXDOMAIN"}).empty());
}

TEST(JudgeMx, HostsMatchingAndNotMatchingThePatterns) {
  const auto policy = parse_sts_policy(policy_text());
  auto f = judge_mx("example.com",
                    {MxStatus::records, {"mail.example.com", "a.mx.example.com", "a.b.mx.example.com"}, ""}, *policy);
  EXPECT_EQ(codes(f), (std::vector<std::string>{"mx", "mx-pattern", "mx-pattern", "mx-pattern-mismatch"}));
  EXPECT_EQ(f[3].subject, "a.b.mx.example.com");
  EXPECT_EQ(f[3].severity, Severity::failure);
  EXPECT_TRUE(has_text(f[2], "*.mx.example.com"));
}

TEST(JudgeMx, PatternsAreNotCheckedWithoutAnActivePolicy) {
  const MxLookup mx{MxStatus::records, {"other.example.net"}, ""};
  EXPECT_EQ(codes(judge_mx("example.com", mx, std::nullopt)), std::vector<std::string>{"mx"});
  EXPECT_EQ(codes(judge_mx("example.com", mx, *parse_sts_policy("version: STSv1\nmode: none\nmax_age: 1\n"))),
            std::vector<std::string>{"mx"});
}

TEST(JudgeMx, ImplicitMxIsCheckedAgainstThePatterns) {
  auto f = judge_mx("example.com", {MxStatus::absent, {}, "no MX records"}, *parse_sts_policy(policy_text()));
  EXPECT_EQ(codes(f), (std::vector<std::string>{"implicit-mx", "mx-pattern-mismatch"}));
}

TEST(JudgeMx, DomainThatDoesNotExist) {
  const Finding f = only_problem(judge_mx("example.com", {MxStatus::nxdomain, {}, "NXDOMAIN"}, std::nullopt));
  EXPECT_EQ(f.code, "domain-nxdomain");
  EXPECT_EQ(f.severity, Severity::failure);
}

TEST(JudgeMx, NullMxAndDnsError) {
  EXPECT_EQ(codes(judge_mx("example.com", {MxStatus::records, {"."}, ""}, std::nullopt)),
            std::vector<std::string>{"null-mx"});
  const Finding f = only_problem(judge_mx("example.com", {MxStatus::dns_error, {}, "timeout"}, std::nullopt));
  EXPECT_EQ(f.code, "mx-dns-error");
}

// ---- MX probes ----

Finding probed(std::optional<FailureType> failure, bool unreachable = false) {
  auto f = judge_mx_host({"mail.example.com", "", {{"192.0.2.1", unreachable, failure, "detail text"}}});
  EXPECT_EQ(f.size(), 1u);
  return f.empty() ? Finding{} : f.front();
}

TEST(JudgeMxHost, EachProbeOutcome) {
  const Finding ok = probed(std::nullopt);
  EXPECT_EQ(ok.severity, Severity::ok);
  EXPECT_EQ(ok.subject, "mail.example.com [192.0.2.1]");
  EXPECT_EQ(probed(FailureType::starttls_not_supported).code, "starttls-missing");
  const Finding mismatch = probed(FailureType::certificate_host_mismatch);
  EXPECT_EQ(mismatch.code, "mx-certificate-name");
  EXPECT_EQ(mismatch.failure_mode, FailureMode::mx_certificate_mismatch);
  EXPECT_TRUE(has_text(mismatch, "detail text"));
  EXPECT_EQ(probed(FailureType::certificate_expired).code, "mx-certificate-expired");
  EXPECT_EQ(probed(FailureType::certificate_not_trusted).code, "mx-certificate-untrusted");
  EXPECT_EQ(probed(FailureType::validation_failure).code, "mx-tls-failure");
  for (auto type : {FailureType::starttls_not_supported, FailureType::certificate_expired,
                    FailureType::certificate_not_trusted, FailureType::validation_failure}) {
    EXPECT_EQ(probed(type).severity, Severity::failure);
    EXPECT_FALSE(probed(type).failure_mode.has_value());
  }
  const Finding unreachable = probed(std::nullopt, true);
  EXPECT_EQ(unreachable.code, "mx-unreachable");
  EXPECT_EQ(unreachable.severity, Severity::warning);
}

TEST(JudgeMxHost, OneFindingPerAddressAndAddressErrors) {
  auto f = judge_mx_host(
      {"mail.example.com", "", {{"192.0.2.1"}, {"2001:db8::1", false, FailureType::certificate_expired}}});
  EXPECT_EQ(codes(f), (std::vector<std::string>{"mx-tls", "mx-certificate-expired"}));
  EXPECT_EQ(f[1].subject, "mail.example.com [2001:db8::1]");
  const Finding none = only_problem(judge_mx_host({"mail.example.com", "no A or AAAA record", {}}));
  EXPECT_EQ(none.code, "mx-address");
  EXPECT_EQ(none.severity, Severity::warning);
}

// ---- DANE ----

TEST(JudgeDane, EachVerdict) {
  DaneDecision d;
  d.verdict = DaneVerdict::dane_only;
  EXPECT_EQ(worst(judge_dane(d)), Severity::ok);
  d.verdict = DaneVerdict::not_applicable;
  EXPECT_EQ(codes(judge_dane(d)), std::vector<std::string>{"dane-not-applicable"});
  d.verdict = DaneVerdict::dane;
  d.hosts = {{"a.example.com", true}, {"b.example.com", false}};
  const Finding partial = only_problem(judge_dane(d));
  EXPECT_EQ(partial.code, "dane-partial");
  EXPECT_TRUE(has_text(partial, "without: b.example.com"));
  d.verdict = DaneVerdict::temp_error;
  d.reason = "MX lookup failed";
  d.detail = "bogus";
  const Finding unknown = only_problem(judge_dane(d));
  EXPECT_EQ(unknown.severity, Severity::failure);
  EXPECT_TRUE(has_text(unknown, "MX lookup failed: bogus"));
}

// ---- _smtp._tls ----

TEST(JudgeTlsRptRecord, UsableRecordNamesItsDestinations) {
  auto f = judge_tlsrpt_record("example.com", {Status::records, {"v=TLSRPTv1; rua=mailto:tls@example.com"}, ""});
  EXPECT_EQ(codes(f), std::vector<std::string>{"tlsrpt"});
  EXPECT_TRUE(has_text(f[0], "mailto:tls@example.com"));
}

TEST(JudgeTlsRptRecord, MissingRecordWarns) {
  const Finding f = only_problem(judge_tlsrpt_record("example.com", {Status::absent, {}, "NXDOMAIN"}));
  EXPECT_EQ(f.code, "tlsrpt-missing");
  EXPECT_EQ(f.severity, Severity::warning);
  EXPECT_EQ(only_problem(judge_tlsrpt_record("example.com", {Status::records, {"v=spf1"}, ""})).code,
            "tlsrpt-missing");
  EXPECT_EQ(only_problem(judge_tlsrpt_record("example.com", {Status::dns_error, {}, "x"})).code, "tlsrpt-dns-error");
}

TEST(JudgeTlsRptRecord, UnusableOrSeveralRecordsFail) {
  const Finding invalid =
      only_problem(judge_tlsrpt_record("example.com", {Status::records, {"v=TLSRPTv1; rua=ftp://x.example.com/"}, ""}));
  EXPECT_EQ(invalid.code, "tlsrpt-invalid");
  EXPECT_EQ(invalid.severity, Severity::failure);
  const Finding several = only_problem(judge_tlsrpt_record(
      "example.com",
      {Status::records, {"v=TLSRPTv1; rua=mailto:a@example.com", "v=TLSRPTv1; rua=mailto:b@x.org"}, ""}));
  EXPECT_EQ(several.code, "tlsrpt-multiple");
}

TEST(JudgeTlsRptRecord, RejectedUriBesideAUsableOneWarns) {
  auto f = judge_tlsrpt_record(
      "example.com", {Status::records, {"v=TLSRPTv1; rua=mailto:a@example.com,ftp://x.example.com/"}, ""});
  EXPECT_EQ(codes(f), (std::vector<std::string>{"tlsrpt", "tlsrpt-uri-rejected"}));
  EXPECT_EQ(f[1].severity, Severity::warning);
}

}  // namespace setup_check_test
}  // namespace mtastsd::core

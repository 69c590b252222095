// The daemon's metrics: every family of the issue 6 contract in the text exposition,
// its labels and values after the typed calls, the lookup histogram's buckets, the
// answer label of each socketmap reply, and samples() as the same numbers as text().
#include "daemon/metrics.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <regex>
#include <sstream>

namespace mtastsd::daemon {
namespace metrics_test {

using namespace std::chrono_literals;
using Answer = Metrics::Answer;

const util::TimePoint kStarted = util::from_unix(1'711'972'800);

// One sample line of the text format, "name{k="v",...} value".
struct TextSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

std::vector<TextSample> parse_text(const std::string& text) {
  static const std::regex line_re(R"(^([a-z_]+)(?:\{(.*)\})? (\S+)$)");
  static const std::regex label_re(R"re(([a-z_]+)="([^"]*)")re");
  std::vector<TextSample> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line.starts_with("#")) continue;
    std::smatch m;
    EXPECT_TRUE(std::regex_match(line, m, line_re)) << line;
    if (m.empty()) continue;
    TextSample s{m[1], {}, m[3] == "+Inf" ? INFINITY : std::stod(m[3])};
    const std::string labels = m[2];
    for (auto it = std::sregex_iterator(labels.begin(), labels.end(), label_re); it != std::sregex_iterator(); ++it)
      s.labels[(*it)[1]] = (*it)[2];
    out.push_back(std::move(s));
  }
  return out;
}

// The value of the one sample with this name and these labels (exactly); NaN if none.
double value_of(const Metrics& metrics, const std::string& name, const std::map<std::string, std::string>& labels = {}) {
  double found = NAN;
  int matches = 0;
  for (const TextSample& s : parse_text(metrics.text())) {
    if (s.name == name && s.labels == labels) {
      found = s.value;
      ++matches;
    }
  }
  EXPECT_LE(matches, 1) << name;
  return found;
}

class MetricsTest : public ::testing::Test {
 protected:
  Metrics metrics_{"1.2.3", kStarted};
};

TEST_F(MetricsTest, EveryContractFamilyIsExposedWithItsType) {
  const std::string text = metrics_.text();
  for (const auto& [name, type] : std::vector<std::pair<std::string, std::string>>{
           {"mtastsd_build_info", "gauge"},
           {"mtastsd_start_time_seconds", "gauge"},
           {"mtastsd_lookups_total", "counter"},
           {"mtastsd_lookup_duration_seconds", "histogram"},
           {"mtastsd_cache_hits_total", "counter"},
           {"mtastsd_cache_misses_total", "counter"},
           {"mtastsd_policy_fetches_total", "counter"},
           {"mtastsd_policy_changes_total", "counter"},
           {"mtastsd_mx_validations_total", "counter"},
           {"mtastsd_dane_answers_total", "counter"},
           {"mtastsd_tlsrpt_datagrams_total", "counter"},
           {"mtastsd_reports_total", "counter"},
           {"mtastsd_connections", "gauge"},
           {"mtastsd_cache_entries", "gauge"},
       }) {
    EXPECT_NE(text.find("# TYPE " + name + " " + type + "\n"), std::string::npos) << name;
    EXPECT_NE(text.find("# HELP " + name + " "), std::string::npos) << name;
  }
  std::size_t families = 0;
  for (std::size_t at = text.find("# TYPE "); at != std::string::npos; at = text.find("# TYPE ", at + 1)) ++families;
  EXPECT_EQ(families, 14u);  // exactly the contract's
}

TEST_F(MetricsTest, BuildInfoAndStartTime) {
  EXPECT_EQ(value_of(metrics_, "mtastsd_build_info", {{"version", "1.2.3"}}), 1);
  EXPECT_EQ(value_of(metrics_, "mtastsd_start_time_seconds"), 1'711'972'800);
}

TEST_F(MetricsTest, FixedLabelSetsStartAtZero) {
  // Series that exist before anything happened, so that rate() sees their first increase.
  for (const char* answer : {"secure", "dane", "dane-only", "notfound", "temp"})
    EXPECT_EQ(value_of(metrics_, "mtastsd_lookups_total", {{"profile", "default"}, {"answer", answer}}), 0) << answer;
  for (const char* outcome : {"ok", "sts-policy-fetch-error", "sts-policy-invalid", "sts-webpki-invalid"})
    EXPECT_EQ(value_of(metrics_, "mtastsd_policy_fetches_total", {{"outcome", outcome}}), 0) << outcome;
  for (const char* outcome : {"ok", "unreachable", "starttls-not-supported", "certificate-host-mismatch",
                              "certificate-expired", "certificate-not-trusted", "validation-failure",
                              "mx-lookup-failed"})
    EXPECT_EQ(value_of(metrics_, "mtastsd_mx_validations_total", {{"outcome", outcome}}), 0) << outcome;
  for (const char* level : {"dane", "dane-only", "temp"})
    EXPECT_EQ(value_of(metrics_, "mtastsd_dane_answers_total", {{"level", level}}), 0) << level;
  for (const char* result : {"accepted", "rejected"})
    EXPECT_EQ(value_of(metrics_, "mtastsd_tlsrpt_datagrams_total", {{"result", result}}), 0) << result;
  for (const char* result : {"delivered", "retry", "failed"})
    EXPECT_EQ(value_of(metrics_, "mtastsd_reports_total", {{"result", result}}), 0) << result;
}

TEST_F(MetricsTest, LookupsCountByProfileAndAnswer) {
  metrics_.lookup("default", Answer::secure, 100us);
  metrics_.lookup("default", Answer::secure, 100us);
  metrics_.lookup("default", Answer::notfound, 100us);
  metrics_.lookup("dane", Answer::dane_only, 100us);
  metrics_.lookup("dane", Answer::temp, 100us);
  EXPECT_EQ(value_of(metrics_, "mtastsd_lookups_total", {{"profile", "default"}, {"answer", "secure"}}), 2);
  EXPECT_EQ(value_of(metrics_, "mtastsd_lookups_total", {{"profile", "default"}, {"answer", "notfound"}}), 1);
  EXPECT_EQ(value_of(metrics_, "mtastsd_lookups_total", {{"profile", "dane"}, {"answer", "dane-only"}}), 1);
  EXPECT_EQ(value_of(metrics_, "mtastsd_lookups_total", {{"profile", "dane"}, {"answer", "temp"}}), 1);
  // A profile's first lookup creates all its answers' series.
  EXPECT_EQ(value_of(metrics_, "mtastsd_lookups_total", {{"profile", "dane"}, {"answer", "secure"}}), 0);
  EXPECT_EQ(value_of(metrics_, "mtastsd_lookup_duration_seconds_count"), 5);
}

TEST_F(MetricsTest, LookupDurationBuckets) {
  // Bucket bounds as the header lists them, then +Inf, cumulative counts.
  std::vector<std::string> bounds;
  for (const TextSample& s : parse_text(metrics_.text()))
    if (s.name == "mtastsd_lookup_duration_seconds_bucket") bounds.push_back(s.labels.at("le"));
  ASSERT_EQ(bounds.size(), kLookupDurationBuckets.size() + 1);
  EXPECT_EQ(bounds.front(), "0.0001");
  EXPECT_EQ(bounds[3], "0.001");
  EXPECT_EQ(bounds[bounds.size() - 2], "10");
  EXPECT_EQ(bounds.back(), "+Inf");
  for (std::size_t i = 0; i < kLookupDurationBuckets.size(); ++i)
    EXPECT_DOUBLE_EQ(std::stod(bounds[i]), kLookupDurationBuckets[i]);

  metrics_.lookup("default", Answer::secure, 50us);    // a cache hit
  metrics_.lookup("default", Answer::secure, 700us);   // a slow cache hit
  metrics_.lookup("default", Answer::secure, 100us);   // on a bound: le is "less or equal"
  metrics_.lookup("default", Answer::secure, 2s);      // a cold lookup
  metrics_.lookup("default", Answer::notfound, 30s);   // past the top bucket
  const auto bucket = [&](const char* le) {
    return value_of(metrics_, "mtastsd_lookup_duration_seconds_bucket", {{"le", le}});
  };
  EXPECT_EQ(bucket("0.0001"), 2);
  EXPECT_EQ(bucket("0.0005"), 2);
  EXPECT_EQ(bucket("0.001"), 3);
  EXPECT_EQ(bucket("1"), 3);
  EXPECT_EQ(bucket("2.5"), 4);
  EXPECT_EQ(bucket("10"), 4);
  EXPECT_EQ(bucket("+Inf"), 5);
  EXPECT_EQ(value_of(metrics_, "mtastsd_lookup_duration_seconds_count"), 5);
  EXPECT_NEAR(value_of(metrics_, "mtastsd_lookup_duration_seconds_sum"), 32.00085, 1e-9);
}

TEST_F(MetricsTest, CacheDaneFetchesAndChanges) {
  metrics_.cache_hit();
  metrics_.cache_hit();
  metrics_.cache_miss();
  metrics_.dane_answer(Metrics::DaneLevel::dane);
  metrics_.dane_answer(Metrics::DaneLevel::temp);
  metrics_.policy_fetched();
  metrics_.policy_fetch_failed(core::FailureType::sts_webpki_invalid);
  metrics_.policy_fetch_failed(core::FailureType::sts_webpki_invalid);
  metrics_.policy_changed();
  EXPECT_EQ(value_of(metrics_, "mtastsd_cache_hits_total"), 2);
  EXPECT_EQ(value_of(metrics_, "mtastsd_cache_misses_total"), 1);
  EXPECT_EQ(value_of(metrics_, "mtastsd_dane_answers_total", {{"level", "dane"}}), 1);
  EXPECT_EQ(value_of(metrics_, "mtastsd_dane_answers_total", {{"level", "dane-only"}}), 0);
  EXPECT_EQ(value_of(metrics_, "mtastsd_dane_answers_total", {{"level", "temp"}}), 1);
  EXPECT_EQ(value_of(metrics_, "mtastsd_policy_fetches_total", {{"outcome", "ok"}}), 1);
  EXPECT_EQ(value_of(metrics_, "mtastsd_policy_fetches_total", {{"outcome", "sts-webpki-invalid"}}), 2);
  EXPECT_EQ(value_of(metrics_, "mtastsd_policy_changes_total"), 1);
}

TEST_F(MetricsTest, MxChecksByOutcome) {
  core::MxCheck ok{.outcome = core::MxOutcome::ok};
  core::MxCheck unreachable{.outcome = core::MxOutcome::unreachable};
  core::MxCheck expired{.outcome = core::MxOutcome::failed, .failure = core::FailureType::certificate_expired};
  metrics_.mx_checked(ok);
  metrics_.mx_checked(unreachable);
  metrics_.mx_checked(expired);
  metrics_.mx_checked(expired);
  metrics_.mx_lookup_failed();
  EXPECT_EQ(value_of(metrics_, "mtastsd_mx_validations_total", {{"outcome", "ok"}}), 1);
  EXPECT_EQ(value_of(metrics_, "mtastsd_mx_validations_total", {{"outcome", "unreachable"}}), 1);
  EXPECT_EQ(value_of(metrics_, "mtastsd_mx_validations_total", {{"outcome", "certificate-expired"}}), 2);
  EXPECT_EQ(value_of(metrics_, "mtastsd_mx_validations_total", {{"outcome", "mx-lookup-failed"}}), 1);
}

TEST_F(MetricsTest, DatagramsReportsAndGauges) {
  metrics_.tlsrpt_datagram_accepted();
  metrics_.tlsrpt_datagram_accepted();
  metrics_.tlsrpt_datagram_rejected();
  metrics_.report(Metrics::ReportResult::delivered);
  metrics_.report(Metrics::ReportResult::retry);
  metrics_.report(Metrics::ReportResult::retry);
  metrics_.report(Metrics::ReportResult::failed);
  metrics_.connection_opened();
  metrics_.connection_opened();
  metrics_.connection_opened();
  metrics_.connection_closed();
  metrics_.set_cache_entries(42);
  EXPECT_EQ(value_of(metrics_, "mtastsd_tlsrpt_datagrams_total", {{"result", "accepted"}}), 2);
  EXPECT_EQ(value_of(metrics_, "mtastsd_tlsrpt_datagrams_total", {{"result", "rejected"}}), 1);
  EXPECT_EQ(value_of(metrics_, "mtastsd_reports_total", {{"result", "delivered"}}), 1);
  EXPECT_EQ(value_of(metrics_, "mtastsd_reports_total", {{"result", "retry"}}), 2);
  EXPECT_EQ(value_of(metrics_, "mtastsd_reports_total", {{"result", "failed"}}), 1);
  EXPECT_EQ(value_of(metrics_, "mtastsd_connections"), 2);
  EXPECT_EQ(value_of(metrics_, "mtastsd_cache_entries"), 42);
  metrics_.set_cache_entries(7);
  EXPECT_EQ(value_of(metrics_, "mtastsd_cache_entries"), 7);
}

TEST_F(MetricsTest, SamplesAreTheTextNumbersInTheTextOrder) {
  metrics_.lookup("default", Answer::secure, 300us);
  metrics_.lookup("other", Answer::temp, 4s);
  metrics_.cache_hit();
  metrics_.policy_fetch_failed(core::FailureType::sts_policy_invalid);
  metrics_.connection_opened();
  metrics_.set_cache_entries(3);
  const std::vector<TextSample> text = parse_text(metrics_.text());
  const nlohmann::json samples = metrics_.samples();
  ASSERT_TRUE(samples.is_array());
  ASSERT_EQ(samples.size(), text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const nlohmann::json& s = samples[i];
    ASSERT_EQ(s.size(), 3u) << s.dump();
    EXPECT_EQ(s.at("name"), text[i].name);
    using Labels = std::map<std::string, std::string>;
    EXPECT_EQ(s.at("labels").get<Labels>(), text[i].labels) << s.dump();
    EXPECT_DOUBLE_EQ(s.at("value").get<double>(), text[i].value) << s.dump();
  }
}

TEST(AnswerOf, TheLevelOfOkRepliesAndTempForEveryDeferral) {
  using core::ReplyStatus;
  EXPECT_EQ(answer_of({ReplyStatus::ok, "secure match=mx.example.com servername=hostname"}), Answer::secure);
  EXPECT_EQ(answer_of({ReplyStatus::ok, "dane-only"}), Answer::dane_only);
  EXPECT_EQ(answer_of({ReplyStatus::ok, "dane"}), Answer::dane);
  EXPECT_EQ(answer_of({ReplyStatus::notfound, ""}), Answer::notfound);
  EXPECT_EQ(answer_of({ReplyStatus::temp, "DANE lookup in progress"}), Answer::temp);
  EXPECT_EQ(answer_of({ReplyStatus::timeout, "x"}), Answer::temp);
  EXPECT_EQ(answer_of({ReplyStatus::perm, "malformed request"}), Answer::temp);
}

}  // namespace metrics_test
}  // namespace mtastsd::daemon

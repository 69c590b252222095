// The daemon's metric families and their read-outs; see the header.
#include "daemon/metrics.hpp"

#include <cmath>
#include <limits>
#include <locale>
#include <sstream>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace mtastsd::daemon {
namespace {

constexpr std::array<std::string_view, 5> kAnswerLabels{"secure", "dane", "dane-only", "notfound", "temp"};
constexpr std::array<std::string_view, 3> kDaneLevelLabels{"dane", "dane-only", "temp"};
constexpr std::array<std::string_view, 3> kReportLabels{"delivered", "retry", "failed"};
// The failures RFC 8461 discovery reports (daemon/policy_discovery); others get their
// series at their first occurrence.
constexpr std::array kFetchFailures{core::FailureType::sts_policy_fetch_error, core::FailureType::sts_policy_invalid,
                                    core::FailureType::sts_webpki_invalid};
// What an MX check can end in (core/mx_validation, core/tls_verdict).
constexpr std::array kMxFailures{core::FailureType::starttls_not_supported, core::FailureType::certificate_host_mismatch,
                                 core::FailureType::certificate_expired, core::FailureType::certificate_not_trusted,
                                 core::FailureType::validation_failure};
constexpr std::string_view kDefaultProfile = "default";
constexpr std::string_view kFetchOk = "ok";
constexpr std::string_view kMxOk = "ok";
constexpr std::string_view kMxUnreachable = "unreachable";
constexpr std::string_view kMxLookupFailed = "mx-lookup-failed";

template <typename Enum>
std::size_t index(Enum e) {
  return static_cast<std::size_t>(e);
}

prometheus::Labels label(const std::string& name, std::string_view value) { return {{name, std::string(value)}}; }

// As prometheus::TextSerializer writes a double (classic locale, max_digits10 - 1
// significant digits, +Inf/-Inf/Nan), so that samples() spells le as text() does.
std::string prometheus_double(double value) {
  if (std::isnan(value)) return "Nan";
  if (std::isinf(value)) return value < 0 ? "-Inf" : "+Inf";
  std::ostringstream out;
  out.imbue(std::locale::classic());
  out.precision(std::numeric_limits<double>::max_digits10 - 1);
  out << value;
  return out.str();
}

nlohmann::json sample(const std::string& name, const std::vector<prometheus::ClientMetric::Label>& labels,
                      double value, const std::string* le = nullptr) {
  nlohmann::json object = nlohmann::json::object();
  for (const auto& l : labels) object[l.name] = l.value;
  if (le) object["le"] = *le;
  return {{"name", name}, {"labels", std::move(object)}, {"value", value}};
}

}  // namespace

Metrics::Metrics(std::string_view version, util::TimePoint started)
    : registry_(std::make_unique<prometheus::Registry>()) {
  prometheus::Registry& r = *registry_;
  prometheus::BuildGauge()
      .Name("mtastsd_build_info")
      .Help("mtastsd's version (label version); always 1.")
      .Register(r)
      .Add(label("version", version))
      .Set(1);
  prometheus::BuildGauge()
      .Name("mtastsd_start_time_seconds")
      .Help("When mtastsd started, in seconds since the Unix epoch.")
      .Register(r)
      .Add({})
      .Set(std::chrono::duration<double>(started.time_since_epoch()).count());
  lookups_ = &prometheus::BuildCounter()
                  .Name("mtastsd_lookups_total")
                  .Help("Socketmap lookups answered, by profile and answer.")
                  .Register(r);
  lookup_counters(std::string(kDefaultProfile));  // every configuration has it: its series exist from the start
  lookup_duration_ = &prometheus::BuildHistogram()
                          .Name("mtastsd_lookup_duration_seconds")
                          .Help("Time from a socketmap request to its reply.")
                          .Register(r)
                          .Add({}, prometheus::Histogram::BucketBoundaries(kLookupDurationBuckets.begin(),
                                                                           kLookupDurationBuckets.end()));
  cache_hits_ = &prometheus::BuildCounter()
                     .Name("mtastsd_cache_hits_total")
                     .Help("Lookups answered from the cache.")
                     .Register(r)
                     .Add({});
  cache_misses_ = &prometheus::BuildCounter()
                       .Name("mtastsd_cache_misses_total")
                       .Help("Lookups that waited for a resolution (DNS, HTTPS).")
                       .Register(r)
                       .Add({});
  policy_fetches_ = &prometheus::BuildCounter()
                         .Name("mtastsd_policy_fetches_total")
                         .Help("MTA-STS policy fetches, by outcome: ok or the RFC 8460 result type.")
                         .Register(r);
  labelled(*policy_fetches_, "outcome", kFetchOk);
  for (core::FailureType type : kFetchFailures) labelled(*policy_fetches_, "outcome", core::to_string(type));
  policy_changes_ = &prometheus::BuildCounter()
                         .Name("mtastsd_policy_changes_total")
                         .Help("Cached MTA-STS policies replaced by a different one.")
                         .Register(r)
                         .Add({});
  mx_validations_ = &prometheus::BuildCounter()
                         .Name("mtastsd_mx_validations_total")
                         .Help("MX host checks of testing-mode domains, by outcome.")
                         .Register(r);
  labelled(*mx_validations_, "outcome", kMxOk);
  labelled(*mx_validations_, "outcome", kMxUnreachable);
  for (core::FailureType type : kMxFailures) labelled(*mx_validations_, "outcome", core::to_string(type));
  labelled(*mx_validations_, "outcome", kMxLookupFailed);
  auto& dane = prometheus::BuildCounter()
                   .Name("mtastsd_dane_answers_total")
                   .Help("Lookups answered by the DANE decision, by level.")
                   .Register(r);
  for (std::size_t i = 0; i < dane_answers_.size(); ++i) dane_answers_[i] = &labelled(dane, "level", kDaneLevelLabels[i]);
  auto& datagrams = prometheus::BuildCounter()
                        .Name("mtastsd_tlsrpt_datagrams_total")
                        .Help("libtlsrpt datagrams received, by result.")
                        .Register(r);
  tlsrpt_accepted_ = &labelled(datagrams, "result", "accepted");
  tlsrpt_rejected_ = &labelled(datagrams, "result", "rejected");
  auto& reports = prometheus::BuildCounter()
                      .Name("mtastsd_reports_total")
                      .Help("TLS-RPT report deliveries: delivered, retry (an attempt failed), failed (given up).")
                      .Register(r);
  for (std::size_t i = 0; i < reports_.size(); ++i) reports_[i] = &labelled(reports, "result", kReportLabels[i]);
  connections_ = &prometheus::BuildGauge()
                      .Name("mtastsd_connections")
                      .Help("Open socketmap connections.")
                      .Register(r)
                      .Add({});
  cache_entries_ = &prometheus::BuildGauge()
                        .Name("mtastsd_cache_entries")
                        .Help("Domains in the policy cache.")
                        .Register(r)
                        .Add({});
}

Metrics::~Metrics() = default;

Metrics::Counter& Metrics::labelled(CounterFamily& family, const std::string& name, std::string_view value) {
  return family.Add(label(name, value));
}

std::array<Metrics::Counter*, 5>& Metrics::lookup_counters(const std::string& profile) {
  auto it = lookups_by_profile_.find(profile);
  if (it == lookups_by_profile_.end()) {
    std::array<Counter*, 5> counters{};
    for (std::size_t i = 0; i < counters.size(); ++i)
      counters[i] = &lookups_->Add({{"profile", profile}, {"answer", std::string(kAnswerLabels[i])}});
    it = lookups_by_profile_.emplace(profile, counters).first;
  }
  return it->second;
}

void Metrics::lookup(const std::string& profile, Answer answer, std::chrono::steady_clock::duration took) {
  lookup_counters(profile)[index(answer)]->Increment();
  lookup_duration_->Observe(std::chrono::duration<double>(took).count());
}

void Metrics::cache_hit() { cache_hits_->Increment(); }
void Metrics::cache_miss() { cache_misses_->Increment(); }
void Metrics::dane_answer(DaneLevel level) { dane_answers_[index(level)]->Increment(); }
void Metrics::policy_fetched() { labelled(*policy_fetches_, "outcome", kFetchOk).Increment(); }
void Metrics::policy_fetch_failed(core::FailureType why) {
  labelled(*policy_fetches_, "outcome", core::to_string(why)).Increment();
}
void Metrics::policy_changed() { policy_changes_->Increment(); }
void Metrics::mx_checked(const core::MxCheck& check) {
  labelled(*mx_validations_, "outcome", core::result_name(check)).Increment();
}
void Metrics::mx_lookup_failed() { labelled(*mx_validations_, "outcome", kMxLookupFailed).Increment(); }
void Metrics::tlsrpt_datagram_accepted() { tlsrpt_accepted_->Increment(); }
void Metrics::tlsrpt_datagram_rejected() { tlsrpt_rejected_->Increment(); }
void Metrics::report(ReportResult result) { reports_[index(result)]->Increment(); }
void Metrics::connection_opened() { connections_->Increment(); }
void Metrics::connection_closed() { connections_->Decrement(); }
void Metrics::set_cache_entries(std::size_t entries) { cache_entries_->Set(static_cast<double>(entries)); }

std::string Metrics::text() const { return prometheus::TextSerializer().Serialize(registry_->Collect()); }

nlohmann::json Metrics::samples() const {
  nlohmann::json out = nlohmann::json::array();
  for (const prometheus::MetricFamily& family : registry_->Collect()) {
    for (const prometheus::ClientMetric& m : family.metric) {
      switch (family.type) {
        case prometheus::MetricType::Counter:
          out.push_back(sample(family.name, m.label, m.counter.value));
          break;
        case prometheus::MetricType::Gauge:
          out.push_back(sample(family.name, m.label, m.gauge.value));
          break;
        case prometheus::MetricType::Histogram: {
          const auto& h = m.histogram;
          out.push_back(sample(family.name + "_count", m.label, static_cast<double>(h.sample_count)));
          out.push_back(sample(family.name + "_sum", m.label, h.sample_sum));
          for (const auto& bucket : h.bucket) {
            const std::string le = prometheus_double(bucket.upper_bound);
            out.push_back(sample(family.name + "_bucket", m.label, static_cast<double>(bucket.cumulative_count), &le));
          }
          if (h.bucket.empty() || !std::isinf(h.bucket.back().upper_bound)) {
            const std::string le = "+Inf";
            out.push_back(sample(family.name + "_bucket", m.label, static_cast<double>(h.sample_count), &le));
          }
          break;
        }
        case prometheus::MetricType::Summary:
        case prometheus::MetricType::Untyped:
          break;  // none registered
      }
    }
  }
  return out;
}

Metrics::Answer answer_of(const core::SocketmapReply& reply) {
  switch (reply.status) {
    case core::ReplyStatus::ok: {
      const std::string_view level = std::string_view(reply.data).substr(0, reply.data.find(' '));
      if (level == "dane-only") return Metrics::Answer::dane_only;
      if (level == "dane") return Metrics::Answer::dane;
      return Metrics::Answer::secure;
    }
    case core::ReplyStatus::notfound: return Metrics::Answer::notfound;
    case core::ReplyStatus::temp:
    case core::ReplyStatus::timeout:
    case core::ReplyStatus::perm: break;
  }
  return Metrics::Answer::temp;
}

}  // namespace mtastsd::daemon

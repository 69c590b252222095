// The daemon's Prometheus metrics: one prometheus-cpp registry (core library only)
// holding the metric families of the issue 6 contract, typed methods the components
// call when something happens, and two read-outs of the same numbers: the text
// exposition format 0.0.4 (`text()`, served by daemon/metrics_server) and a flat
// JSON sample list (`samples()`, the control socket's `stats` reply).
// Cardinality: every label value is one of a small fixed set (enums below, RFC 8460
// result types, ok/unreachable), never a domain name or free text; the one
// configuration-dependent label, profile, takes the configured profile names only
// (a map name without a profile is counted under "default", as it is answered).
// Not thread-safe beyond prometheus-cpp's own atomics: all callers run on the daemon's
// io_context thread.
#pragma once
#include <array>
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <nlohmann/json.hpp>
#include "core/answer.hpp"
#include "core/failure_type.hpp"
#include "core/mx_validation.hpp"
#include "util/clock.hpp"

namespace prometheus {
class Registry;
class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace mtastsd::daemon {

// Upper bounds (seconds) of mtastsd_lookup_duration_seconds' buckets. A cache hit is
// one LMDB read and answers in well under a millisecond: the first four buckets split
// that range. A cold lookup waits on DNS and HTTPS round trips, at most the cold budget
// (3 s by default) and never past the reply deadline (10 s by default): 1-2.5-5 steps
// per decade up to 10 s. Above that only with a raised lookup.reply_deadline (+Inf).
// 16 buckets: each is one more series per scrape.
inline constexpr std::array<double, 16> kLookupDurationBuckets{
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

class Metrics {
 public:
  // The `answer` label of mtastsd_lookups_total: the Postfix TLS level answered, or
  // notfound, or temp (TEMP, TIMEOUT and PERM replies alike: Postfix defers the mail).
  enum class Answer { secure, dane, dane_only, notfound, temp };
  // The `level` label of mtastsd_dane_answers_total: lookups the DANE decision answered.
  enum class DaneLevel { dane, dane_only, temp };
  // The `result` label of mtastsd_reports_total: an attempt delivered, an attempt failed
  // and to be retried, a delivery given up (permanent failure or retry period over).
  enum class ReportResult { delivered, retry, failed };

  // version: the build_info label; started: the start time it reports.
  Metrics(std::string_view version, util::TimePoint started);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // ---- LookupService ----
  // A socketmap lookup answered for `profile` (a configured profile name) after `took`.
  void lookup(const std::string& profile, Answer answer, std::chrono::steady_clock::duration took);
  void cache_hit();   // answered from the cache
  void cache_miss();  // waited for a resolution (MTA-STS or DANE)
  void dane_answer(DaneLevel level);
  void policy_fetched();                           // fetched and parsed (RFC 8461 sec. 3.3)
  void policy_fetch_failed(core::FailureType why); // the RFC 8460 result type of the failure
  void policy_changed();                           // a cached policy replaced by a different one (id or body)

  // ---- MxValidator ----
  void mx_checked(const core::MxCheck& check);  // outcome: ok, unreachable or the result type
  void mx_lookup_failed();                      // outcome: mx-lookup-failed

  // ---- TlsrptCollector ----
  void tlsrpt_datagram_accepted();
  void tlsrpt_datagram_rejected();

  // ---- ReportScheduler ----
  void report(ReportResult result);

  // ---- gauges ----
  void connection_opened();  // socketmap connections
  void connection_closed();
  void set_cache_entries(std::size_t entries);

  // The Prometheus text exposition format (version 0.0.4).
  std::string text() const;
  // [{"name":..,"labels":{..},"value":..},..]: the samples of text(), in its order, a
  // histogram as its _count, _sum and _bucket samples (le as text() spells it).
  nlohmann::json samples() const;

 private:
  using Counter = prometheus::Counter;
  using CounterFamily = prometheus::Family<prometheus::Counter>;
  Counter& labelled(CounterFamily& family, const std::string& label, std::string_view value);
  std::array<Counter*, 5>& lookup_counters(const std::string& profile);

  std::unique_ptr<prometheus::Registry> registry_;
  CounterFamily* lookups_;
  // Per profile, one counter per Answer: created at a profile's first lookup, then
  // found without building label maps on the hot path.
  std::map<std::string, std::array<Counter*, 5>, std::less<>> lookups_by_profile_;
  prometheus::Histogram* lookup_duration_;
  Counter* cache_hits_;
  Counter* cache_misses_;
  CounterFamily* policy_fetches_;
  Counter* policy_changes_;
  CounterFamily* mx_validations_;
  std::array<Counter*, 3> dane_answers_;
  Counter* tlsrpt_accepted_;
  Counter* tlsrpt_rejected_;
  std::array<Counter*, 3> reports_;
  prometheus::Gauge* connections_;
  prometheus::Gauge* cache_entries_;
};

// The Answer label of a lookup's reply: OK replies by their level (the first word of
// the policy, postconf(5) smtp_tls_policy_maps).
Metrics::Answer answer_of(const core::SocketmapReply& reply);

}  // namespace mtastsd::daemon

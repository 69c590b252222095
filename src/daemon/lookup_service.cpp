// Lookup hot path and single-flight resolutions; see the header.
#include "daemon/lookup_service.hpp"

#include <algorithm>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <spdlog/spdlog.h>
#include "util/heap_trim.hpp"
#include "core/next_hop.hpp"
#include "daemon/dane_discovery.hpp"
#include "daemon/policy_discovery.hpp"
#include "util/printable.hpp"

namespace asio = boost::asio;

namespace mtastsd::daemon {

// What one resolution found and stored.
struct LookupService::Resolution {
  core::CacheRecord record;  // what was stored (kept even if the store refused it)
  core::TxtOutcome txt;
  bool fetched = false;      // record holds a policy fetched by this resolution
  std::optional<core::FetchFailed> fetch_failure;
};

// One running resolution; waiters park a timer here and are woken when it ends.
struct LookupService::Flight {
  bool forced = false;  // re-fetches even an unchanged id (refresher, refresh_now)
  bool done = false;
  std::optional<Resolution> result;  // nullopt: the resolution failed internally
  std::vector<asio::steady_timer*> waiters;
  void finish(std::optional<Resolution> resolution) {
    done = true;
    result = std::move(resolution);
    for (auto* w : waiters) w->cancel();
    waiters.clear();
  }
};

// One running DANE resolution, awaited like a Flight.
struct LookupService::DaneFlight {
  bool done = false;
  std::optional<core::DaneState> result;  // what was stored; nullopt if the resolution failed internally
  std::vector<asio::steady_timer*> waiters;
  void finish(std::optional<core::DaneState> state) {
    done = true;
    result = std::move(state);
    for (auto* w : waiters) w->cancel();
    waiters.clear();
  }
};

std::string_view to_string(AnswerSource source) {
  switch (source) {
    case AnswerSource::cache: return "cache";
    case AnswerSource::stale: return "stale cache, re-checking";
    case AnswerSource::cold: return "cold";
    case AnswerSource::budget_spent: return "cold, budget spent";
    case AnswerSource::not_a_domain: return "not a domain";
    case AnswerSource::internal_error: return "internal error";
  }
  return "?";
}

namespace {

// Parks the caller until the flight ends or the deadline passes (the flight goes on).
template <typename AnyFlight>
asio::awaitable<void> wait_for(AnyFlight& flight, const asio::any_io_executor& ex,
                               std::chrono::steady_clock::time_point deadline) {
  if (flight.done) co_return;
  asio::steady_timer wait(ex, deadline);
  flight.waiters.push_back(&wait);
  boost::system::error_code ec;
  co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  std::erase(flight.waiters, &wait);
}

// The level of a reply the DANE decision gave (core::dane_reply): OK dane, OK dane-only or TEMP.
Metrics::DaneLevel dane_level(const core::SocketmapReply& reply) {
  switch (answer_of(reply)) {
    case Metrics::Answer::dane_only: return Metrics::DaneLevel::dane_only;
    case Metrics::Answer::dane: return Metrics::DaneLevel::dane;
    default: return Metrics::DaneLevel::temp;
  }
}

}  // namespace

LookupService::LookupService(asio::any_io_executor ex, const Config& config, io::PolicyStore& store,
                             io::DnsResolver& dns, io::PolicyFetcher& fetcher, Metrics& metrics, util::NowFn now)
    : ex_(ex),
      write_failed_(std::move(ex), "cache write failed, answers stay correct but are not cached"),
      config_(config),
      store_(store),
      dns_(dns),
      fetcher_(fetcher),
      metrics_(metrics),
      now_(std::move(now)) {}

LookupService::~LookupService() = default;

std::optional<core::CacheRecord> LookupService::read_record(const std::string& domain) {
  auto got = store_.get(domain);
  if (!got) {
    // Corrupt record or unreadable cache: answer as if uncached, keep serving.
    spdlog::warn("cache read for {} failed ({}: {}); treating as uncached", domain, io::to_string(got.error().kind),
                 got.error().detail);
    return std::nullopt;
  }
  return std::move(*got);
}

void LookupService::write_record(const std::string& domain, const core::CacheRecord& record) {
  if (auto put = store_.put(domain, record); !put)
    write_failed_.note(fmt::format("{} ({}: {})", domain, io::to_string(put.error().kind), put.error().detail));
}

void LookupService::note_unknown_profile(const std::string& name) {
  if (unknown_profiles_logged_.size() >= 1000) return;  // bounded: map names come from clients
  if (unknown_profiles_logged_.emplace(name, true).second)
    spdlog::warn("socketmap name '{}' has no profile; using 'default'", name);
}

core::SocketmapReply LookupService::reply_for(const core::CacheRecord& record, const Profile& profile,
                                              const std::string& domain) {
  using core::StsMode;
  if (policy_answered_) policy_answered_(domain, record, profile);
  const auto mode = record.policy.mode;
  const bool enforce = mode == StsMode::enforce || (mode == StsMode::testing && profile.testing == TestingAnswer::enforce);
  if (!enforce) return {core::ReplyStatus::notfound, ""};
  return {core::ReplyStatus::ok, core::build_sts_policy_result(record.policy, domain, profile.dialect)};
}

asio::awaitable<Answered> LookupService::answer(const core::SocketmapRequest& request) {
  const auto started = std::chrono::steady_clock::now();
  bool known = true;
  const Profile& profile = config_.profile_for(request.name, &known);
  if (!known) note_unknown_profile(request.name);
  Answered out = co_await answer_for(request.key, profile);
  out.profile = profile.name;
  metrics_.lookup(profile.name, answer_of(out.reply), std::chrono::steady_clock::now() - started);
  co_return out;
}

asio::awaitable<Answered> LookupService::answer_for(const std::string& key, const Profile& profile) {
  Answered out{{core::ReplyStatus::notfound, ""}, "", "", AnswerSource::not_a_domain};
  try {
    const auto hop = core::normalize_next_hop(key);
    if (hop.kind != core::NextHopKind::domain) co_return out;
    const std::string& domain = hop.domain;
    out.domain = domain;
    out.source = AnswerSource::cache;

    auto record = read_record(domain);
    const core::CacheRecord* cached = record ? &*record : nullptr;
    const auto now = now_();
    // One cold budget for the whole lookup, DANE and MTA-STS together.
    const auto deadline = std::chrono::steady_clock::now() + config_.cold_budget;
    const auto plan = core::plan_lookup(cached, now, config_.cache);
    if (plan.touch && record) {
      record->last_used = now;
      write_record(domain, *record);
    }
    // A miss: the lookup waits for a resolution, DANE's or MTA-STS's.
    bool dane_resolves = false;
    const auto count_cache_use = [&](bool sts_resolves) {
      if (dane_resolves || sts_resolves)
        metrics_.cache_miss();
      else
        metrics_.cache_hit();
    };
    std::shared_ptr<Flight> flight;
    // DANE for relays ("[host]", "host:port"; RFC 7672 sec. 2.2.2) is left to Postfix's own settings.
    if (profile.dane && hop.bare) {
      const auto dane_plan = core::plan_dane(cached, now);
      dane_resolves = dane_plan.action == core::DaneAction::resolve;
      // A cold DANE resolution and a cold MTA-STS one run side by side.
      if (dane_resolves && plan.answer == core::LookupAnswer::resolve) flight = start_flight(domain, false);
      if (auto reply = co_await dane_reply(domain, cached, dane_plan, deadline, out.source)) {
        count_cache_use(false);
        out.reply = std::move(*reply);
        co_return out;
      }
    }
    if (plan.refresh_in_background) {
      resolve_in_background(domain, false);
      out.source = std::max(out.source, AnswerSource::stale);
    }
    count_cache_use(plan.answer == core::LookupAnswer::resolve);
    switch (plan.answer) {
      case core::LookupAnswer::policy:
        out.reply = reply_for(*record, profile, domain);
        co_return out;
      case core::LookupAnswer::no_policy:
        co_return out;
      case core::LookupAnswer::resolve:
        break;
    }

    // Cold: join (or start) the domain's resolution, wait at most the cold budget.
    if (!flight) flight = start_flight(domain, false);
    co_await wait_for(*flight, ex_, deadline);
    if (!flight->done || !flight->result) {
      out.source = AnswerSource::budget_spent;  // answered without a policy while the resolution goes on
      co_return out;
    }
    out.source = std::max(out.source, AnswerSource::cold);
    // A policy fetched just now applies to this lookup even when max_age 0 means it is not cached.
    const Resolution& resolved = *flight->result;
    if (resolved.record.policy_valid_at(now_()) || (resolved.fetched && resolved.record.has_policy()))
      out.reply = reply_for(resolved.record, profile, domain);
    co_return out;
  } catch (const std::exception& e) {
    spdlog::error("lookup '{}' failed internally: {}", util::printable_excerpt(key), e.what());
    out.reply = {core::ReplyStatus::temp, "mtastsd internal error"};
    out.source = AnswerSource::internal_error;
    co_return out;
  }
}

asio::awaitable<std::optional<core::SocketmapReply>> LookupService::dane_reply(const std::string& domain,
                                                                                 const core::CacheRecord* record,
                                                                                 const core::DanePlan& plan,
                                                                                 Deadline deadline,
                                                                                 AnswerSource& source) {
  const auto counted = [this](std::optional<core::SocketmapReply> reply) {
    if (reply) metrics_.dane_answer(dane_level(*reply));
    return reply;
  };
  if (plan.action == core::DaneAction::use_cached) {
    if (plan.refresh_in_background) {
      start_dane_flight(domain);
      source = std::max(source, AnswerSource::stale);
    }
    co_return counted(core::dane_reply(record->dane->verdict, record->dane->reason));
  }
  auto flight = start_dane_flight(domain);
  co_await wait_for(*flight, ex_, deadline);
  if (!flight->done) {
    // Neither DANE nor MTA-STS may be assumed while the verdict is unknown: TEMP while it is resolved.
    source = AnswerSource::budget_spent;
    co_return counted(core::SocketmapReply{core::ReplyStatus::temp, "DANE lookup in progress"});
  }
  source = std::max(source, AnswerSource::cold);
  if (!flight->result) co_return counted(core::SocketmapReply{core::ReplyStatus::temp, "DANE lookup failed"});
  co_return counted(core::dane_reply(flight->result->verdict, flight->result->reason));
}

std::shared_ptr<LookupService::DaneFlight> LookupService::start_dane_flight(const std::string& domain) {
  if (auto it = dane_flights_.find(domain); it != dane_flights_.end()) return it->second;
  auto flight = std::make_shared<DaneFlight>();
  dane_flights_.emplace(domain, flight);
  asio::co_spawn(ex_, run_dane_flight(domain, flight), asio::detached);
  return flight;
}

asio::awaitable<void> LookupService::run_dane_flight(std::string domain, std::shared_ptr<DaneFlight> flight) {
  std::optional<core::DaneState> stored;
  try {
    core::DaneDecision decision = co_await discover_dane(dns_, domain);
    if (decision.verdict == core::DaneVerdict::temp_error)
      spdlog::warn("{}: DANE status unknown, answering TEMP for {}s: {} ({})", domain,
                   config_.cache.dns_error_retry.count(), decision.reason, decision.detail);
    // Re-read: lookups and MTA-STS resolutions may have written meanwhile; only the DANE state is ours.
    const auto current = read_record(domain);
    const bool had_verdict = current && current->dane;
    // A temp_error has its warning above.
    const bool changed = decision.verdict != core::DaneVerdict::temp_error &&
                         (!had_verdict || current->dane->verdict != decision.verdict);
    core::CacheRecord next =
        core::apply_dane(current ? &*current : nullptr, std::move(decision), now_(), config_.cache);
    if (next.last_used == util::TimePoint{}) next.last_used = now_();
    if (changed)
      spdlog::info("{}: DANE changed: {} -> {} ({})", domain,
                   had_verdict ? core::to_string(current->dane->verdict) : std::string_view("none"),
                   core::to_string(next.dane->verdict), next.dane->reason);
    write_record(domain, next);
    stored = std::move(next.dane);
  } catch (const std::exception& e) {
    spdlog::error("DANE resolution of {} failed internally: {}", domain, e.what());
  }
  dane_flights_.erase(domain);
  flight->finish(std::move(stored));
  resolution_ended();
}

void LookupService::resolve_in_background(const std::string& domain, bool force) { start_flight(domain, force); }

std::shared_ptr<LookupService::Flight> LookupService::start_flight(const std::string& domain, bool force) {
  if (auto it = flights_.find(domain); it != flights_.end()) return it->second;
  auto flight = std::make_shared<Flight>();
  flight->forced = force;
  flights_.emplace(domain, flight);
  asio::co_spawn(ex_, run_flight(domain, force, flight), asio::detached);
  return flight;
}

asio::awaitable<void> LookupService::run_flight(std::string domain, bool force, std::shared_ptr<Flight> flight) {
  std::optional<Resolution> result;
  try {
    result = co_await resolve(domain, force);
  } catch (const std::exception& e) {
    spdlog::error("resolution of {} failed internally: {}", domain, e.what());
  }
  flights_.erase(domain);
  flight->finish(std::move(result));
  resolution_ended();
}

void LookupService::resolution_ended() {
  ++resolutions_since_trim_;
  if (in_flight() > 0 || resolutions_since_trim_ < kTrimAfterResolutions) return;
  resolutions_since_trim_ = 0;
  util::release_free_heap();
}

asio::awaitable<LookupService::Resolution> LookupService::resolve(const std::string& domain, bool force) {
  const auto before = read_record(domain);
  const core::CacheRecord* old = before ? &*before : nullptr;
  Resolution resolution;
  resolution.txt = co_await discover_sts_record(dns_, domain);
  const core::TxtOutcome& txt = resolution.txt;

  core::CacheRecord next;
  if (core::should_fetch(old, txt, now_(), force)) {
    auto fetched = co_await fetch_sts_policy(fetcher_, domain);
    if (fetched) {
      metrics_.policy_fetched();
      const bool had_policy = old && old->has_policy();
      const bool changed = !had_policy || old->policy_text != fetched->text || old->policy_id != txt.id;
      // A change replaces a cached policy; the first policy of a domain is none.
      if (changed && had_policy) metrics_.policy_changed();
      if (changed)
        spdlog::info("{}: policy changed: id {} -> {}, mode {}, max_age {}, mx {}", domain,
                     had_policy ? old->policy_id : "none", txt.id, core::to_string(fetched->policy.mode),
                     fetched->policy.max_age, fmt::join(fetched->policy.mx, ","));
      next = core::apply_fetch_success(old, txt, std::move(*fetched), now_(), config_.cache);
      resolution.fetched = true;
    } else {
      metrics_.policy_fetch_failed(fetched.error().type);
      const bool kept = old && old->policy_valid_at(now_());
      spdlog::info("{}: policy fetch failed: {}: {} (id {}{})", domain, core::to_string(fetched.error().type),
                   fetched.error().detail, txt.id, kept ? "; keeping the cached policy" : "");
      next = core::apply_fetch_failure(old, txt, fetched.error(), now_(), config_.cache);
      resolution.fetch_failure = fetched.error();
    }
  } else {
    if (txt.status == core::TxtStatus::dns_error) {
      const bool kept = old && old->policy_valid_at(now_());
      spdlog::info("{}: policy discovery failed: {}{}", domain, txt.detail, kept ? "; keeping the cached policy" : "");
    }
    next = core::apply_txt(old, txt, now_(), config_.cache);
  }
  // Lookups and DANE resolutions may have written while we were on the network:
  // keep their last_used and DANE state.
  const auto current = read_record(domain);
  if (current && current->last_used > next.last_used) next.last_used = current->last_used;
  next.dane = current ? current->dane : std::nullopt;
  if (next.last_used == util::TimePoint{}) next.last_used = now_();
  write_record(domain, next);
  resolution.record = std::move(next);
  co_return resolution;
}

std::chrono::milliseconds refresh_wait_limit(const Config& config) {
  return 2 * (config.dns.timeout + config.fetch.timeout);
}

asio::awaitable<std::expected<core::CacheRecord, RefreshError>> LookupService::refresh_now(
    const std::string& domain) {
  const auto limit = refresh_wait_limit(config_);
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    auto flight = start_flight(domain, true);
    co_await wait_for(*flight, ex_, deadline);
    if (!flight->done)
      co_return std::unexpected(RefreshError{
          RefreshFailure::timed_out,
          fmt::format("still resolving after {} s; the resolution goes on and fills the cache",
                      std::chrono::duration_cast<std::chrono::seconds>(limit).count())});
    if (!flight->result)
      co_return std::unexpected(RefreshError{RefreshFailure::internal, "the resolution failed internally (logged)"});
    const Resolution& r = *flight->result;
    // A lookup's id check that found the id unchanged fetched nothing: go again, forced.
    const bool id_confirmed_only = !flight->forced && r.txt.status == core::TxtStatus::found && !r.fetched &&
                                   !r.fetch_failure;
    if (!id_confirmed_only) co_return refresh_outcome(r);
  }
}

std::expected<core::CacheRecord, RefreshError> LookupService::refresh_outcome(const Resolution& r) {
  if (r.fetched) return r.record;
  const auto now = now_();
  // Downgrade protection (RFC 8461 sec. 3.3) keeps a valid policy through every failure: say so.
  const std::string kept = r.record.policy_valid_at(now)
                               ? fmt::format("; the cached policy (id {}) stays in force until {}", r.record.policy_id,
                                             util::format_utc(r.record.valid_until))
                               : std::string();
  if (r.fetch_failure)
    return std::unexpected(RefreshError{RefreshFailure::fetch_failed,
                                        fmt::format("policy fetch for id {} failed: {}: {}{}", r.txt.id,
                                                    core::to_string(r.fetch_failure->type), r.fetch_failure->detail,
                                                    kept)});
  switch (r.txt.status) {
    case core::TxtStatus::absent:
      return std::unexpected(
          RefreshError{RefreshFailure::no_policy, fmt::format("no MTA-STS policy: {}{}", r.txt.detail, kept)});
    case core::TxtStatus::dns_error:
      return std::unexpected(
          RefreshError{RefreshFailure::dns_error, fmt::format("TXT lookup failed: {}{}", r.txt.detail, kept)});
    case core::TxtStatus::found:
      break;
  }
  // Found, forced, nothing fetched: core::should_fetch keeps the back-off of a failed id.
  return std::unexpected(RefreshError{
      RefreshFailure::backed_off,
      fmt::format("the fetch of policy id {} failed at {} ({}: {}); it is not retried before {} (RFC 8461 sec. "
                  "3.3){}",
                  r.record.failed_id, util::format_utc(r.record.failed_at),
                  r.record.failure ? core::to_string(*r.record.failure) : "?", r.record.failure_detail,
                  util::format_utc(r.record.next_retry), kept)});
}

}  // namespace mtastsd::daemon

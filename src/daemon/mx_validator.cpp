// Background MX validation of testing-mode domains; see the header.
#include "daemon/mx_validator.hpp"

#include <unistd.h>

#include <climits>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include "core/host_name.hpp"
#include "core/tlsrpt_record.hpp"
#include "io/dns_rdata.hpp"

namespace asio = boost::asio;

namespace mtastsd::daemon {

// One probe of a host and address in progress; checks of other domains wait for it.
struct MxValidator::ProbeFlight {
  std::optional<core::MxCheck> result;
  std::vector<asio::steady_timer*> waiters;
  void finish(core::MxCheck check) {
    result = std::move(check);
    for (auto* w : waiters) w->cancel();
    waiters.clear();
  }
};

// Tasks started side by side; the starter waits until the last has finished.
struct MxValidator::Join {
  Join(const asio::any_io_executor& ex, std::size_t tasks)
      : remaining(tasks), done(ex, std::chrono::steady_clock::time_point::max()) {}
  std::size_t remaining;
  asio::steady_timer done;
  void finish_one() {
    if (--remaining == 0) done.cancel();
  }
  asio::awaitable<void> wait() {
    while (remaining > 0) {
      boost::system::error_code ec;
      co_await done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }
};

namespace {

// Parks the caller on a timer until `wake` cancels it (or the object is gone).
asio::awaitable<void> park(asio::steady_timer& timer) {
  timer.expires_at(std::chrono::steady_clock::time_point::max());
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

std::string dns_error_text(const io::DnsError& e) { return fmt::format("{} ({})", io::to_string(e.kind), e.detail); }

// A check of an address that got no TLS verdict.
core::MxCheck unanswered(std::string address, util::TimePoint now, std::string detail) {
  return core::MxCheck{.address = std::move(address), .checked_at = now, .detail = std::move(detail)};
}

core::MxCheck check_from(const io::MxProbeResult& r, std::string address, util::TimePoint now) {
  core::MxCheck c{.address = std::move(address), .checked_at = now, .detail = r.detail, .helo = r.helo};
  if (r.unreachable) {
    c.outcome = core::MxOutcome::unreachable;
  } else if (r.failure) {
    c.outcome = core::MxOutcome::failed;
    c.failure = *r.failure;
  } else {
    c.outcome = core::MxOutcome::ok;
  }
  return c;
}

// The domain's TLSRPT record as published (RFC 8460 sec. 3: exactly one usable), or "".
std::string tlsrpt_record_of(const MxValidatorNetwork::DnsResult& answer) {
  if (!answer || answer->rcode != io::DnsRcode::noerror || !core::select_tlsrpt_record(answer->records)) return "";
  for (const std::string& txt : answer->records)
    if (core::parse_tlsrpt_record(txt)) return txt;
  return "";
}

}  // namespace

MxValidatorNetwork real_network(io::DnsResolver& dns, io::MxProbe& probe) {
  return MxValidatorNetwork{
      .query = [&dns](std::string name, int rrtype) { return dns.query(std::move(name), rrtype); },
      .query_addresses = [&dns](std::string host) { return dns.query_addresses(std::move(host)); },
      .probe = [&probe](std::string host, asio::ip::address address) {
        return probe.probe(std::move(host), std::move(address));
      },
  };
}

std::expected<io::MxProbeSettings, std::string> probe_settings(const MxValidationSettings& settings) {
  io::MxProbeSettings probe = settings.probe;
  if (!probe.helo_name.empty()) return probe;
  char name[HOST_NAME_MAX + 1] = {};
  if (::gethostname(name, sizeof name - 1) != 0)
    return std::unexpected(std::string("this host's name is unknown (gethostname failed)"));
  if (!usable_helo_name(name))
    return std::unexpected(fmt::format("this host's name \"{}\" is no EHLO name", name));
  probe.helo_name = core::ascii_lowercase(name);
  return probe;
}

MxValidator::MxValidator(asio::any_io_executor ex, const MxValidationSettings& settings,
                         io::MxValidationStore& store, MxValidatorNetwork network, Metrics& metrics,
                         SessionSink count_session, util::NowFn now)
    : ex_(ex),
      settings_(settings),
      store_(store),
      network_(std::move(network)),
      metrics_(metrics),
      count_session_(std::move(count_session)),
      now_(std::move(now)),
      busy_(ex, "MX validation postponed"),
      alive_(std::make_shared<bool>(true)) {}

MxValidator::~MxValidator() { *alive_ = false; }

void MxValidator::note_answer(const std::string& domain, const core::CacheRecord& record, const Profile& profile) {
  const core::StsMode mode = record.policy.mode;
  const bool wanted =
      mode == core::StsMode::testing || (mode == core::StsMode::enforce && profile.validate_enforce);
  if (!wanted || running_.contains(domain)) return;
  auto stored = store_.get(domain);
  if (!stored) spdlog::warn("MX validation of {}: {}; validating afresh", domain, stored.error().detail);
  std::optional<core::MxValidations> last = stored ? std::move(*stored) : std::nullopt;
  if (!core::validation_due(last ? &*last : nullptr, record.policy_id, now_(), settings_.interval)) return;
  if (running_.size() >= kMaxDomainsInFlight) {
    busy_.note(fmt::format("{}: {} domains are being validated", domain, running_.size()));
    return;
  }
  running_.insert(domain);
  asio::co_spawn(ex_, validate(domain, record, std::move(last)), asio::detached);
}

void MxValidator::prune() {
  if (auto pruned = store_.prune(now_() - kValidationRetention); !pruned)
    spdlog::warn("MX validation: pruning failed: {}", pruned.error().detail);
  else if (*pruned > 0)
    spdlog::info("MX validation: deleted the validations of {} domain(s) not validated for a week", *pruned);
}

asio::awaitable<void> MxValidator::validate(std::string domain, core::CacheRecord record,
                                            std::optional<core::MxValidations> last) {
  const auto alive = alive_;
  try {
    const util::TimePoint started = now_();
    auto mx = co_await network_.query(domain, io::rrtype::mx);
    if (!*alive) co_return;
    core::MxValidations next;
    if (!mx) {
      next = core::with_mx_error(last ? &*last : nullptr, record.policy_id,
                                 "MX lookup failed: " + dns_error_text(mx.error()), started);
      metrics_.mx_lookup_failed();
      spdlog::info("{}: MX validation: {}", domain, next.mx_error);
    } else {
      // No MX records: the domain itself is the implicit MX (RFC 5321 sec. 5.1).
      const bool implicit = mx->rcode != io::DnsRcode::noerror || mx->records.empty();
      const core::MxTargets targets = core::mx_targets(implicit ? std::vector{domain} : mx->records, record.policy);
      if (targets.truncated)
        spdlog::debug("{}: MX validation: only the first {} MX hosts are validated", domain, core::kMaxValidatedHosts);

      // The addresses of the hosts in the policy, all looked up at once (the results are shared
      // with the tasks, which may outlive this frame only if it is left by an exception).
      auto addresses = std::make_shared<std::vector<MxValidatorNetwork::AddressResult>>(targets.hosts.size());
      auto resolved = std::make_shared<Join>(ex_, targets.hosts.size());
      for (std::size_t i = 0; i < targets.hosts.size(); ++i) {
        if (targets.hosts[i].in_policy)
          asio::co_spawn(ex_, resolve_into(resolved, targets.hosts[i].host, addresses, i), asio::detached);
        else
          resolved->finish_one();
      }
      co_await resolved->wait();
      if (!*alive) co_return;

      // Host-level checks, and one check per address to probe, all run at once.
      next = core::MxValidations{.checked_at = started, .policy_id = record.policy_id};
      struct Slot {
        std::size_t host;
        std::string address;
      };
      std::vector<Slot> slots;
      for (std::size_t i = 0; i < targets.hosts.size(); ++i) {
        const core::MxTarget& target = targets.hosts[i];
        core::MxHostValidation& host = next.hosts.emplace_back(core::MxHostValidation{target.host, {}});
        if (!target.in_policy) {
          host.checks.push_back(core::not_in_policy_check(started));
        } else if (const auto& found = (*addresses)[i]; !found) {
          host.checks.push_back(
              core::no_address_check(started, "address lookup failed: " + dns_error_text(found.error())));
        } else if (found->empty()) {
          host.checks.push_back(core::no_address_check(started, "no A/AAAA records"));
        } else {
          for (std::string& address : core::addresses_to_probe(*found)) slots.push_back({i, address});
        }
        if (!host.checks.empty()) metrics_.mx_checked(host.checks.back());  // a host-level check was made
      }
      auto checks = std::make_shared<std::vector<core::MxCheck>>(slots.size());
      auto checked = std::make_shared<Join>(ex_, slots.size());
      for (std::size_t j = 0; j < slots.size(); ++j) {
        const std::string& host = next.hosts[slots[j].host].host;
        const core::MxCheck* stored = last ? core::find_check(*last, host, slots[j].address) : nullptr;
        asio::co_spawn(ex_,
                       check_into(checked, host, slots[j].address,
                                  stored ? std::optional(*stored) : std::nullopt, checks, j),
                       asio::detached);
      }
      co_await checked->wait();
      if (!*alive) co_return;
      for (std::size_t j = 0; j < slots.size(); ++j)
        next.hosts[slots[j].host].checks.push_back(std::move((*checks)[j]));
    }

    log_changes(domain, next, last ? &*last : nullptr);
    if (auto put = store_.put(domain, next); !put)
      spdlog::error("MX validation of {} not stored: {}", domain, put.error().detail);
    if (count_session_) co_await count_sessions(domain, std::move(record), std::move(next), std::move(last));
  } catch (const std::exception& e) {
    if (*alive) spdlog::error("MX validation of {} failed internally: {}", domain, e.what());
  }
  if (*alive) running_.erase(domain);
}

asio::awaitable<void> MxValidator::resolve_into(std::shared_ptr<Join> join, std::string host,
                                                std::shared_ptr<std::vector<MxValidatorNetwork::AddressResult>> out,
                                                std::size_t index) {
  try {
    (*out)[index] = co_await network_.query_addresses(host);
  } catch (const std::exception& e) {
    (*out)[index] = std::unexpected(io::DnsError{io::DnsErrorKind::resolver, e.what()});
  }
  join->finish_one();
}

asio::awaitable<void> MxValidator::check_into(std::shared_ptr<Join> join, std::string host, std::string address,
                                              std::optional<core::MxCheck> stored,
                                              std::shared_ptr<std::vector<core::MxCheck>> out, std::size_t index) {
  const auto alive = alive_;
  try {
    (*out)[index] = co_await check(std::move(host), address, std::move(stored));
  } catch (const std::exception& e) {
    if (*alive) (*out)[index] = unanswered(std::move(address), now_(), fmt::format("internal error: {}", e.what()));
  }
  join->finish_one();
}

asio::awaitable<core::MxCheck> MxValidator::check(std::string host, std::string address,
                                                  std::optional<core::MxCheck> stored) {
  const auto alive = alive_;
  // Once per host and address per interval: this domain's last check, or another's.
  if (stored && !core::check_due(&*stored, now_(), settings_.interval)) co_return *stored;
  const std::string key = host + " " + address;
  if (auto it = shared_.find(key); it != shared_.end() && !core::check_due(&it->second, now_(), settings_.interval))
    co_return it->second;
  if (auto it = probing_.find(key); it != probing_.end()) {
    const std::shared_ptr<ProbeFlight> flight = it->second;
    asio::steady_timer wait(ex_);
    flight->waiters.push_back(&wait);
    co_await park(wait);
    if (flight->result) co_return *flight->result;
    // Only when the daemon goes down; any answer will do.
    co_return unanswered(std::move(address), now_(), "probe abandoned");
  }
  auto flight = std::make_shared<ProbeFlight>();
  probing_.emplace(key, flight);
  core::MxCheck result = co_await probe(host, address);
  if (!*alive) co_return result;
  metrics_.mx_checked(result);
  share(key, result);
  probing_.erase(key);
  flight->finish(result);
  co_return result;
}

asio::awaitable<core::MxCheck> MxValidator::probe(std::string host, std::string address) {
  const auto alive = alive_;
  boost::system::error_code ec;
  const asio::ip::address ip = asio::ip::make_address(address, ec);
  if (ec) co_return unanswered(std::move(address), now_(), "unusable address");
  co_await acquire_slot();
  if (!*alive) co_return core::MxCheck{};
  // The slot is given back whatever happens, unless the validator is gone.
  struct Release {
    MxValidator* self;
    std::shared_ptr<bool> alive;
    ~Release() {
      if (*alive) self->release_slot();
    }
  } release{this, alive};
  const io::MxProbeResult result = co_await network_.probe(host, ip);
  co_return check_from(result, address, now_());
}

asio::awaitable<void> MxValidator::acquire_slot() {
  if (probes_running_ < settings_.concurrency) {
    ++probes_running_;
    co_return;
  }
  asio::steady_timer wait(ex_);
  slot_waiters_.push_back(&wait);
  co_await park(wait);  // release_slot hands its slot over
}

void MxValidator::release_slot() {
  if (slot_waiters_.empty()) {
    --probes_running_;
    return;
  }
  asio::steady_timer* next = slot_waiters_.front();
  slot_waiters_.pop_front();
  next->cancel();
}

void MxValidator::share(const std::string& key, const core::MxCheck& check) {
  if (shared_.size() >= kMaxSharedChecks) {
    const util::TimePoint now = now_();
    std::erase_if(shared_, [&](const auto& entry) { return core::check_due(&entry.second, now, settings_.interval); });
    if (shared_.size() >= kMaxSharedChecks) shared_.clear();
  }
  shared_.insert_or_assign(key, check);
}

void MxValidator::log_changes(const std::string& domain, const core::MxValidations& next,
                              const core::MxValidations* last) const {
  for (const core::MxHostValidation& host : next.hosts) {
    for (const core::MxCheck& check : host.checks) {
      const core::MxCheck* before = last ? core::find_check(*last, host.host, check.address) : nullptr;
      if (before && before->outcome == check.outcome && before->failure == check.failure) continue;
      const std::string where = check.address.empty() ? host.host : fmt::format("{} [{}]", host.host, check.address);
      if (check.outcome == core::MxOutcome::ok)
        spdlog::info("{}: MX validation: {}: ok", domain, where);
      else
        spdlog::info("{}: MX validation: {}: {}: {}", domain, where, core::result_name(check), check.detail);
    }
  }
}

asio::awaitable<void> MxValidator::count_sessions(std::string domain, core::CacheRecord record,
                                                  core::MxValidations next, std::optional<core::MxValidations> last) {
  const auto alive = alive_;
  std::vector<core::SessionEvent> sessions;
  for (const core::MxHostValidation& host : next.hosts) {
    for (const core::MxCheck& check : host.checks) {
      const core::MxCheck* before = last ? core::find_check(*last, host.host, check.address) : nullptr;
      if (before && *before == check) continue;  // counted when it was new
      if (auto session = core::validation_session(domain, record, host.host, check))
        sessions.push_back(std::move(*session));
    }
  }
  if (sessions.empty()) co_return;
  const std::string tlsrpt = tlsrpt_record_of(co_await network_.query("_smtp._tls." + domain, io::rrtype::txt));
  if (!*alive || tlsrpt.empty()) co_return;  // nobody to report to (RFC 8460 sec. 3)
  for (core::SessionEvent& session : sessions) {
    session.tlsrpt_record = tlsrpt;
    count_session_(std::move(session));
  }
}

}  // namespace mtastsd::daemon

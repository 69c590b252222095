// A generation of services; see the header.
#include "daemon/services.hpp"

#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>
#include "core/cache_record_json.hpp"
#include "core/control_protocol.hpp"
#include "daemon/control_server.hpp"
#include "daemon/log_follower.hpp"
#include "daemon/metrics.hpp"
#include "daemon/metrics_server.hpp"
#include "daemon/lookup_service.hpp"
#include "daemon/mx_validator.hpp"
#include "daemon/postfix_log_sessions.hpp"
#include "daemon/refresher.hpp"
#include "daemon/report_dispatch.hpp"
#include "daemon/report_scheduler.hpp"
#include "daemon/socketmap_server.hpp"
#include "daemon/tlsrpt_aggregator.hpp"
#include "daemon/tlsrpt_collector.hpp"
#include "io/dns_rdata.hpp"
#include "io/dns_resolver.hpp"
#include "io/mx_probe.hpp"
#include "io/policy_fetcher.hpp"
#include "io/report_outbox.hpp"
#include "io/report_sender.hpp"

namespace asio = boost::asio;

namespace mtastsd::daemon {
namespace {
// Every second the TLS-RPT sessions received are committed, then the MDB_NOSYNC
// environment is flushed to disk: a killed daemon loses at most the sessions of
// the last second (committed pages survive the process in the page cache), a
// crashed machine at most the commits of the last second as well.
constexpr std::chrono::seconds kCommitInterval{1};
// Counts older than the retention and expired TLSRPT records are deleted this often.
constexpr std::chrono::hours kPruneInterval{1};
// How often a drain looks whether the last reply has been written.
constexpr std::chrono::milliseconds kDrainPoll{20};

// With a trust anchor, libunbound validates every answer; behind a resolver that
// strips DNSSEC records every answer is then bogus and no policy is ever found.
// Say so once at start-up instead of leaving admins to read per-domain failures.
asio::awaitable<void> check_dnssec_path(io::DnsResolver& dns) {
  // A name that cannot exist in the root zone: its signed denial proves the chain.
  auto root = co_await dns.query("mtastsd-dnssec-check.", io::rrtype::txt);
  if (root && root->secure) {
    spdlog::info("DNSSEC validation works (signed denial from the root zone)");
  } else if (!root && root.error().kind == io::DnsErrorKind::bogus) {
    spdlog::error("DNSSEC validation fails for the root zone ({}): the resolver path strips or breaks DNSSEC, so "
                  "every lookup will fail; use a DNSSEC-capable resolver (dns.forwarders) or set "
                  "dns.trust_anchor_file = \"\" to turn validation off",
                  root.error().detail);
  } else if (!root) {
    spdlog::warn("DNS self-check (root zone) failed: {}: {}", io::to_string(root.error().kind), root.error().detail);
  }
}
}  // namespace

namespace {
// TLS-RPT collection: the aggregator, the libtlsrpt socket, the Postfix log.
struct TlsRptCollection {
  std::unique_ptr<TlsrptAggregator> aggregator;
  std::unique_ptr<TlsrptCollector> collector;
  std::unique_ptr<PostfixLogSessions> log_sessions;
  std::unique_ptr<LogFollower> follower;

  void start() {
    if (collector) collector->start();
    if (follower) follower->start();
  }
  void stop() {
    if (collector) collector->stop();
    if (follower) follower->stop();
  }
  // What came in and what was counted since the start, for the log at the end.
  void log_summary() const {
    if (!aggregator) return;
    const AggregatorStats& a = aggregator->stats();
    spdlog::info("TLS-RPT: {} session(s) counted ({} failed by mtastsd's policy state, {} by its MX validation), {} "
                 "not counted, {} lost to store errors",
                 a.counted, a.policy_failures, a.validation_failures, a.rejected, a.lost);
    spdlog::info("TLS-RPT: {} datagram(s) received, {} malformed", collector->received(), collector->malformed());
    if (log_sessions) {
      const LogSessionStats& l = log_sessions->stats();
      spdlog::info("TLS-RPT: {} Postfix log line(s) read, {} unreadable; {} session(s), {} without a TLSRPT record, "
                   "{} dropped while lookups were pending",
                   l.lines, log_sessions->malformed(), l.sessions, l.no_tlsrpt, l.overflow);
    }
  }
};
}  // namespace

namespace {
std::expected<TlsRptCollection, std::string> set_up_tlsrpt(boost::asio::any_io_executor ex, const Config& config,
                                                           const ProcessResources& process, io::DnsResolver& dns) {
  io::PolicyStore& policies = process.policies;
  io::MxValidationStore& validations = process.validations;
  io::TlsrptStore& store = process.tlsrpt;
  TlsRptCollection c;
  if (!config.tlsrpt.enabled) return c;
  const TlsRptSettings& t = config.tlsrpt;
  c.aggregator = std::make_unique<TlsrptAggregator>(ex, config, policies, validations, store);
  auto sockets = process.listeners.duplicates(SocketRole::tlsrpt);
  if (sockets.size() != 1) return std::unexpected(std::string("TLS-RPT socket: not bound"));
  c.collector = std::make_unique<TlsrptCollector>(ex, t, *c.aggregator, process.metrics, sockets.front().fd);
  if (!t.postfix_log.empty()) {
    std::optional<io::LogPosition> resume;
    if (t.postfix_log != "-") {
      auto stored = store.get_position(t.postfix_log);
      if (!stored) return std::unexpected(stored.error().detail);
      resume = *stored;
    }
    c.log_sessions = std::make_unique<PostfixLogSessions>(ex, dns, store, *c.aggregator);
    LogFollower::Handlers handlers{
        .line = [sessions = c.log_sessions.get()](std::string_view line) { sessions->feed(line); },
        .position = [aggregator = c.aggregator.get(), source = t.postfix_log](
                        const io::LogPosition& at) { aggregator->set_position(source, at); },
    };
    c.follower = std::make_unique<LogFollower>(ex, t.postfix_log, resume, std::move(handlers));
    if (auto ok = c.follower->open(); !ok) return std::unexpected("Postfix log: " + ok.error());
  }
  if (t.organization_name.empty() || t.contact_info.empty() || t.submitter.empty())
    spdlog::warn("TLS-RPT: sessions are counted, but reports need tlsrpt.organization_name, tlsrpt.contact_info "
                 "and tlsrpt.submitter in the configuration");
  return c;
}

// MX validation of testing-mode domains (issue 5): the probe and the validator, told of
// the lookup service's answers. Empty when it is off, or (logged) when this host has no
// usable EHLO name; an unusable CA file is fatal (std::runtime_error from io::MxProbe).
struct MxValidation {
  std::unique_ptr<io::MxProbe> probe;
  std::unique_ptr<MxValidator> validator;
};
MxValidation set_up_mx_validation(asio::any_io_executor ex, const Config& config, io::DnsResolver& dns,
                                  io::MxValidationStore& store, LookupService& service,
                                  TlsrptAggregator* aggregator, Metrics& metrics) {
  MxValidation v;
  if (!config.mx_validation.enabled) return v;
  auto settings = probe_settings(config.mx_validation);
  if (!settings) {
    spdlog::error("MX validation is off: {}; set mx_validation.helo_name", settings.error());
    return v;
  }
  v.probe = std::make_unique<io::MxProbe>(ex, *settings);
  MxValidator::SessionSink sink;
  if (aggregator && config.mx_validation.count_as_sessions)
    sink = [aggregator](core::SessionEvent session) { aggregator->add(std::move(session)); };
  v.validator = std::make_unique<MxValidator>(ex, config.mx_validation, store, real_network(dns, *v.probe),
                                              metrics, std::move(sink));
  service.on_policy_answer([validator = v.validator.get()](const std::string& domain,
                                                           const core::CacheRecord& record, const Profile& profile) {
    validator->note_answer(domain, record, profile);
  });
  spdlog::info("MX validation of testing-mode domains: EHLO {}, every {}s, {} probe(s) at a time", settings->helo_name,
               config.mx_validation.interval.count(), config.mx_validation.concurrency);
  return v;
}
}  // namespace


namespace {
// The members of `mtastsctl status`'s reply.
nlohmann::json daemon_status(const Config& config, const ProcessResources& process, const ReportScheduler* scheduler) {
  const auto uptime = std::chrono::steady_clock::now() - process.started_steady;
  nlohmann::json listeners = nlohmann::json::array();
  for (const ListenerId& id : process.listeners.bound())
    listeners.push_back({{"role", to_string(id.role)}, {"address", id.where}});
  const auto entries = process.policies.count();
  return {{"version", MTASTSD_VERSION},
          {"pid", ::getpid()},
          {"config", config.source},
          {"started_at", util::to_unix(process.started)},
          {"uptime_seconds", std::chrono::duration_cast<std::chrono::seconds>(uptime).count()},
          {"cache_entries", entries ? nlohmann::json(*entries) : nlohmann::json(nullptr)},
          {"listeners", std::move(listeners)},
          {"next_report_run", scheduler ? nlohmann::json(util::to_unix(scheduler->next_run())) : nullptr}};
}

// A free coroutine, not a capturing lambda: it may outlive the control server's handlers.
asio::awaitable<std::expected<nlohmann::json, std::string>> refresh_reply(LookupService& service,
                                                                          const Config& config, std::string domain) {
  auto refreshed = co_await service.refresh_now(domain);
  if (!refreshed) {
    // What the domain publishes is the operator's news; a refresh that did not finish is ours.
    const bool ours = refreshed.error().kind == RefreshFailure::timed_out ||
                      refreshed.error().kind == RefreshFailure::internal;
    spdlog::log(ours ? spdlog::level::warn : spdlog::level::info, "{}: refresh asked for by mtastsctl: {}", domain,
                refreshed.error().detail);
    co_return std::unexpected(refreshed.error().detail);
  }
  spdlog::info("{}: refresh asked for by mtastsctl: policy id {} fetched", domain, refreshed->policy_id);
  co_return core::refresh_reply_members(domain, *refreshed, util::system_now(), config.cache);
}
}  // namespace

struct Services::Impl {
  asio::io_context& io;
  const Config config;
  ProcessResources process;
  std::unique_ptr<io::DnsResolver> dns;
  std::unique_ptr<io::PolicyFetcher> fetcher;
  std::unique_ptr<LookupService> service;
  std::unique_ptr<SocketmapServer> server;
  std::unique_ptr<Refresher> refresher;
  TlsRptCollection tlsrpt;
  MxValidation mx_validation;
  std::unique_ptr<io::ReportOutbox> outbox;
  std::unique_ptr<io::ReportSender> sender;
  std::unique_ptr<ReportScheduler> scheduler;
  std::unique_ptr<ControlServer> control;
  std::unique_ptr<MetricsServer> metrics_server;
  asio::steady_timer commit_timer{io};
  asio::steady_timer prune_timer{io};
  asio::steady_timer drain_timer{io};
  bool draining = false;

  Impl(asio::io_context& i, Config c, ProcessResources p) : io(i), config(std::move(c)), process(p) {}

  TlsrptAggregator* aggregator() const { return tlsrpt.aggregator.get(); }

  std::expected<void, std::string> build() {
    const asio::any_io_executor ex = io.get_executor();
    try {
      dns = std::make_unique<io::DnsResolver>(ex, config.dns);
    } catch (const std::exception& e) {
      return std::unexpected(std::string(e.what()));  // names the resolver and the setting
    }
    fetcher = std::make_unique<io::PolicyFetcher>(ex, *dns, config.fetch);
    service = std::make_unique<LookupService>(ex, config, process.policies, *dns, *fetcher, process.metrics);
    server = std::make_unique<SocketmapServer>(ex, config, *service, process.metrics,
                                               process.listeners.duplicates(SocketRole::socketmap));
    refresher = std::make_unique<Refresher>(ex, config, process.policies, *service);
    auto collection = set_up_tlsrpt(ex, config, process, *dns);
    if (!collection) return std::unexpected(collection.error());
    tlsrpt = std::move(*collection);
    try {
      mx_validation =
          set_up_mx_validation(ex, config, *dns, process.validations, *service, aggregator(), process.metrics);
    } catch (const std::exception& e) {
      return std::unexpected(fmt::format("MX validation: {}", e.what()));
    }
    // Report sending needs the origin; without it set_up_tlsrpt has said so.
    if (aggregator() && config.tlsrpt.send_reports && has_report_origin(config.tlsrpt)) {
      auto opened = io::ReportOutbox::open(process.env);
      if (!opened) return std::unexpected(fmt::format("TLS-RPT report queue: {}", opened.error().detail));
      outbox = std::move(*opened);
      try {
        sender = std::make_unique<io::ReportSender>(ex, *dns, config.tlsrpt.sender);
      } catch (const std::exception& e) {
        return std::unexpected(fmt::format("TLS-RPT report sending: {}", e.what()));
      }
      scheduler = std::make_unique<ReportScheduler>(ex, config, *process.env, *outbox, *sender, process.metrics);
    }
    auto control_sockets = process.listeners.duplicates(SocketRole::control);
    if (control_sockets.size() == 1) {
      ControlHandlers handlers{
          .status = [this] { return daemon_status(config, process, scheduler.get()); },
          .stats = [this] { return process.metrics.samples(); },
          .refresh = [this](std::string domain) { return refresh_reply(*service, config, std::move(domain)); },
      };
      control = std::make_unique<ControlServer>(ex, control_sockets.front().fd, std::move(handlers));
    }
    auto metrics_sockets = process.listeners.duplicates(SocketRole::metrics);
    if (metrics_sockets.size() == 1) {
      try {
        metrics_server = std::make_unique<MetricsServer>(ex, metrics_sockets.front().fd, process.metrics);
      } catch (const std::system_error& e) {
        return std::unexpected(fmt::format("metrics: {}", e.what()));
      }
    }
    return {};
  }

  void start() {
    server->start();
    if (control) control->start();
    if (metrics_server) metrics_server->start();
    refresher->start();
    tlsrpt.start();
    if (scheduler) scheduler->start();
    if (!config.dns.trust_anchor_file.empty()) asio::co_spawn(io, check_dnssec_path(*dns), asio::detached);
    schedule_commit();
    prune();
  }

  // Commit, then flush to disk, in this order (see kCommitInterval).
  void schedule_commit() {
    commit_timer.expires_after(kCommitInterval);
    commit_timer.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      if (aggregator()) aggregator()->flush();
      process.env->sync();
      // The cache entries gauge rides along (a count is one LMDB read).
      if (auto entries = process.policies.count()) process.metrics.set_cache_entries(*entries);
      schedule_commit();
    });
  }

  void prune() {
    if (aggregator()) aggregator()->prune();
    if (scheduler) scheduler->prune();
    if (mx_validation.validator) mx_validation.validator->prune();
    prune_timer.expires_after(kPruneInterval);
    prune_timer.async_wait([this](boost::system::error_code ec) {
      if (!ec) prune();
    });
  }

  void drain(std::function<void()> done) {
    draining = true;
    server->stop();
    if (control) control->stop();
    if (metrics_server) metrics_server->stop();
    refresher->stop();
    tlsrpt.stop();
    if (scheduler) scheduler->stop();
    // Replies are computed within the reply deadline, so that bounds the wait.
    poll_drained(std::chrono::steady_clock::now() + config.reply_deadline, std::move(done));
  }

  void poll_drained(std::chrono::steady_clock::time_point deadline, std::function<void()> done) {
    // Report deliveries in flight are waited for too, so their results are recorded.
    const bool idle = server->connections() == 0 && (!control || control->connections() == 0) &&
                      (!scheduler || scheduler->in_flight() == 0);
    if (idle || std::chrono::steady_clock::now() >= deadline) {
      commit_timer.cancel();
      prune_timer.cancel();
      dns->cancel_all();
      done();
      return;
    }
    drain_timer.expires_after(kDrainPoll);
    drain_timer.async_wait([this, deadline, done = std::move(done)](boost::system::error_code) mutable {
      poll_drained(deadline, std::move(done));
    });
  }
};

std::expected<std::unique_ptr<Services>, std::string> Services::start(asio::io_context& io, Config config,
                                                                       ProcessResources process) {
  auto impl = std::make_unique<Impl>(io, std::move(config), process);
  if (auto built = impl->build(); !built) return std::unexpected(built.error());
  impl->start();
  return std::unique_ptr<Services>(new Services(std::move(impl)));
}

Services::Services(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Services::~Services() {
  if (impl_->aggregator()) impl_->aggregator()->flush();
  impl_->process.env->sync();
}

void Services::drain(std::function<void()> done) { impl_->drain(std::move(done)); }

const Config& Services::config() const { return impl_->config; }

LookupService& Services::lookups() { return *impl_->service; }

void Services::log_summary() const { impl_->tlsrpt.log_summary(); }

}  // namespace mtastsd::daemon

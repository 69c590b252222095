// Daemon wiring and lifecycle; see the header.
#include "daemon/daemon.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <filesystem>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>
#include "daemon/log_follower.hpp"
#include "daemon/logging.hpp"
#include "daemon/lookup_service.hpp"
#include "daemon/mx_validator.hpp"
#include "daemon/postfix_log_sessions.hpp"
#include "daemon/refresher.hpp"
#include "daemon/report_dispatch.hpp"
#include "daemon/report_scheduler.hpp"
#include "daemon/socketmap_server.hpp"
#include "daemon/tlsrpt_aggregator.hpp"
#include "daemon/tlsrpt_collector.hpp"
#include "io/dns_resolver.hpp"
#include "io/mx_probe.hpp"
#include "io/mx_validation_store.hpp"
#include "io/policy_fetcher.hpp"
#include "io/policy_store.hpp"
#include "io/report_outbox.hpp"
#include "io/report_sender.hpp"
#include "io/store_env.hpp"
#include "io/tlsrpt_store.hpp"

namespace asio = boost::asio;

namespace mtastsd::daemon {
namespace {
// How long SIGTERM waits for replies being computed (a cold lookup waits at most
// the cold budget; a reply at most the reply deadline).
std::chrono::milliseconds drain_deadline(const Config& c) { return c.reply_deadline; }
// Every second the TLS-RPT sessions received are committed, then the MDB_NOSYNC
// environment is flushed to disk: a killed daemon loses at most the sessions of
// the last second (committed pages survive the process in the page cache), a
// crashed machine at most the commits of the last second as well.
constexpr std::chrono::seconds kCommitInterval{1};
// Counts older than the retention and expired TLSRPT records are deleted this often.
constexpr std::chrono::hours kPruneInterval{1};

// With a trust anchor, libunbound validates every answer; behind a resolver that
// strips DNSSEC records every answer is then bogus and no policy is ever found.
// Say so once at start-up instead of leaving admins to read per-domain failures.
asio::awaitable<void> check_dnssec_path(io::DnsResolver& dns) {
  // A name that cannot exist in the root zone: its signed denial proves the chain.
  constexpr int kTypeTxt = 16;
  auto root = co_await dns.query("mtastsd-dnssec-check.", kTypeTxt);
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

// Every socketmap client holds a descriptor (Postfix: up to the sum of smtp
// maxproc, 100 per transport by default); the usual soft limit of 1024 is too low.
static void raise_fd_limit(std::size_t wanted) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  const rlim_t target = std::min<rlim_t>(lim.rlim_max, static_cast<rlim_t>(wanted));
  if (lim.rlim_cur >= target) return;
  lim.rlim_cur = target;
  if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) spdlog::warn("cannot raise the open files limit to {}", target);
}

// A cache file that is not LMDB (or from an incompatible LMDB) must not keep the
// daemon down: while it is down Postfix defers every delivery. Move it aside and
// start empty; cached policies and TLS-RPT counts are lost, mail flows.
static std::expected<std::shared_ptr<io::StoreEnv>, io::StoreError> open_env(const Config& config) {
  const io::StoreSettings settings{config.state_dir + "/cache", config.cache_map_size, false};
  auto env = io::StoreEnv::open(settings);
  if (env || env.error().kind != io::StoreErrorKind::corrupt) return env;
  const std::string file = io::StoreEnv::data_file(settings.directory);
  const std::string aside = fmt::format("{}.unusable-{}", file, util::to_unix(util::system_now()));
  spdlog::error("{}; moving it to {} and starting with an empty cache", env.error().detail, aside);
  std::error_code ec;
  std::filesystem::rename(file, aside, ec);
  std::filesystem::remove(file + "-lock", ec);
  return io::StoreEnv::open(settings);
}

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

static std::expected<TlsRptCollection, std::string> set_up_tlsrpt(boost::asio::any_io_executor ex,
                                                                  const Config& config, io::PolicyStore& policies,
                                                                  io::MxValidationStore& validations,
                                                                  io::TlsrptStore& store, io::DnsResolver& dns) {
  TlsRptCollection c;
  if (!config.tlsrpt.enabled) return c;
  const TlsRptSettings& t = config.tlsrpt;
  c.aggregator = std::make_unique<TlsrptAggregator>(ex, config, policies, validations, store);
  c.collector = std::make_unique<TlsrptCollector>(ex, t, *c.aggregator);
  if (auto ok = c.collector->open(); !ok) return std::unexpected("TLS-RPT socket: " + ok.error());
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

namespace {
// MX validation of testing-mode domains (issue 5): the probe and the validator, told of
// the lookup service's answers. Empty when it is off, or (logged) when this host has no
// usable EHLO name; an unusable CA file is fatal (std::runtime_error from io::MxProbe).
struct MxValidation {
  std::unique_ptr<io::MxProbe> probe;
  std::unique_ptr<MxValidator> validator;
};
MxValidation set_up_mx_validation(asio::any_io_executor ex, const Config& config, io::DnsResolver& dns,
                                  io::MxValidationStore& store, LookupService& service,
                                  TlsrptAggregator* aggregator) {
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
                                              std::move(sink));
  service.on_policy_answer([validator = v.validator.get()](const std::string& domain,
                                                           const core::CacheRecord& record, const Profile& profile) {
    validator->note_answer(domain, record, profile);
  });
  spdlog::info("MX validation of testing-mode domains: EHLO {}, every {}s, {} probe(s) at a time", settings->helo_name,
               config.mx_validation.interval.count(), config.mx_validation.concurrency);
  return v;
}
}  // namespace

int run_daemon(const Config& config) {
  // Connections plus listeners, LMDB, DNS and fetches in flight.
  raise_fd_limit(config.max_connections + 256);
  auto env = open_env(config);
  if (!env) {
    spdlog::critical("cannot open the cache in {}/cache: {}", config.state_dir, env.error().detail);
    return 1;
  }
  // One environment, several tables (LMDB allows one environment per file and process).
  auto store = io::PolicyStore::open(*env);
  if (!store) {
    spdlog::critical("cannot open the policy cache in {}/cache: {}", config.state_dir, store.error().detail);
    return 1;
  }
  auto tlsrpt_store = io::TlsrptStore::open(*env);
  if (!tlsrpt_store) {
    spdlog::critical("cannot open the TLS-RPT tables in {}/cache: {}", config.state_dir, tlsrpt_store.error().detail);
    return 1;
  }
  auto validations = io::MxValidationStore::open(*env);
  if (!validations) {
    spdlog::critical("cannot open the MX validation table in {}/cache: {}", config.state_dir,
                     validations.error().detail);
    return 1;
  }
  asio::io_context io(1);
  std::unique_ptr<io::DnsResolver> dns;
  try {
    dns = std::make_unique<io::DnsResolver>(io.get_executor(), config.dns);
  } catch (const std::exception& e) {
    spdlog::critical("DNS resolver: {}", e.what());
    return 1;
  }
  io::PolicyFetcher fetcher(io.get_executor(), *dns, config.fetch);
  LookupService service(io.get_executor(), config, **store, *dns, fetcher);
  SocketmapServer server(io.get_executor(), config, service);
  if (auto ok = server.listen(); !ok) {
    spdlog::critical("cannot listen: {}", ok.error());
    return 1;
  }
  Refresher refresher(io.get_executor(), config, **store, service);
  auto tlsrpt = set_up_tlsrpt(io.get_executor(), config, **store, **validations, **tlsrpt_store, *dns);
  if (!tlsrpt) {
    spdlog::critical("{}", tlsrpt.error());
    return 1;
  }
  TlsrptAggregator* aggregator = tlsrpt->aggregator.get();
  MxValidation mx_validation;
  try {
    mx_validation = set_up_mx_validation(io.get_executor(), config, *dns, **validations, service, aggregator);
  } catch (const std::exception& e) {
    spdlog::critical("MX validation: {}", e.what());
    return 1;
  }
  // Report sending needs the origin; without it set_up_tlsrpt has said so.
  std::unique_ptr<io::ReportOutbox> outbox;
  std::unique_ptr<io::ReportSender> sender;
  std::unique_ptr<ReportScheduler> scheduler;
  if (aggregator && config.tlsrpt.send_reports && has_report_origin(config.tlsrpt)) {
    auto opened = io::ReportOutbox::open(*env);
    if (!opened) {
      spdlog::critical("cannot open the TLS-RPT report queue in {}/cache: {}", config.state_dir, opened.error().detail);
      return 1;
    }
    outbox = std::move(*opened);
    try {
      sender = std::make_unique<io::ReportSender>(io.get_executor(), *dns, config.tlsrpt.sender);
    } catch (const std::exception& e) {
      spdlog::critical("TLS-RPT report sending: {}", e.what());
      return 1;
    }
    scheduler = std::make_unique<ReportScheduler>(io.get_executor(), config, **env, *outbox, *sender);
  }

  // Commit, then flush to disk, in this order (see kCommitInterval).
  asio::steady_timer commit_timer(io);
  std::function<void()> schedule_commit = [&] {
    commit_timer.expires_after(kCommitInterval);
    commit_timer.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      if (aggregator) aggregator->flush();
      (*env)->sync();
      schedule_commit();
    });
  };
  asio::steady_timer prune_timer(io);
  std::function<void()> prune = [&] {
    if (aggregator) aggregator->prune();
    if (scheduler) scheduler->prune();
    if (mx_validation.validator) mx_validation.validator->prune();
    prune_timer.expires_after(kPruneInterval);
    prune_timer.async_wait([&](boost::system::error_code ec) {
      if (!ec) prune();
    });
  };

  asio::signal_set signals(io, SIGTERM, SIGINT);
  asio::steady_timer drain_timer(io);
  std::function<void()> drain;  // set by the signal handler; lives on after it, for the drain timer
  signals.async_wait([&](boost::system::error_code ec, int signo) {
    if (ec) return;
    spdlog::info("signal {}: stopping (draining for at most {} ms)", signo, drain_deadline(config).count());
    server.stop();
    refresher.stop();
    tlsrpt->stop();
    if (scheduler) scheduler->stop();
    // Wait until open connections have written their replies or the deadline passes.
    const auto deadline = std::chrono::steady_clock::now() + drain_deadline(config);
    drain = [&, deadline] {
      // Report deliveries in flight are waited for too, so their results are recorded
      // (one cut off is sent again at the next start, with the same report-id).
      const bool idle = server.connections() == 0 && (!scheduler || scheduler->in_flight() == 0);
      if (idle || std::chrono::steady_clock::now() >= deadline) {
        commit_timer.cancel();
        prune_timer.cancel();
        dns->cancel_all();
        io.stop();
        return;
      }
      drain_timer.expires_after(std::chrono::milliseconds(20));
      drain_timer.async_wait([&](boost::system::error_code) { drain(); });
    };
    drain();
  });

  // SIGUSR1: logrotate has renamed the log file; write to a new one at its path.
  asio::signal_set reopen_signal(io, SIGUSR1);
  std::function<void()> await_reopen = [&] {
    reopen_signal.async_wait([&](boost::system::error_code ec, int) {
      if (ec) return;
      reopen_log_files();
      await_reopen();
    });
  };
  await_reopen();

  server.start();
  refresher.start();
  tlsrpt->start();
  if (scheduler) scheduler->start();
  if (!config.dns.trust_anchor_file.empty()) asio::co_spawn(io, check_dnssec_path(*dns), asio::detached);
  schedule_commit();
  prune();
  spdlog::info("mtastsd ready ({} listener(s), config {})", config.listen.size(), config.source);
  io.run();
  if (aggregator) aggregator->flush();
  (*env)->sync();
  tlsrpt->log_summary();
  spdlog::info("mtastsd stopped");
  return 0;
}

}  // namespace mtastsd::daemon

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
#include "daemon/lookup_service.hpp"
#include "daemon/refresher.hpp"
#include "daemon/socketmap_server.hpp"
#include "io/dns_resolver.hpp"
#include "io/policy_fetcher.hpp"
#include "io/policy_store.hpp"

namespace asio = boost::asio;

namespace mtastsd::daemon {
namespace {
// How long SIGTERM waits for replies being computed (a cold lookup waits at most
// the cold budget; a reply at most the reply deadline).
std::chrono::milliseconds drain_deadline(const Config& c) { return c.reply_deadline; }
// Flush interval for the MDB_NOSYNC environment: a crash of the machine (not of
// the process) loses at most this much.
constexpr std::chrono::seconds kSyncInterval{1};

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
// start empty; cached policies are lost, mail flows.
static std::expected<std::unique_ptr<io::PolicyStore>, io::StoreError> open_store(const Config& config) {
  const io::StoreSettings settings{config.state_dir + "/cache", config.cache_map_size, false};
  auto store = io::PolicyStore::open(settings);
  if (store || store.error().kind != io::StoreErrorKind::corrupt) return store;
  const std::string file = io::PolicyStore::data_file(settings.directory);
  const std::string aside = fmt::format("{}.unusable-{}", file, util::to_unix(util::system_now()));
  spdlog::error("{}; moving it to {} and starting with an empty cache", store.error().detail, aside);
  std::error_code ec;
  std::filesystem::rename(file, aside, ec);
  std::filesystem::remove(file + "-lock", ec);
  return io::PolicyStore::open(settings);
}

int run_daemon(const Config& config) {
  // Connections plus listeners, LMDB, DNS and fetches in flight.
  raise_fd_limit(config.max_connections + 256);
  auto store = open_store(config);
  if (!store) {
    spdlog::critical("cannot open the cache in {}/cache: {}", config.state_dir, store.error().detail);
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

  asio::steady_timer sync_timer(io);
  std::function<void()> schedule_sync = [&] {
    sync_timer.expires_after(kSyncInterval);
    sync_timer.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      (*store)->sync();
      schedule_sync();
    });
  };

  asio::signal_set signals(io, SIGTERM, SIGINT);
  asio::steady_timer drain_timer(io);
  signals.async_wait([&](boost::system::error_code ec, int signo) {
    if (ec) return;
    spdlog::info("signal {}: stopping (draining for at most {} ms)", signo, drain_deadline(config).count());
    server.stop();
    refresher.stop();
    // Wait until open connections have written their replies or the deadline passes.
    const auto deadline = std::chrono::steady_clock::now() + drain_deadline(config);
    std::function<void()> poll = [&, deadline] {
      if (server.connections() == 0 || std::chrono::steady_clock::now() >= deadline) {
        sync_timer.cancel();
        dns->cancel_all();
        io.stop();
        return;
      }
      drain_timer.expires_after(std::chrono::milliseconds(20));
      drain_timer.async_wait([&](boost::system::error_code) { poll(); });
    };
    poll();
  });

  server.start();
  refresher.start();
  if (!config.dns.trust_anchor_file.empty()) asio::co_spawn(io, check_dnssec_path(*dns), asio::detached);
  schedule_sync();
  spdlog::info("mtastsd ready ({} listener(s), config {})", config.listen.size(), config.source);
  io.run();
  (*store)->sync();
  spdlog::info("mtastsd stopped");
  return 0;
}

}  // namespace mtastsd::daemon

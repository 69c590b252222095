// The process around the generations of services; see the header.
#include "daemon/daemon.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <filesystem>
#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>
#include "daemon/listeners.hpp"
#include "daemon/metrics.hpp"
#include "daemon/permission_audit.hpp"
#include "daemon/privileges.hpp"
#include "daemon/process_signals.hpp"
#include "daemon/services.hpp"
#include "daemon/systemd_notify.hpp"
#include "io/mx_validation_store.hpp"
#include "io/policy_store.hpp"
#include "io/store_env.hpp"
#include "io/tlsrpt_store.hpp"

namespace asio = boost::asio;

namespace mtastsd::daemon {
namespace {

// Every socketmap client holds a descriptor (Postfix: up to the sum of smtp
// maxproc, 100 per transport by default); the usual soft limit of 1024 is too low.
void raise_fd_limit(std::size_t wanted) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  const rlim_t target = std::min<rlim_t>(lim.rlim_max, static_cast<rlim_t>(wanted));
  if (target < wanted)
    spdlog::warn("the open files limit is {}, below the {} that server.max_connections needs: connections beyond "
                 "what it allows wait until others close (raise LimitNOFILE, or lower max_connections)",
                 lim.rlim_max, wanted);
  if (lim.rlim_cur >= target) return;
  lim.rlim_cur = target;
  if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) spdlog::warn("cannot raise the open files limit to {}", target);
}

// A cache file that is not LMDB (or from an incompatible LMDB) must not keep the
// daemon down: while it is down Postfix defers every delivery. Move it aside and
// start empty; cached policies and TLS-RPT counts are lost, mail flows.
std::expected<std::shared_ptr<io::StoreEnv>, io::StoreError> open_env(const Config& config) {
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

// The LMDB environment and its tables: opened once, shared by every generation.
struct Stores {
  std::shared_ptr<io::StoreEnv> env;
  std::unique_ptr<io::PolicyStore> policies;
  std::unique_ptr<io::TlsrptStore> tlsrpt;
  std::unique_ptr<io::MxValidationStore> validations;
};

std::expected<Stores, std::string> open_stores(const Config& config) {
  const std::string where = config.state_dir + "/cache";
  auto env = open_env(config);
  if (!env) return std::unexpected(fmt::format("cannot open the cache in {}: {}", where, env.error().detail));
  Stores s{.env = *env};
  // One environment, several tables (LMDB allows one environment per file and process).
  auto policies = io::PolicyStore::open(s.env);
  if (!policies) return std::unexpected(fmt::format("cannot open the policy cache in {}: {}", where,
                                                    policies.error().detail));
  auto tlsrpt = io::TlsrptStore::open(s.env);
  if (!tlsrpt) return std::unexpected(fmt::format("cannot open the TLS-RPT tables in {}: {}", where,
                                                  tlsrpt.error().detail));
  auto validations = io::MxValidationStore::open(s.env);
  if (!validations) return std::unexpected(fmt::format("cannot open the MX validation table in {}: {}", where,
                                                       validations.error().detail));
  s.policies = std::move(*policies);
  s.tlsrpt = std::move(*tlsrpt);
  s.validations = std::move(*validations);
  return s;
}

// Settings the process took at start-up; a reload cannot change them (the cache is
// open, root is gone): the new file's values are logged and the running ones kept.
void keep_start_up_settings(const Config& running, Config& next) {
  auto keep = [](const char* key, const auto& old_value, auto& new_value, std::string shown_old,
                 std::string shown_new) {
    if (old_value == new_value) return;
    spdlog::warn("reload: {} changed from {} to {}; that takes a restart, keeping {}", key, shown_old, shown_new,
                 shown_old);
    new_value = old_value;
  };
  keep("state_dir", running.state_dir, next.state_dir, running.state_dir, next.state_dir);
  keep("cache.map_size", running.cache_map_size, next.cache_map_size, std::to_string(running.cache_map_size),
       std::to_string(next.cache_map_size));
  keep("user", running.user, next.user, '"' + running.user + '"', '"' + next.user + '"');
  keep("group", running.group, next.group, '"' + running.group + '"', '"' + next.group + '"');
}

enum class After { stop, reload };

// Runs one generation until a stop signal or a reload that has a new configuration
// (in `next`). SIGUSR1 and reloads that fail happen within.
class Generation {
 public:
  Generation(asio::io_context& io, Services& services, ListenerSet& listeners, const ProcessSignals& signals,
             const ProcessHooks& hooks, const std::optional<RunAs>& account)
      : io_(io), services_(services), listeners_(listeners), hooks_(hooks), account_(account), signals_(io, signals),
        watchdog_(io) {}

  After run(std::optional<Config>& next) {
    next_ = &next;
    wait_for_signal();
    if (auto period = systemd::watchdog_period()) keep_watchdog_fed(*period);
    io_.run();
    return after_;
  }

 private:
  void wait_for_signal() {
    signals_.async_wait([this](int signo) {
      switch (signo) {
        case SIGUSR1:
          spdlog::info("signal {}: reopening the log file", signo);
          if (hooks_.reopen_logs) hooks_.reopen_logs();
          wait_for_signal();
          return;
        case SIGHUP:
          if (reload()) return;
          wait_for_signal();
          return;
        default:
          spdlog::info("signal {}: stopping (draining for at most {} ms)", signo,
                       services_.config().reply_deadline.count());
          systemd::stopping("stopping");
          finish(After::stop);
      }
    });
  }

  // True when a new generation is to start.
  bool reload() {
    const Config& running = services_.config();
    spdlog::info("SIGHUP: reading the configuration again ({})", running.source);
    systemd::reloading("reloading the configuration");
    auto loaded = hooks_.reload();
    if (!loaded) {
      for (const ConfigProblem& p : loaded.error()) spdlog::error("reload: {}", p.to_string());
      spdlog::error("reload: the configuration has {} problem(s); still running with the previous one",
                    loaded.error().size());
      systemd::ready("running; the last reload failed: configuration problems (see the log)");
      return false;
    }
    keep_start_up_settings(running, *loaded);
    const std::string owner = account_ ? account_->user : "";
    const std::string group = account_ ? account_->group : "";
    if (auto bound = listeners_.update(*loaded, owner, group); !bound) {
      spdlog::error("reload: {}; still running with the previous configuration", bound.error());
      systemd::ready("running; the last reload failed: a socket could not be bound (see the log)");
      return false;
    }
    *next_ = std::move(*loaded);
    finish(After::reload);
    return true;
  }

  void finish(After after) {
    after_ = after;
    signals_.cancel();
    services_.drain([this] {
      watchdog_.cancel();
      io_.stop();
    });
  }

  // Keep-alives from the io_context itself: a loop that hangs stops them and systemd
  // restarts the daemon.
  void keep_watchdog_fed(std::chrono::microseconds period) {
    systemd::watchdog();
    watchdog_.expires_after(period);
    watchdog_.async_wait([this, period](boost::system::error_code ec) {
      if (!ec) keep_watchdog_fed(period);
    });
  }

  asio::io_context& io_;
  Services& services_;
  ListenerSet& listeners_;
  const ProcessHooks& hooks_;
  const std::optional<RunAs>& account_;
  ProcessSignals::Reader signals_;
  asio::steady_timer watchdog_;
  std::optional<Config>* next_ = nullptr;
  After after_ = After::stop;
};

std::string ready_status(const Config& config) {
  return fmt::format("answering on {} socketmap listener(s); config {}", config.listen.size(), config.source);
}

}  // namespace

int run_daemon(Config config, const ProcessHooks& hooks) {
  const util::TimePoint started = util::system_now();
  const auto started_steady = std::chrono::steady_clock::now();
  auto signals = ProcessSignals::block();
  if (!signals) {
    spdlog::critical("{}", signals.error());
    return 1;
  }
  // Connections plus listeners, LMDB, DNS and fetches in flight.
  raise_fd_limit(config.max_connections + 256);
  restrict_umask();
  auto account = account_to_run_as(config);
  if (!account) {
    spdlog::critical("{}", account.error());
    return 1;
  }
  if (!permissions_allow_start(config)) return 1;
  ListenerSet listeners;
  const std::string owner = *account ? (*account)->user : "";
  const std::string group = *account ? (*account)->group : "";
  if (auto bound = listeners.update(config, owner, group); !bound) {
    spdlog::critical("cannot listen: {}", bound.error());
    return 1;
  }
  if (*account) {
    if (auto handed = hand_over_state_dir(config.state_dir, **account); !handed) {
      spdlog::critical("state_dir: {}", handed.error());
      return 1;
    }
    if (auto dropped = drop_privileges(**account); !dropped) {
      spdlog::critical("cannot drop privileges to user {}: {}", (*account)->user, dropped.error());
      return 1;
    }
  }
  auto stores = open_stores(config);
  if (!stores) {
    spdlog::critical("{}", stores.error());
    return 1;
  }
  Metrics metrics(MTASTSD_VERSION, started);
  const ProcessResources process{stores->env, *stores->policies, *stores->tlsrpt, *stores->validations, listeners,
                                 metrics, started, started_steady};

  std::optional<Config> previous;  // while a reloaded configuration starts: the one to go back to
  for (;;) {
    asio::io_context io(1);
    auto services = Services::start(io, config, process);
    if (!services) {
      if (!previous) {
        spdlog::critical("{}", services.error());
        return 1;
      }
      spdlog::error("reload: the new configuration cannot start: {}; going back to the previous one",
                    services.error());
      listeners.retire_unused(*previous);
      config = std::move(*previous);
      previous.reset();
      continue;
    }
    if (previous) {
      listeners.retire_unused(config);
      if (hooks.apply_log_settings) hooks.apply_log_settings(config.log);
      previous.reset();
      spdlog::info("mtastsd reloaded (config {})", config.source);
    } else {
      spdlog::info("mtastsd ready ({} listener(s), config {})", config.listen.size(), config.source);
    }
    systemd::ready(ready_status(config));

    std::optional<Config> next;
    Generation generation(io, **services, listeners, *signals, hooks, *account);
    const After after = generation.run(next);
    (*services)->log_summary();
    services->reset();  // before the io_context its parts use
    if (after == After::stop) break;
    previous = std::move(config);
    config = std::move(*next);
  }
  spdlog::info("mtastsd stopped");
  return 0;
}

}  // namespace mtastsd::daemon

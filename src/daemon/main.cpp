// mtastsd: the MTA-STS policy daemon for Postfix's smtp_tls_policy_maps.
// Usage in mtastsd(8).
#include <cstdio>
#include <iostream>
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>
#include "daemon/config.hpp"
#include "daemon/daemon.hpp"
#include "daemon/logging.hpp"
#include "daemon/permission_audit.hpp"

int main(int argc, char** argv) {
  CLI::App app{"mtastsd: MTA-STS (RFC 8461) policy server for Postfix"};
  std::string config_file, state_dir, log_level;
  bool check_config = false, version = false;
  app.add_option("-c,--config", config_file, "configuration file (default: built-in defaults)");
  app.add_option("--state-dir", state_dir, "keep socket, cache and runtime files under this directory");
  app.add_flag("--check-config", check_config, "validate the configuration and exit");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error (overrides the file)");
  app.add_flag("--version", version, "print the version and exit");
  CLI11_PARSE(app, argc, argv);
  if (version) {
    std::cout << "mtastsd " << MTASTSD_VERSION << "\n";
    return 0;
  }

  auto config = config_file.empty() ? std::expected<mtastsd::daemon::Config,
                                                    std::vector<mtastsd::daemon::ConfigProblem>>(
                                          mtastsd::daemon::default_config(state_dir))
                                    : mtastsd::daemon::load_config(config_file, state_dir);
  if (!config) {
    for (const auto& p : config.error()) std::cerr << p.to_string() << "\n";
    return 1;
  }
  if (check_config) {
    // Also who may touch the files and sockets (daemon/permission_audit): warnings on
    // standard error, an error fails the check as it would fail the start.
    auto account = mtastsd::daemon::account_after_start_up(*config);
    if (!account) {
      std::cerr << "mtastsd: error: " << account.error() << "\n";
      return 1;
    }
    bool failed = false;
    for (const auto& f : mtastsd::daemon::audit_permissions(*config, *account)) {
      std::cerr << "mtastsd: " << to_string(f.severity) << ": " << f.text << "\n";
      failed = failed || f.severity == mtastsd::core::PermissionSeverity::error;
    }
    if (failed) return 1;
    std::cout << config->source << ": ok\n";
    return 0;
  }
  if (auto logging = mtastsd::daemon::set_up_logging(config->log, log_level); !logging) {
    std::cerr << "mtastsd: " << logging.error() << "\n";
    return 1;
  }
  mtastsd::daemon::ProcessHooks hooks;
  hooks.reload = [config_file, state_dir]() {
    return config_file.empty() ? std::expected<mtastsd::daemon::Config, std::vector<mtastsd::daemon::ConfigProblem>>(
                                     mtastsd::daemon::default_config(state_dir))
                               : mtastsd::daemon::load_config(config_file, state_dir);
  };
  // --log-level stays in force across reloads; a new target that cannot be opened keeps the old one.
  hooks.apply_log_settings = [log_level](const mtastsd::daemon::LogSettings& log) {
    if (auto logging = mtastsd::daemon::set_up_logging(log, log_level); !logging)
      spdlog::error("reload: {}; keeping the previous log settings", logging.error());
  };
  hooks.reopen_logs = mtastsd::daemon::reopen_log_files;
  return mtastsd::daemon::run_daemon(std::move(*config), hooks);
}

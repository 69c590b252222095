// The mtastsd process: binds its sockets (daemon/listeners), drops root
// (daemon/privileges), opens the LMDB environment, then runs generations of
// services (daemon/services) one after another on fresh io_contexts:
// SIGHUP reads the configuration again and, when it is valid, drains the
// running generation and starts the next with it (a file that does not load,
// or a generation that does not start, keeps the previous configuration and
// says why); SIGTERM/SIGINT drain and exit; SIGUSR1 reopens the log file.
// Tells systemd about it all (daemon/systemd_notify).
#pragma once
#include <expected>
#include <functional>
#include <vector>
#include "daemon/config.hpp"

namespace mtastsd::daemon {

// What the process asks of main(): reading the configuration again (SIGHUP), applying
// a configuration's log settings (after a reload; a failure is logged, the old log
// stays), reopening log files (SIGUSR1).
struct ProcessHooks {
  std::function<std::expected<Config, std::vector<ConfigProblem>>()> reload;
  std::function<void(const LogSettings&)> apply_log_settings;
  std::function<void()> reopen_logs;
};

// Runs until a stop signal. Returns the process exit status; start-up
// problems are logged and give a non-zero status.
int run_daemon(Config config, const ProcessHooks& hooks);

}  // namespace mtastsd::daemon

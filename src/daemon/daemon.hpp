// Wires the daemon together: store, resolver, fetcher, lookup service,
// socketmap server, refresher, TLS-RPT collection and reports, the MX
// validator of testing-mode domains and the control socket (mtastsctl status,
// stats, cache refresh) on one io_context; handles signals
// (SIGTERM/SIGINT: stop accepting, drain in-flight lookups, exit).
#pragma once
#include "daemon/config.hpp"

namespace mtastsd::daemon {

// Runs until a stop signal. Returns the process exit status; start-up
// problems are logged and give a non-zero status.
int run_daemon(const Config& config);

}  // namespace mtastsd::daemon

// mtastsctl's commands that ask the running daemon, through its control socket
// (config `control`, ctl/control_client):
//   status [--json]: whether the daemon runs; its version, process id, configuration,
//     start time and uptime, cache entries, listeners and next report run. When it does
//     not answer: says so, shows what can be read here (the cache's entries), exit 3.
//   stats [--json]: its metric samples, one `name{labels}<TAB>value` line each (the
//     Prometheus text without comments); --json: [{"name", "labels", "value"}, ..].
//   cache refresh DOMAIN [--json]: the daemon re-fetches DOMAIN's policy now and
//     answers with the new cache record (--json: the object `cache show --json` prints,
//     without its MX validation); text: one `key<TAB>value` line per field.
// Default output is tab-separated (key<TAB>value), for people and for cut(1).
#pragma once
#include <string>
#include "daemon/config.hpp"

namespace mtastsd::ctl {

// Exit status of these commands: 0 ok; 1 the daemon's refresh failed (no policy, the
// fetch failed or is backed off, DNS error: its message on stderr); 2 an error here (not
// a domain name, no permission on the socket, no or a malformed reply in time); 3 the
// daemon is not running (nothing listens on the control socket; LSB's "program is not
// running" status).
inline constexpr int kDaemonNotRunning = 3;

int status(const daemon::Config& config, bool as_json);
int stats(const daemon::Config& config, bool as_json);
int cache_refresh(const daemon::Config& config, const std::string& domain, bool as_json);

}  // namespace mtastsd::ctl

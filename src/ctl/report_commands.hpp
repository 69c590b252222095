// mtastsctl's commands on the TLS-RPT report queue (io/report_outbox):
//   report send --day DAY [--domain D] [--resend] [--json]: plan the day's reports if the
//     daemon has not yet, and send the due and failed ones now, in this process, recording
//     each attempt as the daemon would (daemon/report_dispatch); --resend sends delivered
//     ones again (same report-id). Prints one line per attempt and per delivery another
//     process is sending (--json: their `report status --json` objects, in one array).
//     Exit 0 all delivered, 1 nothing to send, 2 an attempt failed or an error.
//   report status [--day DAY] [--json]: every queued, sent and failed delivery with its
//     attempts, next attempt and last result.
#pragma once
#include <optional>
#include <string>
#include "daemon/config.hpp"

namespace mtastsd::ctl {

int report_send(const daemon::Config& config, const std::string& day, const std::string& domain, bool resend,
                bool as_json);
int report_status(const daemon::Config& config, const std::string& day, bool as_json);

}  // namespace mtastsd::ctl

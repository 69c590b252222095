// `mtastsctl check DOMAIN [--json]`: checks a domain's MTA-STS and TLS-RPT setup from
// the sending side, as the validation web sites do, and explains every finding
// (core/setup_check judges, this file gathers the facts): the _mta-sts TXT record, the
// policy fetch, the policy, the policy mtastsd cached under the same id (read-only), the
// MX records against the policy, each MX host's STARTTLS and certificate (io/mx_probe,
// never sending mail), DANE, and the _smtp._tls record.
// Limits: at most kMaxProbedHosts MX hosts and kMaxAddressesPerHost addresses each are
// probed, all at once; every step has the deadline of its settings.
#pragma once
#include <string>
#include "daemon/config.hpp"

namespace mtastsd::ctl {

// Exit status, as monitoring plugins use it: 0 ok, 1 warnings, 2 failures, 3 the check
// itself could not run (bad arguments or configuration).
inline constexpr int kCheckOk = 0, kCheckWarnings = 1, kCheckFailures = 2, kCheckUnknown = 3;

struct CheckOptions {
  std::string domain;     // as given; normalised like a socketmap key
  std::string helo_name;  // EHLO name for the MX probes; "" = this host's name
  bool as_json = false;
};

int check(const daemon::Config& config, const CheckOptions& options);

}  // namespace mtastsd::ctl

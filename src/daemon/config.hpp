// mtastsd's configuration: one TOML file (toml++), every key documented in
// mtastsd.conf(5). Without a file, the embedded defaults apply. Durations are
// integers (seconds) or strings with a unit ("500ms", "30s", "5m", "2h", "7d").
#pragma once
#include <chrono>
#include <cstdint>
#include <expected>
#include <map>
#include <optional>
#include <string>
#include <vector>
#include "core/answer.hpp"
#include "core/cache_rules.hpp"
#include "io/dns_resolver.hpp"
#include "io/mx_probe.hpp"
#include "io/policy_fetcher.hpp"
#include "io/report_sender.hpp"

namespace mtastsd::daemon {

struct ListenEndpoint {
  // Exactly one of unix_path / tcp.
  std::string unix_path;        // "/run/mtastsd/socketmap.sock"
  std::string owner, group;     // "" = unchanged
  std::uint32_t mode = 0660;
  std::string tcp_address;      // loopback only: "127.0.0.1" or "::1"
  std::uint16_t tcp_port = 0;
};

enum class TestingAnswer { notfound, enforce };

struct Profile {
  std::string name;
  core::Dialect dialect = core::Dialect::postfix;
  TestingAnswer testing = TestingAnswer::notfound;
  // Answer "dane"/"dane-only" where DANE applies (RFC 8461 sec. 2: MTA-STS must not
  // override DANE). Only for Postfix with smtp_dns_support_level = dnssec.
  bool dane = false;
  // Also validate the MX hosts of enforce-mode domains (daemon/mx_validator): shown by
  // mtastsctl only; Postfix enforces and reports those sessions itself.
  bool validate_enforce = false;
};

// mtastsd's own validation of the MX hosts of testing-mode domains (issue 5,
// daemon/mx_validator), in [mx_validation].
struct MxValidationSettings {
  bool enabled = true;
  std::chrono::seconds interval{std::chrono::hours(1)};  // one probe per MX host and address this often
  std::size_t concurrency = 4;                           // probes at a time, all domains together
  // Each probe is also counted as a TLS session of the day's report (for senders whose
  // Postfix reports nothing: no libtlsrpt, no log source).
  bool count_as_sessions = false;
  // Config keys: helo_name -> probe.helo_name ("" = this host's name, found at start-up),
  // ca_file -> probe.ca_file ("" = fetch.ca_file, filled in by the loader),
  // step_timeout, session_timeout -> probe.*.
  io::MxProbeSettings probe;
};

// TLS-RPT collection (RFC 8460) and who the reports come from.
struct TlsRptSettings {
  bool enabled = true;
  // The libtlsrpt datagram socket (Postfix >= 3.10 smtp_tlsrpt_socket_name): unix_path,
  // owner, group and mode as for a unix listener. Default <runtime_dir>/tlsrpt.sock.
  ListenEndpoint socket;
  // Postfix <= 3.9 mail log to follow: "" = none, "-" = standard input, else a file.
  std::string postfix_log;
  // The profile (socketmap map NAME) that log's Postfix uses: what mtastsd answered it.
  std::string postfix_log_profile = "default";
  unsigned retention_days = 14;  // days before today kept; older ones are pruned
  // RFC 8460 sec. 4.4 organization-name and contact-info, and the submitter domain
  // (sec. 5.1 file name, sec. 5.3 TLS-Report-Submitter); "" = not configured.
  std::string organization_name;
  std::string contact_info;
  std::string submitter;

  // Report sending (RFC 8460 sec. 5). false = count only: reports are shown by
  // mtastsctl but neither built nor sent by the daemon.
  bool send_reports = true;
  // A day's reports go out at a random time within this after 00:00 UTC of the next
  // day (RFC 8460 sec. 4.1 asks reporters to spread their submissions); 0 = at once.
  std::chrono::seconds send_delay{std::chrono::hours(4)};
  // A failed delivery is retried with exponential back-off until this long after its
  // first attempt (RFC 8460 sec. 5.5: up to 24 hours).
  std::chrono::seconds retry_period{std::chrono::hours(24)};
  // How the reports are delivered. Config keys (all in [tlsrpt]):
  //   mail_from              -> sender.mail_from; "" = "noreply-smtp-tls-reporting@<submitter>"
  //                             (filled in by the loader when submitter is set)
  //   mail_transport         -> sender.transport: "smtp" | "sendmail"
  //   smtp_relay             -> sender.smtp.host/port: "HOST:PORT" or "[IPv6]:PORT", default "127.0.0.1:25"
  //   smtp_helo              -> sender.smtp.helo_name
  //   smtp_require_starttls  -> sender.smtp.require_starttls
  //   smtp_ca_file           -> sender.smtp.ca_file
  //   sendmail_command       -> sender.sendmail_command (absolute path)
  //   mail_timeout           -> sender.mail_timeout (duration)
  //   dkim_key_file          -> sender.dkim.key_file
  //   dkim_selector          -> sender.dkim.selector (required with a key file)
  //   dkim_domain            -> sender.dkim.domain; "" = submitter
  //   https_ca_file          -> sender.https.ca_file
  //   https_timeout          -> sender.https.timeout (duration)
  //   https_refuse_special_addresses -> sender.https.refuse_special_addresses
  io::ReportSenderSettings sender;
};

// Where the log goes (log_target): stderr (the journal under systemd), a file
// (reopened on SIGUSR1, for logrotate), syslog(3), or journald's native protocol.
enum class LogTarget { stderr_stream, file, syslog, journal };

struct LogSettings {
  std::string level = "info";                 // log_level: trace, debug, info, warn, error
  LogTarget target = LogTarget::stderr_stream;
  std::string file;                           // log_file: absolute path, with log_target = "file"
  std::string syslog_facility = "mail";       // syslog_facility: mail, daemon, user, local0..local7
};

struct Config {
  std::string source;                      // file path, or "(built-in defaults)"
  std::string state_dir = "/var/lib/mtastsd";
  LogSettings log;
  // Started as root, mtastsd binds its sockets, prepares state_dir, then runs as this
  // user ("" = stays root, with a warning) and group ("" = the user's primary group),
  // with the user's supplementary groups (e.g. adm to read the mail log).
  std::string user;
  std::string group;

  std::vector<ListenEndpoint> listen;      // default: unix socket <runtime_dir>/socketmap.sock
  std::string runtime_dir = "/run/mtastsd";
  // mtastsctl's control socket (status, stats, cache refresh): unix only, default
  // <runtime_dir>/control.sock, mode 0600 (root and the daemon's user).
  ListenEndpoint control;
  // Prometheus metrics over HTTP ([metrics] listen): loopback TCP only; tcp_port 0 = off.
  ListenEndpoint metrics;
  std::chrono::milliseconds idle_timeout{60000};   // close idle client connections
  std::size_t max_connections = 4096;

  std::size_t cache_map_size = 256u << 20;
  core::CacheSettings cache;
  std::chrono::milliseconds refresh_scan_interval{60000};
  std::size_t refresh_concurrency = 8;

  io::DnsSettings dns;
  io::FetchSettings fetch;

  std::chrono::milliseconds cold_budget{3000};     // a cold lookup waits at most this long
  std::chrono::milliseconds reply_deadline{10000}; // any lookup is answered within this

  TlsRptSettings tlsrpt;
  MxValidationSettings mx_validation;

  std::map<std::string, Profile> profiles;         // always holds "default"
  const Profile& profile_for(const std::string& map_name, bool* known = nullptr) const;
};

struct ConfigProblem {
  std::string file;
  int line = 0;      // 0 = whole file
  std::string message;
  std::string to_string() const;  // "FILE:LINE: message"
};

// Whether `name` may be sent as our EHLO name (mx_validation.helo_name): a host name
// (RFC 5321 sec. 4.1.1.1), and not "localhost" or a name under it (RFC 6761 sec. 6.3),
// which would name every host.
bool usable_helo_name(std::string_view name);

// Built-in defaults; state_dir_override (if non-empty) puts socket, cache and
// runtime files under that directory (scripts/run, tests).
Config default_config(const std::string& state_dir_override = "");

// Every key mtastsd.conf(5) must document, as "table.key" ("key" at the top level,
// "profiles.NAME.key" for a profile's keys); the loader rejects every other key.
std::vector<std::string> config_key_names();

// Parse and validate a file. Unknown keys are errors (typos must not pass silently).
std::expected<Config, std::vector<ConfigProblem>> load_config(const std::string& path,
                                                               const std::string& state_dir_override = "");
std::expected<Config, std::vector<ConfigProblem>> parse_config(std::string_view toml_text, const std::string& source,
                                                                const std::string& state_dir_override = "");

}  // namespace mtastsd::daemon

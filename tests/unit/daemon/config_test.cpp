// daemon/config: defaults, every key of mtastsd.conf(5), and each rejection
// with the line it is reported on.
#include "daemon/config.hpp"

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mtastsd::daemon {
namespace config_test {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using testing::AllOf;
using testing::ElementsAre;
using testing::HasSubstr;
using testing::SizeIs;
using testing::StartsWith;

constexpr const char* kFile = "test.conf";

Config parse_ok(std::string_view text, const std::string& state_dir_override = "") {
  auto config = parse_config(text, kFile, state_dir_override);
  if (!config) {
    for (const auto& p : config.error()) ADD_FAILURE() << p.to_string();
    return default_config();
  }
  return *config;
}

// Every problem as "test.conf:LINE: message"; empty when the text is accepted.
std::vector<std::string> problems(std::string_view text) {
  auto config = parse_config(text, kFile);
  std::vector<std::string> out;
  if (!config) {
    for (const auto& p : config.error()) out.push_back(p.to_string());
  }
  return out;
}

std::string only_problem(std::string_view text) {
  auto found = problems(text);
  EXPECT_THAT(found, SizeIs(1)) << testing::PrintToString(found);
  return found.empty() ? std::string() : found.front();
}

void expect_default_values(const Config& c) {
  EXPECT_EQ(c.state_dir, "/var/lib/mtastsd");
  EXPECT_EQ(c.runtime_dir, "/run/mtastsd");
  EXPECT_EQ(c.log.level, "info");
  ASSERT_THAT(c.listen, SizeIs(1));
  EXPECT_EQ(c.listen[0].unix_path, "/run/mtastsd/socketmap.sock");
  EXPECT_EQ(c.listen[0].mode, 0660u);
  EXPECT_EQ(c.listen[0].owner, "");
  EXPECT_EQ(c.listen[0].group, "");
  EXPECT_EQ(c.listen[0].tcp_address, "");
  EXPECT_EQ(c.idle_timeout, seconds(60));
  EXPECT_EQ(c.max_connections, 4096u);
  EXPECT_EQ(c.cache_map_size, 256u << 20);
  EXPECT_EQ(c.cache.id_check_interval, seconds(300));
  EXPECT_EQ(c.cache.fetch_retry_after, seconds(300));
  EXPECT_EQ(c.cache.negative_ttl_min, seconds(60));
  EXPECT_EQ(c.cache.negative_ttl_max, seconds(3600));
  EXPECT_EQ(c.cache.dns_error_retry, seconds(60));
  EXPECT_EQ(c.cache.refresh_margin, seconds(86400));
  EXPECT_EQ(c.cache.refresh_unused_after, seconds(30 * 86400));
  EXPECT_EQ(c.cache.drop_unused_after, seconds(90 * 86400));
  EXPECT_EQ(c.refresh_scan_interval, seconds(60));
  EXPECT_EQ(c.refresh_concurrency, 8u);
  EXPECT_EQ(c.cache.dane_ttl_min, seconds(60));
  EXPECT_EQ(c.cache.dane_ttl_max, seconds(3600));
  EXPECT_TRUE(c.dns.forwarders.empty());
  EXPECT_EQ(c.dns.resolv_conf, "/etc/resolv.conf");
  const bool have_root_key = std::filesystem::exists("/usr/share/dns/root.key");
  EXPECT_EQ(c.dns.trust_anchor_file, have_root_key ? "/usr/share/dns/root.key" : "");
  EXPECT_EQ(c.dns.timeout, seconds(10));
  EXPECT_EQ(c.fetch.ca_file, "");
  EXPECT_EQ(c.fetch.timeout, seconds(60));
  EXPECT_TRUE(c.fetch.refuse_special_addresses);
  EXPECT_EQ(c.cold_budget, seconds(3));
  EXPECT_EQ(c.reply_deadline, seconds(10));
  EXPECT_TRUE(c.tlsrpt.enabled);
  EXPECT_EQ(c.tlsrpt.socket.unix_path, "/run/mtastsd/tlsrpt.sock");
  EXPECT_EQ(c.tlsrpt.socket.mode, 0660u);
  EXPECT_EQ(c.tlsrpt.socket.owner, "");
  EXPECT_EQ(c.tlsrpt.socket.group, "");
  EXPECT_EQ(c.tlsrpt.postfix_log, "");
  EXPECT_EQ(c.tlsrpt.postfix_log_profile, "default");
  EXPECT_EQ(c.tlsrpt.retention_days, 14u);
  EXPECT_EQ(c.tlsrpt.organization_name, "");
  EXPECT_EQ(c.tlsrpt.contact_info, "");
  EXPECT_EQ(c.tlsrpt.submitter, "");
  EXPECT_TRUE(c.tlsrpt.send_reports);
  EXPECT_EQ(c.tlsrpt.send_delay, hours(4));
  EXPECT_EQ(c.tlsrpt.retry_period, hours(24));
  const io::ReportSenderSettings& sender = c.tlsrpt.sender;
  EXPECT_EQ(sender.mail_from, "");  // no submitter to derive it from
  EXPECT_EQ(sender.transport, io::MailTransport::smtp);
  EXPECT_EQ(sender.smtp.host, "127.0.0.1");
  EXPECT_EQ(sender.smtp.port, 25);
  EXPECT_EQ(sender.smtp.helo_name, "");
  EXPECT_FALSE(sender.smtp.require_starttls);
  EXPECT_EQ(sender.smtp.ca_file, "");
  EXPECT_EQ(sender.sendmail_command, "/usr/sbin/sendmail");
  EXPECT_EQ(sender.mail_timeout, minutes(5));
  EXPECT_EQ(sender.dkim.key_file, "");
  EXPECT_EQ(sender.dkim.selector, "");
  EXPECT_EQ(sender.dkim.domain, "");
  EXPECT_EQ(sender.https.ca_file, "");
  EXPECT_EQ(sender.https.timeout, seconds(60));
  EXPECT_TRUE(sender.https.refuse_special_addresses);
  ASSERT_THAT(c.profiles, SizeIs(1));
  const Profile& p = c.profiles.at("default");
  EXPECT_EQ(p.name, "default");
  EXPECT_EQ(p.dialect, core::Dialect::postfix);
  EXPECT_EQ(p.testing, TestingAnswer::notfound);
  EXPECT_FALSE(p.dane);
  EXPECT_FALSE(p.validate_enforce);
  const MxValidationSettings& m = c.mx_validation;
  EXPECT_TRUE(m.enabled);
  EXPECT_EQ(m.interval, hours(1));
  EXPECT_EQ(m.concurrency, 4u);
  EXPECT_FALSE(m.count_as_sessions);
  EXPECT_EQ(m.probe.helo_name, "");  // this host's name, found at start-up
  EXPECT_EQ(m.probe.ca_file, "");    // fetch.ca_file
  EXPECT_EQ(m.probe.port, 25);
  EXPECT_EQ(m.probe.step_timeout, seconds(30));
  EXPECT_EQ(m.probe.session_timeout, minutes(2));
}

TEST(DefaultConfig, BuiltInValues) {
  const Config c = default_config();
  EXPECT_EQ(c.source, "(built-in defaults)");
  expect_default_values(c);
}

TEST(ParseConfig, EmptyFileGivesTheDefaults) {
  const Config c = parse_ok("");
  EXPECT_EQ(c.source, kFile);
  expect_default_values(c);
}

TEST(ParseConfig, EveryKey) {
  const Config c = parse_ok(R"(
state_dir = "/srv/mtastsd/state"
runtime_dir = "/srv/mtastsd/run"
log_level = "debug"

[[listen]]
unix = "/var/spool/postfix/private/mtastsd"
owner = "postfix"
group = "mail"
mode = "0600"

[[listen]]
tcp = "127.0.0.1:8461"

[[listen]]
tcp = "[::1]:8462"

[server]
idle_timeout = "30s"
max_connections = 100

[cache]
map_size = "1GiB"
id_check_interval = "10m"
fetch_retry_after = "15m"
negative_ttl_min = "2m"
negative_ttl_max = "2h"
dns_error_retry = "30s"
refresh_margin = "2d"
refresh_unused_after = "14d"
drop_unused_after = "60d"
refresh_scan_interval = "500ms"
refresh_concurrency = 16
dane_ttl_min = "30s"
dane_ttl_max = "2h"

[dns]
forwarders = ["127.0.0.53", "127.0.0.1@5353", "::1"]
resolv_conf = "/etc/mtastsd/resolv.conf"
trust_anchor_file = "/var/lib/unbound/root.key"
timeout = "5s"

[fetch]
ca_file = "/etc/ssl/certs/ca-certificates.crt"
timeout = "20s"
refuse_special_addresses = false

[lookup]
cold_budget = "1500ms"
reply_deadline = "8s"

[tlsrpt]
enabled = false
socket = "/var/spool/postfix/mtastsd/tlsrpt.sock"
socket_mode = "0620"
socket_owner = "mtastsd"
socket_group = "postfix"
postfix_log = "/var/log/mail.log"
postfix_log_profile = "postfix310"
retention_days = 30
organization_name = "Example Mail GmbH"
contact_info = "tlsrpt@example.net"
submitter = "Mail.Example.NET"
send_reports = false
send_delay = "30m"
retry_period = "12h"
mail_from = "tlsrpt-noreply@Example.NET"
mail_transport = "sendmail"
smtp_relay = "relay.example.net:587"
smtp_helo = "mta1.example.net"
smtp_require_starttls = true
smtp_ca_file = "/etc/ssl/relay-ca.pem"
sendmail_command = "/usr/local/sbin/sendmail"
mail_timeout = "2m"
dkim_key_file = "/etc/mtastsd/dkim.key"
dkim_selector = "tlsrpt2026"
dkim_domain = "Example.NET"
https_ca_file = "/etc/ssl/upload-ca.pem"
https_timeout = "90s"
https_refuse_special_addresses = false

[mx_validation]
enabled = false
interval = "30m"
concurrency = 2
helo_name = "MTA1.example.net"
ca_file = "/etc/ssl/mx-ca.pem"
step_timeout = "10s"
session_timeout = "1m"
count_as_sessions = true

[profiles.postfix310]
dialect = "postfix-tlsrpt"
testing = "enforce"
dane = true
validate_enforce = true
)");
  EXPECT_EQ(c.source, kFile);
  EXPECT_EQ(c.state_dir, "/srv/mtastsd/state");
  EXPECT_EQ(c.runtime_dir, "/srv/mtastsd/run");
  EXPECT_EQ(c.log.level, "debug");
  ASSERT_THAT(c.listen, SizeIs(3));
  EXPECT_EQ(c.listen[0].unix_path, "/var/spool/postfix/private/mtastsd");
  EXPECT_EQ(c.listen[0].owner, "postfix");
  EXPECT_EQ(c.listen[0].group, "mail");
  EXPECT_EQ(c.listen[0].mode, 0600u);
  EXPECT_EQ(c.listen[1].unix_path, "");
  EXPECT_EQ(c.listen[1].tcp_address, "127.0.0.1");
  EXPECT_EQ(c.listen[1].tcp_port, 8461);
  EXPECT_EQ(c.listen[2].tcp_address, "::1");
  EXPECT_EQ(c.listen[2].tcp_port, 8462);
  EXPECT_EQ(c.idle_timeout, seconds(30));
  EXPECT_EQ(c.max_connections, 100u);
  EXPECT_EQ(c.cache_map_size, std::size_t{1} << 30);
  EXPECT_EQ(c.cache.id_check_interval, seconds(600));
  EXPECT_EQ(c.cache.fetch_retry_after, seconds(900));
  EXPECT_EQ(c.cache.negative_ttl_min, seconds(120));
  EXPECT_EQ(c.cache.negative_ttl_max, seconds(7200));
  EXPECT_EQ(c.cache.dns_error_retry, seconds(30));
  EXPECT_EQ(c.cache.refresh_margin, seconds(2 * 86400));
  EXPECT_EQ(c.cache.refresh_unused_after, seconds(14 * 86400));
  EXPECT_EQ(c.cache.drop_unused_after, seconds(60 * 86400));
  EXPECT_EQ(c.refresh_scan_interval, milliseconds(500));
  EXPECT_EQ(c.refresh_concurrency, 16u);
  EXPECT_EQ(c.cache.dane_ttl_min, seconds(30));
  EXPECT_EQ(c.cache.dane_ttl_max, seconds(7200));
  EXPECT_THAT(c.dns.forwarders, ElementsAre("127.0.0.53", "127.0.0.1@5353", "::1"));
  EXPECT_EQ(c.dns.resolv_conf, "/etc/mtastsd/resolv.conf");
  EXPECT_EQ(c.dns.trust_anchor_file, "/var/lib/unbound/root.key");
  EXPECT_EQ(c.dns.timeout, seconds(5));
  EXPECT_EQ(c.fetch.ca_file, "/etc/ssl/certs/ca-certificates.crt");
  EXPECT_EQ(c.fetch.timeout, seconds(20));
  EXPECT_FALSE(c.fetch.refuse_special_addresses);
  EXPECT_EQ(c.cold_budget, milliseconds(1500));
  EXPECT_EQ(c.reply_deadline, seconds(8));
  EXPECT_FALSE(c.tlsrpt.enabled);
  EXPECT_EQ(c.tlsrpt.socket.unix_path, "/var/spool/postfix/mtastsd/tlsrpt.sock");
  EXPECT_EQ(c.tlsrpt.socket.mode, 0620u);
  EXPECT_EQ(c.tlsrpt.socket.owner, "mtastsd");
  EXPECT_EQ(c.tlsrpt.socket.group, "postfix");
  EXPECT_EQ(c.tlsrpt.postfix_log, "/var/log/mail.log");
  EXPECT_EQ(c.tlsrpt.postfix_log_profile, "postfix310");
  EXPECT_EQ(c.tlsrpt.retention_days, 30u);
  EXPECT_EQ(c.tlsrpt.organization_name, "Example Mail GmbH");
  EXPECT_EQ(c.tlsrpt.contact_info, "tlsrpt@example.net");
  EXPECT_EQ(c.tlsrpt.submitter, "mail.example.net");
  EXPECT_FALSE(c.tlsrpt.send_reports);
  EXPECT_EQ(c.tlsrpt.send_delay, minutes(30));
  EXPECT_EQ(c.tlsrpt.retry_period, hours(12));
  const io::ReportSenderSettings& sender = c.tlsrpt.sender;
  EXPECT_EQ(sender.mail_from, "tlsrpt-noreply@example.net");
  EXPECT_EQ(sender.transport, io::MailTransport::sendmail);
  EXPECT_EQ(sender.smtp.host, "relay.example.net");
  EXPECT_EQ(sender.smtp.port, 587);
  EXPECT_EQ(sender.smtp.helo_name, "mta1.example.net");
  EXPECT_TRUE(sender.smtp.require_starttls);
  EXPECT_EQ(sender.smtp.ca_file, "/etc/ssl/relay-ca.pem");
  EXPECT_EQ(sender.sendmail_command, "/usr/local/sbin/sendmail");
  EXPECT_EQ(sender.mail_timeout, minutes(2));
  EXPECT_EQ(sender.dkim.key_file, "/etc/mtastsd/dkim.key");  // not read here: the file does not exist
  EXPECT_EQ(sender.dkim.selector, "tlsrpt2026");
  EXPECT_EQ(sender.dkim.domain, "example.net");
  EXPECT_EQ(sender.https.ca_file, "/etc/ssl/upload-ca.pem");
  EXPECT_EQ(sender.https.timeout, seconds(90));
  EXPECT_FALSE(sender.https.refuse_special_addresses);
  ASSERT_THAT(c.profiles, SizeIs(2));
  const Profile& p = c.profiles.at("postfix310");
  EXPECT_EQ(p.name, "postfix310");
  EXPECT_EQ(p.dialect, core::Dialect::postfix_tlsrpt);
  EXPECT_EQ(p.testing, TestingAnswer::enforce);
  EXPECT_TRUE(p.dane);
  EXPECT_TRUE(p.validate_enforce);
  const MxValidationSettings& m = c.mx_validation;
  EXPECT_FALSE(m.enabled);
  EXPECT_EQ(m.interval, minutes(30));
  EXPECT_EQ(m.concurrency, 2u);
  EXPECT_EQ(m.probe.helo_name, "mta1.example.net");
  EXPECT_EQ(m.probe.ca_file, "/etc/ssl/mx-ca.pem");
  EXPECT_EQ(m.probe.step_timeout, seconds(10));
  EXPECT_EQ(m.probe.session_timeout, minutes(1));
  EXPECT_TRUE(m.count_as_sessions);
  EXPECT_EQ(c.profiles.at("default").dialect, core::Dialect::postfix);
  EXPECT_FALSE(c.profiles.at("default").dane);
}

TEST(ParseConfig, MxValidationChecksItsValues) {
  EXPECT_EQ(only_problem("[mx_validation]\nhelo_name = \"localhost\"\n"),
            "test.conf:2: mx_validation.helo_name: expected \"\" or a host name other than localhost, not "
            "\"localhost\"");
  for (const char* helo : {"mta.localhost", "LocalHost", "a b.example", "[192.0.2.1]", "mta.example."})
    EXPECT_THAT(only_problem(fmt::format("[mx_validation]\nhelo_name = \"{}\"\n", helo)),
                HasSubstr("mx_validation.helo_name: expected")) << helo;
  EXPECT_EQ(only_problem("[mx_validation]\ninterval = \"30s\"\n"),
            "test.conf:2: mx_validation.interval: must be at least 1m, not 30s");
  EXPECT_EQ(only_problem("[mx_validation]\ninterval = \"2d\"\n"),
            "test.conf:2: mx_validation.interval: must be at most 1d, not 2d");
  EXPECT_EQ(only_problem("[mx_validation]\nconcurrency = 0\n"),
            "test.conf:2: mx_validation.concurrency: must be between 1 and 256, not 0");
  EXPECT_EQ(only_problem("[mx_validation]\nstep_timeout = \"6m\"\n"),
            "test.conf:2: mx_validation.step_timeout: must be at most 5m, not 6m");
  EXPECT_EQ(only_problem("[mx_validation]\nsession_timeout = \"20s\"\n"),
            "test.conf:2: mx_validation.step_timeout (30s) must not exceed mx_validation.session_timeout (20s)");
  EXPECT_EQ(only_problem("[mx_validation]\nca_file = \"certs.pem\"\n"),
            "test.conf:2: mx_validation.ca_file: expected an absolute path, not \"certs.pem\"");
  EXPECT_THAT(only_problem("[mx_validation]\nenable = true\n"),
              StartsWith("test.conf:2: unknown key 'mx_validation.enable' (did you mean 'mx_validation.enabled'?)"));
  EXPECT_THAT(only_problem("[profiles.p]\nvalidate_enforce = \"yes\"\n"),
              HasSubstr("profiles.p.validate_enforce: expected true or false"));
}

// MX hosts are checked against the policy hosts' CA bundle unless told otherwise.
TEST(ParseConfig, MxValidationCaFileDefaultsToTheFetchCaFile) {
  EXPECT_EQ(parse_ok("[fetch]\nca_file = \"/etc/ca.pem\"\n").mx_validation.probe.ca_file, "/etc/ca.pem");
  EXPECT_EQ(parse_ok("[fetch]\nca_file = \"/etc/ca.pem\"\n[mx_validation]\nca_file = \"/etc/mx.pem\"\n")
                .mx_validation.probe.ca_file,
            "/etc/mx.pem");
}

TEST(UsableHeloName, HostNamesButNotLocalhost) {
  EXPECT_TRUE(usable_helo_name("mta1.example.net"));
  EXPECT_TRUE(usable_helo_name("mailhost"));
  EXPECT_TRUE(usable_helo_name("localhost.example.net"));  // a real name that starts so
  EXPECT_FALSE(usable_helo_name("localhost"));
  EXPECT_FALSE(usable_helo_name("LOCALHOST"));
  EXPECT_FALSE(usable_helo_name("mta.localhost"));
  EXPECT_FALSE(usable_helo_name(""));
  EXPECT_FALSE(usable_helo_name("127.0.0.1"));
}

TEST(ParseConfig, ProcessLoggingControlAndMetrics) {
  const Config d = parse_ok("");
  EXPECT_EQ(d.log.target, LogTarget::stderr_stream);
  EXPECT_EQ(d.log.syslog_facility, "mail");
  EXPECT_EQ(d.user, "");
  EXPECT_EQ(d.control.mode, 0600u);
  EXPECT_EQ(d.metrics.tcp_port, 0);  // off by default

  const Config c = parse_ok(R"(
user = "mtastsd"
group = "mtastsd"
log_target = "file"
log_file = "/var/log/mtastsd.log"
syslog_facility = "local3"
[control]
unix = "/run/x/control.sock"
group = "adm"
mode = "0660"
[metrics]
listen = "127.0.0.1:9469"
)");
  EXPECT_EQ(c.user, "mtastsd");
  EXPECT_EQ(c.group, "mtastsd");
  EXPECT_EQ(c.log.target, LogTarget::file);
  EXPECT_EQ(c.log.file, "/var/log/mtastsd.log");
  EXPECT_EQ(c.log.syslog_facility, "local3");
  EXPECT_EQ(c.control.unix_path, "/run/x/control.sock");
  EXPECT_EQ(c.control.group, "adm");
  EXPECT_EQ(c.control.mode, 0660u);
  EXPECT_EQ(c.metrics.tcp_address, "127.0.0.1");
  EXPECT_EQ(c.metrics.tcp_port, 9469);
  EXPECT_EQ(parse_ok("[metrics]\nlisten = \"\"\n").metrics.tcp_port, 0);
}

TEST(ParseConfig, ProcessLoggingControlAndMetricsProblems) {
  EXPECT_EQ(only_problem("log_target = \"file\"\n"), "test.conf:1: log_target = \"file\" needs log_file = \"/path\"");
  EXPECT_EQ(only_problem("log_target = \"console\"\n"),
            "test.conf:1: log_target: expected one of \"stderr\", \"file\", \"syslog\", \"journal\", not \"console\"");
  EXPECT_EQ(only_problem("user = \"a b\"\n"), "test.conf:1: user: expected a user or group name, not \"a b\"");
  EXPECT_THAT(only_problem("[metrics]\nlisten = \"0.0.0.0:9469\"\n"), StartsWith("test.conf:2: metrics.listen: 0.0.0.0 is not a loopback"));
  EXPECT_EQ(only_problem("[control]\ntcp = \"127.0.0.1:1\"\n"), "test.conf:2: unknown key 'control.tcp'");
}

TEST(ConfigKeyNames, ListsEveryTableAndTheProfileKeys) {
  const std::vector<std::string> names = config_key_names();
  for (const char* key : {"user", "log_target", "control.mode", "metrics.listen", "tlsrpt.smtp_relay",
                          "profiles.NAME.dane", "listen.unix", "cache.map_size"})
    EXPECT_THAT(names, testing::Contains(std::string(key))) << key;
}

TEST(DefaultConfig, ControlSocketBesideTheSocketmapSocket) {
  const Config c = default_config("/tmp/state");
  EXPECT_EQ(c.control.unix_path, "/tmp/state/control.sock");
}

TEST(ParseConfig, IntegersAreSecondsAndBytes) {
  const Config c = parse_ok("[server]\nidle_timeout = 45\n[cache]\nmap_size = 2097152\nnegative_ttl_min = 0\n");
  EXPECT_EQ(c.idle_timeout, seconds(45));
  EXPECT_EQ(c.cache_map_size, 2097152u);
  EXPECT_EQ(c.cache.negative_ttl_min, seconds(0));
}

TEST(ParseConfig, EmptyStringsSwitchFeaturesOff) {
  const Config c = parse_ok("[dns]\ntrust_anchor_file = \"\"\nresolv_conf = \"\"\n[fetch]\nca_file = \"\"\n");
  EXPECT_EQ(c.dns.trust_anchor_file, "");
  EXPECT_EQ(c.dns.resolv_conf, "");
  EXPECT_EQ(c.fetch.ca_file, "");
}

TEST(ParseConfig, UnknownKeyWithLineAndSuggestion) {
  EXPECT_EQ(only_problem("[cache]\nmap_size = \"1GiB\"\nidchek_interval = \"5m\"\n"),
            "test.conf:3: unknown key 'cache.idchek_interval' (did you mean 'cache.id_check_interval'?)");
}

TEST(ParseConfig, UnknownKeyFarFromAnyKnownOneHasNoSuggestion) {
  EXPECT_EQ(only_problem("log_level = \"info\"\ncolour = \"blue\"\n"), "test.conf:2: unknown key 'colour'");
}

TEST(ParseConfig, UnknownSectionAndUnknownKeysEverywhere) {
  EXPECT_EQ(only_problem("[caches]\nmap_size = 1\n"), "test.conf:1: unknown key 'caches' (did you mean 'cache'?)");
  EXPECT_EQ(only_problem("[[listen]]\nunix = \"/run/x.sock\"\nuser = \"postfix\"\n"),
            "test.conf:3: unknown key 'listen.user'");
  EXPECT_EQ(only_problem("[profiles.p]\ndialect = \"postfix\"\nmode = \"x\"\n"),
            "test.conf:3: unknown key 'profiles.p.mode'");
  EXPECT_THAT(only_problem("[server]\nidle = 5\n"), StartsWith("test.conf:2: unknown key 'server.idle'"));
  EXPECT_THAT(only_problem("[dns]\nforwarder = []\n"), StartsWith("test.conf:2: unknown key 'dns.forwarder'"));
  EXPECT_THAT(only_problem("[fetch]\nca = \"\"\n"), StartsWith("test.conf:2: unknown key 'fetch.ca'"));
  EXPECT_THAT(only_problem("[lookup]\nbudget = 1\n"), StartsWith("test.conf:2: unknown key 'lookup.budget'"));
}

TEST(ParseConfig, BadDuration) {
  EXPECT_EQ(only_problem("[cache]\nid_check_interval = \"5x\"\n"),
            "test.conf:2: cache.id_check_interval: expected a duration like \"5m\" (integer seconds, or a number "
            "with ms, s, m, h or d), not \"5x\"");
  EXPECT_THAT(only_problem("[dns]\ntimeout = true\n"),
              AllOf(StartsWith("test.conf:2: dns.timeout: "), HasSubstr("expected a duration like \"5m\"")));
  EXPECT_THAT(only_problem("[dns]\ntimeout = 1.5\n"), HasSubstr("expected a duration like \"5m\""));
  EXPECT_EQ(only_problem("[server]\nidle_timeout = -1\n"), "test.conf:2: server.idle_timeout: must not be negative");
  EXPECT_EQ(only_problem("[server]\nidle_timeout = \"99999999999999999999d\"\n"),
            "test.conf:2: server.idle_timeout: \"99999999999999999999d\" is too large");
  EXPECT_EQ(only_problem("[server]\nidle_timeout = 9223372036854775807\n"),
            "test.conf:2: server.idle_timeout: 9223372036854775807 seconds is too large");
}

TEST(ParseConfig, CacheDurationsAreWholeSeconds) {
  EXPECT_EQ(only_problem("[cache]\nnegative_ttl_min = \"1500ms\"\n"),
            "test.conf:2: cache.negative_ttl_min: must be a whole number of seconds");
  EXPECT_EQ(parse_ok("[cache]\nnegative_ttl_min = \"2000ms\"\n").cache.negative_ttl_min, seconds(2));
}

TEST(ParseConfig, TimeoutsAndPacingIntervalsMustBePositive) {
  for (const char* key : {"[server]\nidle_timeout", "[dns]\ntimeout", "[fetch]\ntimeout", "[lookup]\nreply_deadline",
                          "[cache]\nid_check_interval", "[cache]\nfetch_retry_after", "[cache]\ndns_error_retry",
                          "[cache]\nrefresh_scan_interval", "[tlsrpt]\nmail_timeout", "[tlsrpt]\nhttps_timeout"}) {
    EXPECT_THAT(only_problem(std::string(key) + " = \"0s\"\n"), HasSubstr("must be greater than zero")) << key;
  }
  const Config c = parse_ok("[lookup]\ncold_budget = 0\n[cache]\nrefresh_margin = 0\n");
  EXPECT_EQ(c.cold_budget, milliseconds(0));
  EXPECT_EQ(c.cache.refresh_margin, seconds(0));
}

TEST(ParseConfig, Sizes) {
  EXPECT_EQ(parse_ok("[cache]\nmap_size = \"1MiB\"\n").cache_map_size, 1u << 20);
  EXPECT_EQ(only_problem("[cache]\nmap_size = \"1023KiB\"\n"),
            "test.conf:2: cache.map_size: must be at least 1048576 bytes");
  EXPECT_EQ(only_problem("[cache]\nmap_size = 1048575\n"),
            "test.conf:2: cache.map_size: must be at least 1048576 bytes");
  EXPECT_THAT(only_problem("[cache]\nmap_size = \"256MB\"\n"),
              HasSubstr("cache.map_size: expected a size like \"256MiB\""));
  EXPECT_EQ(only_problem("[cache]\nmap_size = -1\n"), "test.conf:2: cache.map_size: must not be negative");
}

TEST(ParseConfig, CountBounds) {
  EXPECT_EQ(parse_ok("[cache]\nrefresh_concurrency = 1\n").refresh_concurrency, 1u);
  EXPECT_EQ(parse_ok("[cache]\nrefresh_concurrency = 1024\n").refresh_concurrency, 1024u);
  EXPECT_EQ(only_problem("[cache]\nrefresh_concurrency = 0\n"),
            "test.conf:2: cache.refresh_concurrency: must be between 1 and 1024, not 0");
  EXPECT_THAT(only_problem("[cache]\nrefresh_concurrency = 1025\n"), HasSubstr("between 1 and 1024, not 1025"));
  EXPECT_EQ(parse_ok("[server]\nmax_connections = 1000000\n").max_connections, 1000000u);
  EXPECT_THAT(only_problem("[server]\nmax_connections = 0\n"), HasSubstr("between 1 and 1000000, not 0"));
  EXPECT_THAT(only_problem("[server]\nmax_connections = 1000001\n"), HasSubstr("between 1 and 1000000"));
  EXPECT_EQ(only_problem("[server]\nmax_connections = \"10\"\n"),
            "test.conf:2: server.max_connections: expected an integer");
}

TEST(ParseConfig, NegativeTtlBoundsMustBeOrdered) {
  EXPECT_EQ(only_problem("[cache]\nnegative_ttl_max = \"30s\"\n"),
            "test.conf:2: cache.negative_ttl_min (60s) must not exceed cache.negative_ttl_max (30s)");
  EXPECT_THAT(only_problem("[cache]\nnegative_ttl_min = \"5m\"\nnegative_ttl_max = \"2m\"\n"),
              StartsWith("test.conf:2: cache.negative_ttl_min (300s) must not exceed"));
  EXPECT_EQ(parse_ok("[cache]\nnegative_ttl_min = \"5m\"\nnegative_ttl_max = \"5m\"\n").cache.negative_ttl_max,
            seconds(300));
}

TEST(ParseConfig, InvalidValueIsNotComparedAgain) {
  // The default minimum (1m) exceeds this maximum, but the minimum is reported as bad already.
  EXPECT_THAT(problems("[cache]\nnegative_ttl_min = \"soon\"\nnegative_ttl_max = \"30s\"\n"),
              ElementsAre(StartsWith("test.conf:2: cache.negative_ttl_min: expected a duration")));
  EXPECT_THAT(problems("[lookup]\ncold_budget = \"20s\"\nreply_deadline = \"0s\"\n"),
              ElementsAre("test.conf:3: lookup.reply_deadline: must be greater than zero"));
}

TEST(ParseConfig, DaneTtlBoundsMustBeOrdered) {
  EXPECT_EQ(only_problem("[cache]\ndane_ttl_min = \"2h\"\n"),
            "test.conf:2: cache.dane_ttl_min (7200s) must not exceed cache.dane_ttl_max (3600s)");
  EXPECT_EQ(only_problem("[cache]\ndane_ttl_max = \"1500ms\"\n"),
            "test.conf:2: cache.dane_ttl_max: must be a whole number of seconds");
  const Config c = parse_ok("[cache]\ndane_ttl_min = 0\ndane_ttl_max = 0\n");
  EXPECT_EQ(c.cache.dane_ttl_min, seconds(0));
  EXPECT_EQ(c.cache.dane_ttl_max, seconds(0));
}

TEST(ParseConfig, DaneIsABooleanPerProfile) {
  const Config c =
      parse_ok("[dns]\ntrust_anchor_file = \"/k\"\n[profiles.d]\ndane = true\n[profiles.e]\ndane = false\n");
  EXPECT_TRUE(c.profiles.at("d").dane);
  EXPECT_FALSE(c.profiles.at("e").dane);
  EXPECT_FALSE(c.profiles.at("default").dane);
  EXPECT_EQ(only_problem("[profiles.d]\ndane = \"yes\"\n"), "test.conf:2: profiles.d.dane: expected true or false");
}

TEST(ParseConfig, DaneNeedsATrustAnchor) {
  EXPECT_EQ(only_problem("[dns]\ntrust_anchor_file = \"\"\n[profiles.default]\ntesting = \"notfound\"\ndane = true\n"),
            "test.conf:5: profiles.default.dane: dane needs dns.trust_anchor_file (DNSSEC validation)");
  EXPECT_THAT(problems("[dns]\ntrust_anchor_file = \"\"\n[profiles.a]\ndane = true\n[profiles.b]\ndane = true\n"),
              ElementsAre(HasSubstr("profiles.a.dane: dane needs"), HasSubstr("profiles.b.dane: dane needs")));
  // Without DANE, running without validation stays allowed.
  EXPECT_THAT(problems("[dns]\ntrust_anchor_file = \"\"\n[profiles.a]\ndane = false\n"), SizeIs(0));
}

TEST(ParseConfig, ColdBudgetWithinReplyDeadline) {
  EXPECT_EQ(only_problem("[lookup]\ncold_budget = \"11s\"\n"),
            "test.conf:2: lookup.cold_budget (11000ms) must not exceed lookup.reply_deadline (10000ms)");
  EXPECT_THAT(only_problem("[lookup]\nreply_deadline = \"2s\"\n"), StartsWith("test.conf:2: lookup.cold_budget"));
  EXPECT_EQ(parse_ok("[lookup]\ncold_budget = \"10s\"\n").cold_budget, seconds(10));
}

TEST(ParseConfig, TcpListenerMustBeLoopback) {
  EXPECT_EQ(parse_ok("[[listen]]\ntcp = \"127.42.0.1:25\"\n").listen[0].tcp_address, "127.42.0.1");
  for (const char* address : {"0.0.0.0:8461", "192.0.2.1:8461", "[::]:8461", "[2001:db8::1]:8461",
                              "[::ffff:127.0.0.1]:8461", "128.0.0.1:8461"}) {
    const std::string problem = only_problem(fmt::format("[[listen]]\ntcp = \"{}\"\n", address));
    EXPECT_THAT(problem, StartsWith("test.conf:2: listen.tcp: ")) << address;
    EXPECT_THAT(problem, HasSubstr("is not a loopback address; mtastsd listens only on 127.0.0.0/8 or ::1"))
        << address;
  }
}

TEST(ParseConfig, TcpListenerSyntax) {
  EXPECT_THAT(only_problem("[[listen]]\ntcp = \"localhost:8461\"\n"),
              HasSubstr("\"localhost\" is not an IP address (host names are not resolved)"));
  EXPECT_THAT(only_problem("[[listen]]\ntcp = \"::1:8461\"\n"), HasSubstr("an IPv6 address needs brackets"));
  EXPECT_THAT(only_problem("[[listen]]\ntcp = \"127.0.0.1\"\n"), HasSubstr("expected \"127.0.0.1:PORT\""));
  EXPECT_THAT(only_problem("[[listen]]\ntcp = \"[::1]8461\"\n"), HasSubstr("expected \"127.0.0.1:PORT\""));
  EXPECT_THAT(only_problem("[[listen]]\ntcp = \"127.0.0.1:0\"\n"), HasSubstr("\"0\" is not a port number"));
  EXPECT_THAT(only_problem("[[listen]]\ntcp = \"127.0.0.1:65536\"\n"), HasSubstr("\"65536\" is not a port number"));
  EXPECT_THAT(only_problem("[[listen]]\ntcp = \"127.0.0.1:\"\n"), HasSubstr("is not a port number"));
  EXPECT_THAT(only_problem("[[listen]]\ntcp = 8461\n"), HasSubstr("listen.tcp: expected a string"));
}

TEST(ParseConfig, UnixOnlySettingsOnTcpListener) {
  EXPECT_THAT(problems("[[listen]]\ntcp = \"127.0.0.1:8461\"\nowner = \"postfix\"\nmode = \"0600\"\n"),
              ElementsAre("test.conf:3: listen.owner: applies to unix listeners only",
                          "test.conf:4: listen.mode: applies to unix listeners only"));
}

TEST(ParseConfig, UnixListener) {
  EXPECT_EQ(parse_ok("[[listen]]\nunix = \"/run/x.sock\"\n").listen[0].mode, 0660u);
  EXPECT_EQ(parse_ok("[[listen]]\nunix = \"/run/x.sock\"\nmode = \"666\"\n").listen[0].mode, 0666u);
  EXPECT_EQ(only_problem("[[listen]]\nunix = \"run/x.sock\"\n"),
            "test.conf:2: listen.unix: expected an absolute path, not \"run/x.sock\"");
  EXPECT_EQ(only_problem("[[listen]]\nunix = \"/" + std::string(107, 'x') + "\"\n"),
            "test.conf:2: listen.unix: path longer than 107 bytes");
  EXPECT_EQ(parse_ok("[[listen]]\nunix = \"/" + std::string(106, 'x') + "\"\n").listen[0].unix_path.size(), 107u);
  for (const char* mode : {"\"0999\"", "\"01777\"", "\"\"", "\"rw\"", "660", "0o660"}) {
    EXPECT_THAT(only_problem(fmt::format("[[listen]]\nunix = \"/run/x.sock\"\nmode = {}\n", mode)),
                StartsWith("test.conf:3: listen.mode: expected an octal string"))
        << mode;
  }
}

TEST(ParseConfig, TlsRptSocketFollowsRuntimeDirUnlessSet) {
  EXPECT_EQ(parse_ok("runtime_dir = \"/srv/run\"\n").tlsrpt.socket.unix_path, "/srv/run/tlsrpt.sock");
  EXPECT_EQ(parse_ok("", "/tmp/override").tlsrpt.socket.unix_path, "/tmp/override/tlsrpt.sock");
  EXPECT_EQ(parse_ok("[tlsrpt]\nsocket = \"/x/t.sock\"\n", "/tmp/override").tlsrpt.socket.unix_path, "/x/t.sock");
  EXPECT_EQ(only_problem("[tlsrpt]\nsocket = \"t.sock\"\n"),
            "test.conf:2: tlsrpt.socket: expected an absolute path, not \"t.sock\"");
  EXPECT_EQ(only_problem("[tlsrpt]\nsocket = \"/" + std::string(107, 'x') + "\"\n"),
            "test.conf:2: tlsrpt.socket: path longer than 107 bytes");
  EXPECT_THAT(only_problem("[tlsrpt]\nsocket_mode = \"0999\"\n"),
              StartsWith("test.conf:2: tlsrpt.socket_mode: expected an octal string"));
}

TEST(ParseConfig, TlsRptPostfixLog) {
  EXPECT_EQ(parse_ok("[tlsrpt]\npostfix_log = \"-\"\n").tlsrpt.postfix_log, "-");
  EXPECT_EQ(parse_ok("[tlsrpt]\npostfix_log = \"\"\n").tlsrpt.postfix_log, "");
  EXPECT_EQ(only_problem("[tlsrpt]\npostfix_log = \"mail.log\"\n"),
            "test.conf:2: tlsrpt.postfix_log: expected \"\" (off), \"-\" (standard input) or an absolute path, "
            "not \"mail.log\"");
  EXPECT_EQ(parse_ok("[tlsrpt]\npostfix_log_profile = \"d\"\n[profiles.d]\ndane = true\n[dns]\n"
                     "trust_anchor_file = \"/k\"\n")
                .tlsrpt.postfix_log_profile,
            "d");
  EXPECT_EQ(only_problem("[tlsrpt]\npostfix_log_profile = \"nope\"\n"),
            "test.conf:2: tlsrpt.postfix_log_profile: no profile \"nope\" ([profiles.nope])");
}

TEST(ParseConfig, TlsRptRetentionDays) {
  EXPECT_EQ(parse_ok("[tlsrpt]\nretention_days = 2\n").tlsrpt.retention_days, 2u);
  EXPECT_EQ(parse_ok("[tlsrpt]\nretention_days = 3660\n").tlsrpt.retention_days, 3660u);
  EXPECT_EQ(only_problem("[tlsrpt]\nretention_days = 1\n"),
            "test.conf:2: tlsrpt.retention_days: must be between 2 and 3660, not 1");
  EXPECT_EQ(only_problem("[tlsrpt]\nretention_days = \"14d\"\n"),
            "test.conf:2: tlsrpt.retention_days: expected an integer");
}

TEST(ParseConfig, TlsRptReportOrigin) {
  for (const char* contact : {"tlsrpt@example.com", "mailto:tlsrpt@example.com", "https://example.com/contact"})
    EXPECT_EQ(parse_ok(fmt::format("[tlsrpt]\ncontact_info = \"{}\"\n", contact)).tlsrpt.contact_info, contact);
  for (const char* contact : {"tlsrpt", "a@b@example.com", "@example.com", "x@not_a_host", "two words@example.com",
                              "https:", "1http://example.com"})
    EXPECT_THAT(only_problem(fmt::format("[tlsrpt]\ncontact_info = \"{}\"\n", contact)),
                StartsWith("test.conf:2: tlsrpt.contact_info: "))
        << contact;
  EXPECT_EQ(only_problem("[tlsrpt]\nsubmitter = \"not a domain\"\n"),
            "test.conf:2: tlsrpt.submitter: expected a domain name, not \"not a domain\"");
  EXPECT_EQ(only_problem("[tlsrpt]\nsubmitter = \"example.com.\"\n"),
            "test.conf:2: tlsrpt.submitter: expected a domain name, not \"example.com.\"");
  EXPECT_EQ(parse_ok("[tlsrpt]\norganization_name = \"M\u00fcller & Co\"\n").tlsrpt.organization_name,
            "M\u00fcller & Co");
  EXPECT_THAT(only_problem("[tlsrpt]\norganization_name = \"a\\tb\"\n"),
              StartsWith("test.conf:2: tlsrpt.organization_name: at most 256 bytes"));
  EXPECT_THAT(only_problem("[tlsrpt]\norganization_name = \"" + std::string(257, 'o') + "\"\n"),
              StartsWith("test.conf:2: tlsrpt.organization_name: at most 256 bytes"));
}

TEST(ParseConfig, TlsRptSendDelay) {
  EXPECT_EQ(parse_ok("[tlsrpt]\nsend_delay = 0\n").tlsrpt.send_delay, seconds(0));
  EXPECT_EQ(parse_ok("[tlsrpt]\nsend_delay = \"23h\"\n").tlsrpt.send_delay, hours(23));
  EXPECT_EQ(parse_ok("[tlsrpt]\nsend_delay = 82800\n").tlsrpt.send_delay, hours(23));
  EXPECT_EQ(only_problem("[tlsrpt]\nsend_delay = 82801\n"),
            "test.conf:2: tlsrpt.send_delay: must be at most 23h, not 82801s");
  EXPECT_EQ(only_problem("[tlsrpt]\nsend_delay = \"1d\"\n"),
            "test.conf:2: tlsrpt.send_delay: must be at most 23h, not 1d");
  EXPECT_EQ(only_problem("[tlsrpt]\nsend_delay = \"1500ms\"\n"),
            "test.conf:2: tlsrpt.send_delay: must be a whole number of seconds");
  EXPECT_THAT(only_problem("[tlsrpt]\nsend_delay = \"soon\"\n"),
              StartsWith("test.conf:2: tlsrpt.send_delay: expected a duration"));
}

TEST(ParseConfig, TlsRptRetryPeriod) {
  EXPECT_EQ(parse_ok("[tlsrpt]\nretry_period = \"1h\"\n").tlsrpt.retry_period, hours(1));
  EXPECT_EQ(parse_ok("[tlsrpt]\nretry_period = \"7d\"\n").tlsrpt.retry_period, days(7));
  EXPECT_EQ(only_problem("[tlsrpt]\nretry_period = \"59m\"\n"),
            "test.conf:2: tlsrpt.retry_period: must be at least 1h, not 59m");
  EXPECT_EQ(only_problem("[tlsrpt]\nretry_period = 0\n"),
            "test.conf:2: tlsrpt.retry_period: must be at least 1h, not 0s");
  EXPECT_EQ(only_problem("[tlsrpt]\nretry_period = \"169h\"\n"),
            "test.conf:2: tlsrpt.retry_period: must be at most 7d, not 169h");
  EXPECT_EQ(only_problem("[tlsrpt]\nretry_period = -1\n"), "test.conf:2: tlsrpt.retry_period: must not be negative");
}

TEST(ParseConfig, TlsRptDeliveryTimeouts) {
  const Config c = parse_ok("[tlsrpt]\nmail_timeout = \"30m\"\nhttps_timeout = \"1500ms\"\n");
  EXPECT_EQ(c.tlsrpt.sender.mail_timeout, minutes(30));
  EXPECT_EQ(c.tlsrpt.sender.https.timeout, milliseconds(1500));
  EXPECT_EQ(only_problem("[tlsrpt]\nmail_timeout = \"31m\"\n"),
            "test.conf:2: tlsrpt.mail_timeout: must be at most 30m, not 31m");
  EXPECT_EQ(only_problem("[tlsrpt]\nhttps_timeout = 1801\n"),
            "test.conf:2: tlsrpt.https_timeout: must be at most 30m, not 1801s");
  EXPECT_THAT(only_problem("[tlsrpt]\nmail_timeout = \"5 min\"\n"),
              StartsWith("test.conf:2: tlsrpt.mail_timeout: expected a duration"));
}

TEST(ParseConfig, TlsRptBooleans) {
  const Config c = parse_ok("[tlsrpt]\nsend_reports = false\nsmtp_require_starttls = true\n");
  EXPECT_FALSE(c.tlsrpt.send_reports);
  EXPECT_TRUE(c.tlsrpt.sender.smtp.require_starttls);
  EXPECT_EQ(only_problem("[tlsrpt]\nsend_reports = \"yes\"\n"),
            "test.conf:2: tlsrpt.send_reports: expected true or false");
  EXPECT_EQ(only_problem("[tlsrpt]\nsmtp_require_starttls = 1\n"),
            "test.conf:2: tlsrpt.smtp_require_starttls: expected true or false");
}

TEST(ParseConfig, TlsRptMailFrom) {
  EXPECT_EQ(parse_ok("[tlsrpt]\nmail_from = \"TLS.Reports@Mail.Example.NET\"\n").tlsrpt.sender.mail_from,
            "TLS.Reports@mail.example.net");  // the local part keeps its case
  for (const char* from : {"noreply", "@example.net", "a b@example.net", "a@b@example.net", "x@not_a_host",
                           "x@example.net.", "<x@example.net>", "mailto:x@example.net", "a..b@example.net",
                           "Reports <x@example.net>"}) {
    EXPECT_EQ(only_problem(fmt::format("[tlsrpt]\nmail_from = \"{}\"\n", from)),
              fmt::format("test.conf:2: tlsrpt.mail_from: expected \"\" or a plain address (local@domain, the local "
                          "part a dot-atom), not \"{}\"",
                          from))
        << from;
  }
  EXPECT_EQ(only_problem("[tlsrpt]\nmail_from = 1\n"), "test.conf:2: tlsrpt.mail_from: expected a string");
}

TEST(ParseConfig, TlsRptSenderDefaultsFollowTheSubmitter) {
  const Config derived = parse_ok("[tlsrpt]\nsubmitter = \"Mail.Example.NET\"\n");
  EXPECT_EQ(derived.tlsrpt.sender.mail_from, "noreply-smtp-tls-reporting@mail.example.net");
  EXPECT_EQ(derived.tlsrpt.sender.dkim.domain, "mail.example.net");

  const Config empty_means_derived =
      parse_ok("[tlsrpt]\nsubmitter = \"mail.example.net\"\nmail_from = \"\"\ndkim_domain = \"\"\n");
  EXPECT_EQ(empty_means_derived.tlsrpt.sender.mail_from, "noreply-smtp-tls-reporting@mail.example.net");
  EXPECT_EQ(empty_means_derived.tlsrpt.sender.dkim.domain, "mail.example.net");

  const Config explicit_values = parse_ok(
      "[tlsrpt]\nsubmitter = \"mail.example.net\"\nmail_from = \"tlsrpt@example.net\"\n"
      "dkim_domain = \"example.net\"\n");
  EXPECT_EQ(explicit_values.tlsrpt.sender.mail_from, "tlsrpt@example.net");
  EXPECT_EQ(explicit_values.tlsrpt.sender.dkim.domain, "example.net");

  const Config no_submitter = parse_ok("[tlsrpt]\ncontact_info = \"tlsrpt@example.net\"\n");
  EXPECT_EQ(no_submitter.tlsrpt.sender.mail_from, "");
  EXPECT_EQ(no_submitter.tlsrpt.sender.dkim.domain, "");
  EXPECT_EQ(default_config("/tmp/o").tlsrpt.sender.mail_from, "");
}

TEST(ParseConfig, TlsRptMailTransport) {
  EXPECT_EQ(parse_ok("[tlsrpt]\nmail_transport = \"smtp\"\n").tlsrpt.sender.transport, io::MailTransport::smtp);
  EXPECT_EQ(parse_ok("[tlsrpt]\nmail_transport = \"sendmail\"\n").tlsrpt.sender.transport,
            io::MailTransport::sendmail);
  EXPECT_EQ(only_problem("[tlsrpt]\nmail_transport = \"lmtp\"\n"),
            "test.conf:2: tlsrpt.mail_transport: expected one of \"smtp\", \"sendmail\", not \"lmtp\"");
}

TEST(ParseConfig, TlsRptSmtpRelay) {
  struct Case {
    const char* text;
    const char* host;
    std::uint16_t port;
  };
  for (const Case& c : {Case{"Relay.Example.NET:587", "relay.example.net", 587}, Case{"localhost:25", "localhost", 25},
                        Case{"192.0.2.1:2525", "192.0.2.1", 2525}, Case{"[::1]:25", "::1", 25},
                        Case{"[2001:DB8::1]:65535", "2001:db8::1", 65535}}) {
    const io::SmtpRelaySettings relay =
        parse_ok(fmt::format("[tlsrpt]\nsmtp_relay = \"{}\"\n", c.text)).tlsrpt.sender.smtp;
    EXPECT_EQ(relay.host, c.host) << c.text;
    EXPECT_EQ(relay.port, c.port) << c.text;
  }
  struct Bad {
    const char* text;
    const char* problem;
  };
  for (const Bad& b :
       {Bad{"127.0.0.1", R"(expected "HOST:PORT" or "[IPv6]:PORT")"},
        Bad{"[::1]25", R"(expected "HOST:PORT" or "[IPv6]:PORT")"},
        Bad{"::1:25", R"(an IPv6 address needs brackets: "[ADDRESS]:PORT")"},
        Bad{"[relay.example.net]:25", R"("[relay.example.net]": brackets hold an IPv6 address only)"},
        Bad{"[127.0.0.1]:25", R"("[127.0.0.1]": brackets hold an IPv6 address only)"},
        Bad{"relay.example.net:0", R"("0" is not a port number (1-65535))"},
        Bad{"relay.example.net:65536", R"("65536" is not a port number (1-65535))"},
        Bad{"relay.example.net:smtp", R"("smtp" is not a port number (1-65535))"},
        Bad{":25", R"("" is neither a host name nor an IP address)"},
        Bad{"relay example:25", R"("relay example" is neither a host name nor an IP address)"}}) {
    EXPECT_EQ(only_problem(fmt::format("[tlsrpt]\nsmtp_relay = \"{}\"\n", b.text)),
              fmt::format("test.conf:2: tlsrpt.smtp_relay: {}", b.problem))
        << b.text;
  }
  EXPECT_EQ(only_problem("[tlsrpt]\nsmtp_relay = 25\n"), "test.conf:2: tlsrpt.smtp_relay: expected a string");
}

TEST(ParseConfig, TlsRptSmtpHelo) {
  EXPECT_EQ(parse_ok("[tlsrpt]\nsmtp_helo = \"mta1.example.net\"\n").tlsrpt.sender.smtp.helo_name, "mta1.example.net");
  EXPECT_EQ(parse_ok("[tlsrpt]\nsmtp_helo = \"\"\n").tlsrpt.sender.smtp.helo_name, "");
  for (const char* helo : {"mta 1", "[192.0.2.1]", "mta_1.example.net", "example.net."}) {
    EXPECT_EQ(only_problem(fmt::format("[tlsrpt]\nsmtp_helo = \"{}\"\n", helo)),
              fmt::format("test.conf:2: tlsrpt.smtp_helo: expected \"\" or a host name, not \"{}\"", helo))
        << helo;
  }
}

TEST(ParseConfig, TlsRptSenderPaths) {
  // "" means the system store or no signing; the files are not opened at load time.
  const Config off = parse_ok("[tlsrpt]\nsmtp_ca_file = \"\"\nhttps_ca_file = \"\"\ndkim_key_file = \"\"\n");
  EXPECT_EQ(off.tlsrpt.sender.smtp.ca_file, "");
  EXPECT_EQ(off.tlsrpt.sender.https.ca_file, "");
  EXPECT_EQ(off.tlsrpt.sender.dkim.key_file, "");
  for (const char* key : {"smtp_ca_file", "https_ca_file", "dkim_key_file", "sendmail_command"}) {
    EXPECT_EQ(only_problem(fmt::format("[tlsrpt]\n{} = \"relative/file\"\n", key)),
              fmt::format("test.conf:2: tlsrpt.{}: expected an absolute path, not \"relative/file\"", key));
  }
  EXPECT_EQ(only_problem("[tlsrpt]\nsendmail_command = \"\"\n"),
            "test.conf:2: tlsrpt.sendmail_command: expected an absolute path, not \"\"");
}

TEST(ParseConfig, TlsRptDkim) {
  const Config c = parse_ok(
      "[tlsrpt]\ndkim_key_file = \"/nonexistent/dkim.key\"\ndkim_selector = \"202604\"\n"
      "dkim_domain = \"example.net\"\n");
  EXPECT_EQ(c.tlsrpt.sender.dkim.key_file, "/nonexistent/dkim.key");
  EXPECT_EQ(c.tlsrpt.sender.dkim.selector, "202604");
  EXPECT_EQ(c.tlsrpt.sender.dkim.domain, "example.net");
  EXPECT_EQ(parse_ok("[tlsrpt]\ndkim_selector = \"s1.reports\"\n").tlsrpt.sender.dkim.selector, "s1.reports");

  for (const char* selector : {"tls_rpt", "a..b", "-s1", ".s1", "s1.", "s 1"}) {
    EXPECT_EQ(only_problem(fmt::format("[tlsrpt]\ndkim_selector = \"{}\"\n", selector)),
              fmt::format("test.conf:2: tlsrpt.dkim_selector: expected DNS labels (letters, digits, '-', separated by "
                          "'.'), not \"{}\"",
                          selector))
        << selector;
  }
  EXPECT_EQ(only_problem("[tlsrpt]\ndkim_domain = \"not a domain\"\n"),
            "test.conf:2: tlsrpt.dkim_domain: expected \"\" or a domain name, not \"not a domain\"");

  EXPECT_EQ(only_problem("[tlsrpt]\nsubmitter = \"example.net\"\ndkim_key_file = \"/k\"\n"),
            "test.conf:3: tlsrpt.dkim_key_file: needs tlsrpt.dkim_selector");
  EXPECT_EQ(only_problem("[tlsrpt]\ndkim_key_file = \"/k\"\ndkim_selector = \"s1\"\n"),
            "test.conf:2: tlsrpt.dkim_key_file: needs tlsrpt.dkim_domain or tlsrpt.submitter (the signing domain)");
  // The submitter is the signing domain when dkim_domain is not set.
  EXPECT_EQ(parse_ok("[tlsrpt]\ndkim_key_file = \"/k\"\ndkim_selector = \"s1\"\nsubmitter = \"example.net\"\n")
                .tlsrpt.sender.dkim.domain,
            "example.net");
  // A selector already reported as invalid is not reported missing as well.
  EXPECT_THAT(problems("[tlsrpt]\nsubmitter = \"example.net\"\ndkim_key_file = \"/k\"\ndkim_selector = \"a_b\"\n"),
              ElementsAre(StartsWith("test.conf:4: tlsrpt.dkim_selector: expected DNS labels")));
}

TEST(ParseConfig, TlsRptUnknownSendingKey) {
  EXPECT_EQ(only_problem("[tlsrpt]\nsend_report = true\n"),
            "test.conf:2: unknown key 'tlsrpt.send_report' (did you mean 'tlsrpt.send_reports'?)");
  EXPECT_EQ(only_problem("[tlsrpt]\nsmtp_port = 25\n"), "test.conf:2: unknown key 'tlsrpt.smtp_port'");
}

TEST(ParseConfig, ListenerShape) {
  EXPECT_EQ(only_problem("[[listen]]\nunix = \"/run/x.sock\"\ntcp = \"127.0.0.1:1\"\n"),
            "test.conf:1: listen: give either unix or tcp, not both");
  EXPECT_EQ(only_problem("log_level = \"info\"\n[[listen]]\nmode = \"0660\"\n"),
            "test.conf:2: listen: needs unix = \"/path\" or tcp = \"127.0.0.1:PORT\"");
  EXPECT_EQ(only_problem("listen = []\n"), "test.conf:1: listen: at least one listener is needed");
  EXPECT_EQ(only_problem("listen = \"/run/x.sock\"\n"), "test.conf:1: listen: expected [[listen]] tables");
}

TEST(ParseConfig, TopLevelValues) {
  EXPECT_EQ(only_problem("state_dir = \"var/lib\"\n"),
            "test.conf:1: state_dir: expected an absolute path, not \"var/lib\"");
  EXPECT_EQ(only_problem("runtime_dir = \"\"\n"), "test.conf:1: runtime_dir: expected an absolute path, not \"\"");
  EXPECT_EQ(only_problem("log_level = \"verbose\"\n"),
            "test.conf:1: log_level: expected one of \"trace\", \"debug\", \"info\", \"warn\", \"error\", not "
            "\"verbose\"");
  EXPECT_EQ(parse_ok("log_level = \"trace\"\n").log.level, "trace");
  EXPECT_EQ(only_problem("cache = 5\n"), "test.conf:1: cache: expected a table ([cache])");
}

TEST(ParseConfig, RuntimeDirMovesTheDefaultSocket) {
  const Config c = parse_ok("runtime_dir = \"/tmp/rt\"\n");
  ASSERT_THAT(c.listen, SizeIs(1));
  EXPECT_EQ(c.listen[0].unix_path, "/tmp/rt/socketmap.sock");
}

TEST(ParseConfig, DnsForwarders) {
  EXPECT_EQ(only_problem("[dns]\nforwarders = [\"127.0.0.1\", \"dns.example\"]\n"),
            "test.conf:2: dns.forwarders: \"dns.example\" is not \"ADDRESS\" or \"ADDRESS@PORT\"");
  EXPECT_THAT(only_problem("[dns]\nforwarders = [\"127.0.0.1@0\"]\n"), HasSubstr("\"127.0.0.1@0\" is not"));
  EXPECT_THAT(only_problem("[dns]\nforwarders = \"127.0.0.1\"\n"), HasSubstr("expected a list of strings"));
  EXPECT_THAT(only_problem("[dns]\nforwarders = [\n  \"127.0.0.1\",\n  53,\n]\n"),
              StartsWith("test.conf:4: dns.forwarders: expected a list of strings"));
  EXPECT_THAT(only_problem("[dns]\ntrust_anchor_file = \"root.key\"\n"), HasSubstr("expected an absolute path"));
}

TEST(ParseConfig, Profiles) {
  EXPECT_EQ(only_problem("[profiles.p]\ndialect = \"postfix-3.10\"\n"),
            "test.conf:2: profiles.p.dialect: expected one of \"postfix\", \"postfix-tlsrpt\", not \"postfix-3.10\"");
  EXPECT_EQ(only_problem("[profiles.p]\ntesting = \"may\"\n"),
            "test.conf:2: profiles.p.testing: expected one of \"notfound\", \"enforce\", not \"may\"");
  EXPECT_EQ(only_problem("[profiles]\np = 1\n"), "test.conf:2: profiles.p: expected a table ([profiles.p])");
  EXPECT_THAT(only_problem("[profiles.\"a b\"]\n"), StartsWith("test.conf:1: profiles: \"a b\" cannot be"));
  EXPECT_THAT(only_problem("[profiles.\"a:b\"]\n"), HasSubstr("cannot be a socketmap map name"));
  EXPECT_THAT(only_problem("[profiles.\"\"]\n"), HasSubstr("cannot be a socketmap map name"));

  const Config c = parse_ok("[profiles.default]\ntesting = \"enforce\"\n[profiles.new]\n");
  ASSERT_THAT(c.profiles, SizeIs(2));
  EXPECT_EQ(c.profiles.at("default").testing, TestingAnswer::enforce);
  EXPECT_EQ(c.profiles.at("new").dialect, core::Dialect::postfix);
  EXPECT_EQ(c.profiles.at("new").testing, TestingAnswer::notfound);
}

TEST(ProfileFor, KnownNameAndFallbackToDefault) {
  const Config c = parse_ok("[profiles.tlsrpt]\ndialect = \"postfix-tlsrpt\"\n");
  bool known = false;
  const Profile& tlsrpt = c.profile_for("tlsrpt", &known);
  EXPECT_TRUE(known);
  EXPECT_EQ(tlsrpt.name, "tlsrpt");
  EXPECT_EQ(tlsrpt.dialect, core::Dialect::postfix_tlsrpt);

  const Profile& fallback = c.profile_for("postfix", &known);
  EXPECT_FALSE(known);
  EXPECT_EQ(fallback.name, "default");

  EXPECT_EQ(&c.profile_for("default", &known), &c.profiles.at("default"));
  EXPECT_TRUE(known);
  EXPECT_EQ(c.profile_for("TLSRPT").name, "default");  // map names are case-sensitive, as in Postfix
}

TEST(StateDirOverride, DefaultConfig) {
  const Config c = default_config("/tmp/mtastsd-test");
  EXPECT_EQ(c.state_dir, "/tmp/mtastsd-test");
  EXPECT_EQ(c.runtime_dir, "/tmp/mtastsd-test");
  ASSERT_THAT(c.listen, SizeIs(1));
  EXPECT_EQ(c.listen[0].unix_path, "/tmp/mtastsd-test/socketmap.sock");
}

TEST(StateDirOverride, WinsOverTheFileButKeepsExplicitListeners) {
  const Config moved = parse_ok("state_dir = \"/var/a\"\nruntime_dir = \"/run/a\"\n", "/tmp/o/");
  EXPECT_EQ(moved.state_dir, "/tmp/o/");
  EXPECT_EQ(moved.runtime_dir, "/tmp/o/");
  EXPECT_EQ(moved.listen.at(0).unix_path, "/tmp/o/socketmap.sock");

  const Config kept = parse_ok("[[listen]]\ntcp = \"127.0.0.1:8461\"\n", "/tmp/o");
  EXPECT_EQ(kept.state_dir, "/tmp/o");
  ASSERT_THAT(kept.listen, SizeIs(1));
  EXPECT_EQ(kept.listen[0].tcp_address, "127.0.0.1");
  EXPECT_EQ(kept.listen[0].unix_path, "");
}

TEST(StateDirOverride, RelativeDirectoryBecomesAbsolute) {
  const Config c = default_config("state");
  const std::string expected = (std::filesystem::current_path() / "state").string();
  EXPECT_EQ(c.state_dir, expected);
  EXPECT_EQ(c.listen.at(0).unix_path, expected + "/socketmap.sock");
}

TEST(ParseConfig, AllProblemsCollectedInLineOrder) {
  EXPECT_THAT(problems(R"([server]
max_connections = 0
[cache]
idchek_interval = "5m"
refresh_margin = "soon"
[[listen]]
tcp = "0.0.0.0:8461"
[profiles.p]
dialect = "sendmail"
)"),
              ElementsAre(StartsWith("test.conf:2: server.max_connections"),
                          StartsWith("test.conf:4: unknown key 'cache.idchek_interval'"),
                          StartsWith("test.conf:5: cache.refresh_margin: expected a duration"),
                          StartsWith("test.conf:7: listen.tcp: 0.0.0.0 is not a loopback address"),
                          StartsWith("test.conf:9: profiles.p.dialect")));
}

TEST(ParseConfig, TomlSyntaxErrorHasFileAndLine) {
  EXPECT_THAT(only_problem("log_level = \"info\"\n\n[server\nidle_timeout = 5\n"), StartsWith("test.conf:3: "));
  EXPECT_THAT(only_problem("a = 1\na = 2\n"), StartsWith("test.conf:2: "));
}

TEST(ConfigProblem, WholeFileProblemHasNoLine) {
  EXPECT_EQ((ConfigProblem{"x.conf", 0, "oops"}).to_string(), "x.conf: oops");
  EXPECT_EQ((ConfigProblem{"x.conf", 7, "oops"}).to_string(), "x.conf:7: oops");
}

// The shipped example (the Debian package's /etc/mtastsd/mtastsd.conf) must stay loadable and
// restate the built-in defaults, but for what the package sets: the user and the socket's group.
TEST(ExampleFile, ParsesToTheDefaultsButThePackagesUserAndSocketGroup) {
  const auto example =
      std::filesystem::path(__FILE__).parent_path() / "../../../postfix-integration/mtastsd.conf.example";
  auto config = load_config(example.lexically_normal().string());
  ASSERT_TRUE(config.has_value()) << config.error().at(0).to_string();
  EXPECT_EQ(config->user, "mtastsd");
  EXPECT_EQ(config->group, "");
  ASSERT_THAT(config->listen, SizeIs(1));
  EXPECT_EQ(config->listen[0].group, "postfix");
  EXPECT_EQ(config->metrics.tcp_port, 0);  // metrics off
  EXPECT_EQ(config->control.unix_path, "/run/mtastsd/control.sock");
  EXPECT_EQ(config->control.mode, 0600u);
  config->user = "";
  config->listen[0].group = "";
  // The example names Debian's root key; the built-in default uses it only where it is installed.
  EXPECT_EQ(config->dns.trust_anchor_file, "/usr/share/dns/root.key");
  config->dns.trust_anchor_file = default_config().dns.trust_anchor_file;
  expect_default_values(*config);
}

class LoadConfig : public testing::Test {
 protected:
  std::filesystem::path dir_ = std::filesystem::path(testing::TempDir()) /
                               testing::UnitTest::GetInstance()->current_test_info()->name();
  void SetUp() override { std::filesystem::create_directories(dir_); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    const auto path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }
};

TEST_F(LoadConfig, ReadsTheFileAndNamesItInProblems) {
  const std::string good = write("good.conf", "[server]\nmax_connections = 7\n");
  auto config = load_config(good);
  ASSERT_TRUE(config.has_value());
  EXPECT_EQ(config->source, good);
  EXPECT_EQ(config->max_connections, 7u);

  const std::string bad = write("bad.conf", "\n[dns]\ntimeout = \"soon\"\n");
  auto problems = load_config(bad);
  ASSERT_FALSE(problems.has_value());
  ASSERT_THAT(problems.error(), SizeIs(1));
  EXPECT_THAT(problems.error()[0].to_string(), StartsWith(bad + ":3: dns.timeout: expected a duration"));
}

TEST_F(LoadConfig, OverrideApplies) {
  auto config = load_config(write("c.conf", ""), "/tmp/override");
  ASSERT_TRUE(config.has_value());
  EXPECT_EQ(config->listen.at(0).unix_path, "/tmp/override/socketmap.sock");
  EXPECT_EQ(config->tlsrpt.socket.unix_path, "/tmp/override/tlsrpt.sock");
}

TEST_F(LoadConfig, MissingFile) {
  const std::string path = (dir_ / "absent.conf").string();
  auto config = load_config(path);
  ASSERT_FALSE(config.has_value());
  EXPECT_EQ(config.error().at(0).to_string(), path + ": cannot open: No such file or directory");
}

TEST_F(LoadConfig, DirectoryAndOversizedFile) {
  EXPECT_EQ(load_config(dir_.string()).error().at(0).message, "is a directory");
  const std::string big = write("big.conf", "# " + std::string(1u << 20, 'x') + "\n");
  EXPECT_EQ(load_config(big).error().at(0).message, "larger than 1048576 bytes");
}

}  // namespace config_test
}  // namespace mtastsd::daemon

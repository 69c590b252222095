// report_send: a test-only driver of the report delivery pieces, for
// tests/integration/test_report_delivery.py. It builds a report the way the daemon will
// (an aggregate in the LMDB value format -> core::group_by_rua -> core::build_report, first
// group) and makes one delivery attempt to the given rua with io::ReportSender.
// Output: one JSON object on stdout: {"result": "delivered"|"temporary"|"permanent",
// "detail", "report_id", "file_name", "subject", "json"}. Exit status 0 when an attempt
// was made (whatever its result), 2 on bad arguments or settings (reason on stderr).
#include <fstream>
#include <iostream>
#include <sstream>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include "core/tlsrpt_report.hpp"
#include "io/report_sender.hpp"

namespace asio = boost::asio;
using namespace mtastsd;

namespace {

constexpr int kAttempted = 0, kUsage = 2;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::pair<std::string, std::uint16_t> host_port(const std::string& text) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("--smtp wants HOST:PORT");
  std::string host = text.substr(0, colon);
  if (host.starts_with('[') && host.ends_with(']')) host = host.substr(1, host.size() - 2);
  return {host, static_cast<std::uint16_t>(std::stoul(text.substr(colon + 1)))};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Build a TLS-RPT report from an aggregate fixture and deliver it to one rua (tests only)"};
  std::string fixture, day_text, domain, token = "T1", rua, now_text;
  core::ReportOrigin origin{"mtastsd test", "tlsrpt-admin@sender.example", "sender.example"};
  io::ReportSenderSettings settings;
  settings.mail_from = "tlsrpt-noreply@sender.example";
  std::string smtp, sendmail, dns;
  long timeout_ms = 10000;
  std::int64_t now_unix = 0;
  app.add_option("--fixture", fixture, "DomainDay aggregate, LMDB value format")->required();
  app.add_option("--day", day_text, "UTC day of the report, YYYY-MM-DD")->required();
  app.add_option("--domain", domain, "report domain")->required();
  app.add_option("--token", token, "unique token of the report-id");
  app.add_option("--rua", rua, "destination URI")->required();
  app.add_option("--organization", origin.organization_name);
  app.add_option("--contact", origin.contact_info);
  app.add_option("--submitter", origin.submitter);
  app.add_option("--from", settings.mail_from, "From and envelope sender");
  app.add_option("--now", now_unix, "unix time of the attempt (Date, DKIM t=); default: the clock");
  app.add_option("--smtp", smtp, "SMTP relay HOST:PORT");
  app.add_option("--helo", settings.smtp.helo_name);
  app.add_flag("--starttls", settings.smtp.require_starttls);
  app.add_option("--sendmail", sendmail, "use this sendmail-compatible command instead of SMTP");
  app.add_option("--ca-file", settings.https.ca_file, "CA file for https and STARTTLS");
  app.add_option("--dns", dns, "DNS forwarder for https hosts (default: /etc/resolv.conf)");
  app.add_option("--timeout-ms", timeout_ms, "deadline of the attempt");
  // The daemon's default is to refuse; this tool's receivers are on loopback.
  settings.https.refuse_special_addresses = false;
  app.add_flag("--refuse-special-addresses", settings.https.refuse_special_addresses,
               "never upload to an https host at a special-purpose address");
  app.add_option("--dkim-key", settings.dkim.key_file);
  app.add_option("--dkim-selector", settings.dkim.selector);
  app.add_option("--dkim-domain", settings.dkim.domain);
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::debug);
  spdlog::set_default_logger(spdlog::stderr_color_mt("report_send"));

  try {
    settings.smtp.ca_file = settings.https.ca_file;
    settings.mail_timeout = settings.https.timeout = std::chrono::milliseconds(timeout_ms);
    if (!smtp.empty()) std::tie(settings.smtp.host, settings.smtp.port) = host_port(smtp);
    if (!sendmail.empty()) {
      settings.transport = io::MailTransport::sendmail;
      settings.sendmail_command = sendmail;
    }
    const auto day = core::UtcDay::parse(day_text);
    if (!day) throw std::runtime_error("--day is not YYYY-MM-DD");
    auto aggregate = core::decode_domain_day(read_file(fixture));
    if (!aggregate) throw std::runtime_error("fixture: " + aggregate.error().detail);
    const auto groups = core::group_by_rua(*aggregate);
    if (groups.empty()) throw std::runtime_error("fixture: no policies");
    auto report = core::build_report(origin, *day, domain, groups.front().policies, token);
    if (!report) throw std::runtime_error("build_report: " + report.error().detail);

    asio::io_context io(1);
    io::DnsSettings dns_settings;
    if (!dns.empty()) dns_settings.forwarders = {dns};
    io::DnsResolver resolver(io.get_executor(), dns_settings);
    io::ReportSender sender(io.get_executor(), resolver, settings);
    const util::TimePoint now = now_unix ? util::from_unix(now_unix) : util::system_now();
    auto attempt = asio::co_spawn(io, sender.send({*report, domain, origin.submitter}, rua, now), asio::use_future);
    io.run();
    const core::DeliveryResult result = attempt.get();

    nlohmann::json out = {{"report_id", report->report_id},
                          {"file_name", report->file_name},
                          {"subject", report->subject},
                          {"json", report->json}};
    if (result) {
      out["result"] = "delivered";
      out["detail"] = result->detail;
    } else {
      out["result"] = result.error().error == core::DeliveryError::permanent ? "permanent" : "temporary";
      out["detail"] = result.error().detail;
    }
    std::cout << out.dump() << "\n";
    return kAttempted;
  } catch (const std::exception& e) {
    std::cerr << "report_send: " << e.what() << "\n";
    return kUsage;
  }
}

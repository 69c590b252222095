// Delivers one TLS-RPT report to one rua (RFC 8460 sec. 5): one attempt, its outcome a value
// (delivered / temporary failure / permanent failure, core/report_delivery). Scheduling,
// retries and the durable outbox are the caller's.
//   mailto:  the sec. 5.3 e-mail (core/report_message), DKIM-signed when a key is configured
//            (io/dkim_signer), handed to the SMTP relay or the sendmail command
//            (io/mail_submission) on a worker thread, as those block.
//   https:   the gzip report POSTed (io/https_report_upload) on the event loop.
// Without a DKIM key the e-mails go out unsigned, with a warning at start: RFC 8460 sec. 5.3
// requires the signature and receivers may discard unsigned reports.
// One worker thread: submissions run one at a time, each bounded by mail_timeout, so a
// stuck relay delays later e-mails by at most that much; https uploads do not wait for it.
#pragma once
#include <chrono>
#include <memory>
#include <string>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include "core/report_delivery.hpp"
#include "core/tlsrpt_report.hpp"
#include "io/dkim_signer.hpp"
#include "io/dns_resolver.hpp"
#include "io/https_report_upload.hpp"
#include "io/mail_submission.hpp"
#include "util/clock.hpp"

namespace mtastsd::io {

enum class MailTransport { smtp, sendmail };

struct ReportSenderSettings {
  std::string mail_from;  // From: and envelope sender: a plain address, e.g. "tlsrpt-noreply@mail.example.net"
  MailTransport transport = MailTransport::smtp;
  SmtpRelaySettings smtp;                            // transport smtp: default 127.0.0.1:25, no STARTTLS
  std::string sendmail_command = "/usr/sbin/sendmail";  // transport sendmail: absolute path, run without a shell
  // Whole submission. RFC 5321 sec. 4.5.3.2 asks clients to wait 2 to 10 minutes per
  // command; a relay on our own host answers at once, and a worker thread must not be held
  // for half an hour: ours, 5 minutes.
  std::chrono::milliseconds mail_timeout{std::chrono::minutes(5)};
  DkimSettings dkim;  // key_file "" = unsigned
  HttpsUploadSettings https;
};

// A built report and what the e-mail headers need besides it.
struct OutgoingReport {
  core::TlsRptReport report;
  std::string report_domain;  // TLS-Report-Domain
  std::string submitter;      // TLS-Report-Submitter (ReportOrigin::submitter)
};

class ReportSender {
 public:
  // Throws std::runtime_error on unusable settings, naming the problem: mail_from not a
  // plain address, DKIM key missing/unreadable/unsafe/invalid, CA file missing, a timeout
  // <= 0. Fatal at start-up. `dns` must outlive the sender.
  ReportSender(boost::asio::any_io_executor ex, DnsResolver& dns, ReportSenderSettings settings);
  ~ReportSender();  // waits for a running submission (at most mail_timeout)
  ReportSender(const ReportSender&) = delete;
  ReportSender& operator=(const ReportSender&) = delete;

  // One attempt to deliver `report` to `rua` (a URI as a TLSRPT record lists it). `now` is
  // the e-mail's Date and the DKIM signing time. An unusable rua or a report the e-mail
  // cannot be built from is a permanent failure.
  boost::asio::awaitable<core::DeliveryResult> send(OutgoingReport report, std::string rua, util::TimePoint now);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mtastsd::io

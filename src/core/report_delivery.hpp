// The pure rules of delivering a TLS-RPT report to one rua (RFC 8460 sec. 5.3, 5.4): how
// an attempt ended, which failures are worth a retry, and where an https rua is posted.
//
// Temporary: the same attempt may succeed later (RFC 8460 sec. 5.5: redeliver for up to 24
// hours after the first attempt). Permanent: the destination refused this report;
// retrying it is pointless.
// A submission to our own relay or sendmail command is "delivered" once they accept the
// message (RFC 5321 sec. 6.1: the relay now owns it); what happens after is the MTA's job.
#pragma once
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include "core/tlsrpt_record.hpp"

namespace mtastsd::core {

enum class DeliveryError { temporary, permanent };
std::string_view to_string(DeliveryError e);

struct DeliveryFailure {
  DeliveryError error;
  std::string detail;  // what failed, with the server's reply where there was one
};

struct Delivered {
  std::string detail;  // the accepting reply: "250 2.0.0 Ok: queued as ...", "HTTP 201", "sendmail exited 0"
};

using DeliveryResult = std::expected<Delivered, DeliveryFailure>;
// A failed DeliveryResult.
std::unexpected<DeliveryFailure> delivery_failure(DeliveryError error, std::string detail);

// The SMTP command a reply answered (RFC 5321 sec. 4.3.2 lists the replies per command).
enum class SmtpStage { greeting, ehlo, starttls, mail_from, rcpt_to, data, end_of_data };
std::string_view to_string(SmtpStage s);

// A reply that stopped a submission (not 2xx/354). 4xx: transient (RFC 5321 sec. 4.2.1).
// 5xx is permanent only where it judges this message: RCPT (the recipient), DATA and the
// end of data (the content). A 5xx to the greeting, EHLO, STARTTLS or MAIL FROM means the
// relay refuses us (our configuration): temporary, so the report goes out once the
// administrator fixes it within the retry period. Anything else is temporary too.
DeliveryError classify_smtp_reply(SmtpStage stage, int code);

// A non-2xx HTTP status of an https upload (RFC 9110 sec. 15): 408 Request Timeout,
// 425 Too Early, 429 Too Many Requests and 5xx are temporary; 3xx (redirects are not
// followed, as for policy fetches) and other 4xx are permanent; 1xx and unknown codes
// are temporary.
DeliveryError classify_http_status(unsigned status);

// The exit status of a sendmail-compatible command (sysexits.h, which sendmail(8) and
// Postfix's sendmail(1) use): EX_DATAERR 65, EX_NOUSER 67, EX_NOHOST 68 judge the message
// or recipient and are permanent; everything else (EX_TEMPFAIL 75, EX_CONFIG 78, ...) is
// about the local system and temporary.
DeliveryError classify_sendmail_exit(int status);

// Where an https rua is posted: host, port (443 unless the URI names one) and request
// target (path and query as published, "/" when empty, without a fragment).
struct HttpsEndpoint {
  std::string host;
  std::uint16_t port = 443;
  std::string target;
  bool operator==(const HttpsEndpoint&) const = default;
};
// nullopt for a mailto: URI. `uri` must come from parse_report_uri (it checked the syntax).
std::optional<HttpsEndpoint> https_endpoint(const ReportUri& uri);

}  // namespace mtastsd::core

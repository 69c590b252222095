// The e-mail that carries one TLS-RPT report to one mailto: rua (RFC 8460 sec. 5.3),
// built as bytes ready for DKIM signing and SMTP submission; pure.
//
//   multipart/report; report-type="tlsrpt" (RFC 6522, RFC 8460 sec. 5.3)
//     text/plain                 what this is, for a human reader (us-ascii, 7bit)
//     application/tlsrpt+gzip    the report JSON, gzip (sec. 5.2), base64,
//                                Content-Disposition: attachment; filename=<sec. 5.1 name>
//   headers: From, To, Subject (sec. 5.3), Date, Message-ID, MIME-Version, Content-Type,
//   TLS-Report-Domain, TLS-Report-Submitter (sec. 5.3), TLS-Required: No (RFC 8689's header
//   field: relays may deliver without TLS; a report about broken TLS must get through it).
//
// MIME by hand, not GMime (libgmime-3.0): the message is one fixed structure whose every
// header value is ASCII we validate (host names, dot-atom addresses, the report-id), so
// the general work a MIME library does (encoded-words, parameter continuations, parsing)
// never arises; GMime would bring GLib/GObject into the pure core for about sixty lines
// of formatting. Compression is zlib's, base64 OpenSSL's (EVP_EncodeBlock).
//
// Format rules kept: CRLF line ends (RFC 5322 sec. 2.1), header fields folded at spaces to
// at most 78 characters where the words allow (sec. 2.1.1, 2.2.3), base64 lines of 76
// characters (RFC 2045 sec. 6.8). The MIME boundary contains "=_", which neither base64
// nor the text part (host names, numbers, the report-id) can contain (RFC 2046 sec. 5.1.1).
// Limits: ASCII addresses only (no SMTPUTF8, RFC 6531): From and To must each be a
// dot-atom local part "@" a host name, as a usable mailto: rua is.
#pragma once
#include <expected>
#include <string>
#include <string_view>
#include "core/tlsrpt_report.hpp"
#include "util/clock.hpp"

namespace mtastsd::core {

struct ReportMail {
  std::string from;           // From: and the envelope sender, e.g. "tlsrpt-noreply@mail.example.net"
  std::string to;             // the rua mailbox (ReportUri::mailbox)
  std::string report_domain;  // TLS-Report-Domain: the domain whose _smtp._tls record named the rua
  std::string submitter;      // TLS-Report-Submitter: ReportOrigin::submitter
  util::TimePoint date;       // Date:
};

enum class ReportMessageError {
  bad_address,  // From or To is not a plain ASCII addr-spec
  bad_domain,   // report domain or submitter is not a host name
  bad_report,   // the report JSON lacks what the text part shows (date-range, policies' summaries)
};
std::string_view to_string(ReportMessageError e);

struct ReportMessageFailure {
  ReportMessageError error;
  std::string detail;
};

// An address usable in From/To as it stands: a dot-atom local part "@" a lowercase host
// name, as a usable mailto: rua names one (core/tlsrpt_record), without percent-encoding.
bool is_plain_address(std::string_view address);

// gzip (RFC 1952) of data, as RFC 8460 sec. 5.2 requires for the report: deterministic
// (no file name, modification time 0). Throws std::bad_alloc when zlib runs out of memory.
std::string gzip_compress(std::string_view data);

// The complete message, CRLF line ends, ending in CRLF. The Message-ID is derived from the
// report-id and the recipient, so a resend of the same report to the same rua carries the
// same Message-ID (receivers can drop the duplicate) and two ruas get two distinct ones.
std::expected<std::string, ReportMessageFailure> build_report_message(const TlsRptReport& report,
                                                                      const ReportMail& mail);

}  // namespace mtastsd::core

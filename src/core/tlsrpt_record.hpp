// The _smtp._tls TXT record (RFC 8460 sec. 3): where a domain wants its TLS
// reports sent.
//   tlsrpt-record    = tlsrpt-version 1*(field-delim tlsrpt-field) [field-delim]
//   field-delim      = *WSP ";" *WSP
//   tlsrpt-field     = tlsrpt-rua / tlsrpt-extension
//   tlsrpt-version   = %s"v=TLSRPTv1"
//   tlsrpt-rua       = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)
//   tlsrpt-uri       = URI   ; "," and "!" MUST be percent-encoded
//   tlsrpt-extension = tlsrpt-ext-name "=" tlsrpt-ext-value
//   tlsrpt-ext-name  = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
//   tlsrpt-ext-value = 1*(%x21-3A / %x3C / %x3E-7E)
// Limits: only the two schemes RFC 8460 defines are usable (mailto with one plain
// addr-spec and no header fields; https with a host name); any other URI is dropped
// with a reason, and a record left without a usable one is invalid. Unlike DMARC,
// RFC 8460 has no "!size" suffix: a literal "!" makes the URI unusable.
#pragma once
#include <expected>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mtastsd::core {

enum class ReportUriScheme { mailto, https };

struct ReportUri {
  ReportUriScheme scheme = ReportUriScheme::mailto;
  std::string uri;      // as published
  std::string mailbox;  // mailto: the addr-spec, percent-decoded, domain lowercased; https: ""
  bool operator==(const ReportUri&) const = default;
};

struct RejectedReportUri {
  std::string uri;  // as published, made printable and bounded for logs
  std::string reason;
};

struct TlsRptRecord {
  std::vector<ReportUri> rua;  // usable destinations, record order, duplicates removed
  std::vector<RejectedReportUri> rejected;
  std::vector<std::pair<std::string, std::string>> extensions;
};

enum class TlsRptRecordError {
  not_tlsrpt,     // does not start with "v=TLSRPTv1" (sec. 3: such records are discarded)
  syntax,         // starts with v=TLSRPTv1 but violates the grammar
  missing_rua,    // no rua field (it is required)
  no_usable_rua,  // rua fields, but every URI was rejected
};
std::string_view to_string(TlsRptRecordError e);

struct TlsRptRecordFailure {
  TlsRptRecordError error;
  std::string detail;  // which rule failed, or why each URI was rejected
};

// One rua URI (e.g. from a stored aggregate's rua list), checked as in a record;
// the error is the reason it is unusable.
std::expected<ReportUri, std::string> parse_report_uri(std::string_view uri);

// One TXT record, its character-strings already concatenated without spaces (sec. 3).
std::expected<TlsRptRecord, TlsRptRecordFailure> parse_tlsrpt_record(std::string_view txt);

enum class TlsRptDiscoveryError {
  no_record,  // no TXT record starts with v=TLSRPTv1
  multiple,   // more than one does (sec. 3: the domain does not implement TLSRPT)
  invalid,    // exactly one, but it is unusable
};
std::string_view to_string(TlsRptDiscoveryError e);

struct TlsRptDiscoveryFailure {
  TlsRptDiscoveryError error;
  std::string detail;
};

// All TXT records at _smtp._tls.<domain>: keep those starting with "v=TLSRPTv1";
// exactly one must remain and be usable.
std::expected<TlsRptRecord, TlsRptDiscoveryFailure> select_tlsrpt_record(const std::vector<std::string>& txts);

}  // namespace mtastsd::core

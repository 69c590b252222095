// The _smtp._tls TXT record (core/tlsrpt_record, RFC 8460 sec. 3): the input as
// one record, as one rua URI, and cut at each LF into the record set of one name
// for select_tlsrpt_record. Properties: every usable URI checks the same on its
// own (parse_report_uri); a mailbox is local@domain with a lowercase host name;
// the record written back from its URIs and extensions parses to the same
// record; rejected URIs and failure details are printable (they go to logs);
// the selection agrees with parsing the records one by one.
#include <string>
#include <vector>
#include "core/host_name.hpp"
#include "core/tlsrpt_record.hpp"
#include "fuzz_support.hpp"

namespace {

using namespace mtastsd::core;
using mtastsd::fuzz::is_printable;

bool same(const TlsRptRecord& a, const TlsRptRecord& b) { return a.rua == b.rua && a.extensions == b.extensions; }

void check_uri(const ReportUri& uri) {
  const auto alone = parse_report_uri(uri.uri);
  FUZZ_CHECK(alone && *alone == uri);
  if (uri.scheme == ReportUriScheme::https) {
    FUZZ_CHECK(uri.mailbox.empty());
    return;
  }
  const std::size_t at = uri.mailbox.rfind('@');
  FUZZ_CHECK(at != std::string::npos && at > 0);
  const std::string domain = uri.mailbox.substr(at + 1);
  FUZZ_CHECK(is_host_name(domain) && domain == ascii_lowercase(domain));
}

void check_record(const TlsRptRecord& record) {
  FUZZ_CHECK(!record.rua.empty());
  std::string text = "v=TLSRPTv1; rua=";
  for (std::size_t i = 0; i < record.rua.size(); ++i) {
    check_uri(record.rua[i]);
    text += (i ? "," : "") + record.rua[i].uri;
  }
  for (const RejectedReportUri& rejected : record.rejected)
    FUZZ_CHECK(is_printable(rejected.uri) && !rejected.reason.empty());
  for (const auto& [name, value] : record.extensions) text += "; " + name + "=" + value;
  const auto again = parse_tlsrpt_record(text);
  FUZZ_CHECK(again && same(*again, record));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = mtastsd::fuzz::as_text(data, size);
  if (const auto uri = parse_report_uri(input)) check_uri(*uri);
  const auto record = parse_tlsrpt_record(input);
  if (record) check_record(*record);
  else FUZZ_CHECK(is_printable(record.error().detail));

  std::vector<std::string> txts;
  for (std::string_view line : mtastsd::fuzz::lines_of(input)) {
    if (line.ends_with('\n')) line.remove_suffix(1);
    txts.emplace_back(line);
  }
  std::size_t tlsrpt = 0;
  std::expected<TlsRptRecord, TlsRptRecordFailure> only = std::unexpected(TlsRptRecordFailure{});
  for (const std::string& txt : txts) {
    auto parsed = parse_tlsrpt_record(txt);
    if (!parsed && parsed.error().error == TlsRptRecordError::not_tlsrpt) continue;
    if (++tlsrpt == 1) only = std::move(parsed);
  }
  const auto selected = select_tlsrpt_record(txts);
  if (tlsrpt == 0) FUZZ_CHECK(!selected && selected.error().error == TlsRptDiscoveryError::no_record);
  else if (tlsrpt > 1) FUZZ_CHECK(!selected && selected.error().error == TlsRptDiscoveryError::multiple);
  else if (!only) FUZZ_CHECK(!selected && selected.error().error == TlsRptDiscoveryError::invalid);
  else FUZZ_CHECK(selected && same(*selected, *only));
  if (!selected) FUZZ_CHECK(is_printable(selected.error().detail));
  return 0;
}

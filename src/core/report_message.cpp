// The RFC 8460 sec. 5.3 report e-mail; see report_message.hpp for the structure and the
// decision to format MIME by hand.
#include "core/report_message.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <new>
#include <optional>
#include <stdexcept>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/sha.h>
#define ZLIB_CONST  // next_in is a pointer to const
#include <zlib.h>

#include "core/host_name.hpp"
#include "core/tlsrpt_record.hpp"
#include "util/printable.hpp"

namespace mtastsd::core {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kCrlf = "\r\n";
constexpr std::size_t kFoldAt = 78;              // RFC 5322 sec. 2.1.1: lines SHOULD be at most 78 characters
constexpr std::size_t kBase64LineLength = 76;    // RFC 2045 sec. 6.8: encoded lines at most 76 characters
constexpr int kGzipWindowBits = 15 + 16;         // zlib: 32 KiB window, +16 = gzip wrapper (RFC 1952)
constexpr int kMemLevel = 8;                     // zlib's default

std::unexpected<ReportMessageFailure> fail(ReportMessageError error, std::string detail) {
  return std::unexpected(ReportMessageFailure{error, std::move(detail)});
}

std::string lowercase_hex(const unsigned char* bytes, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += fmt::format("{:02x}", bytes[i]);
  return out;
}

std::array<unsigned char, SHA256_DIGEST_LENGTH> sha256(std::string_view data) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data());
  return digest;
}

// "Name: value" with CRLF, folded before a space where the line would pass kFoldAt
// (RFC 5322 sec. 2.2.3); a word longer than that stays whole (our values stay far below
// the 998-character hard limit of sec. 2.1.1). Values are single-spaced ASCII.
std::string header_field(std::string_view name, std::string_view value) {
  std::string out = fmt::format("{}:", name);
  std::size_t line_length = out.size();
  bool first_word = true;
  for (std::size_t start = 0; start <= value.size();) {
    const std::size_t end = std::min(value.find(' ', start), value.size());
    const std::string_view word = value.substr(start, end - start);
    if (!first_word && line_length + 1 + word.size() > kFoldAt) {
      out += kCrlf;
      line_length = 0;
    }
    out += ' ';
    out += word;
    line_length += 1 + word.size();
    first_word = false;
    start = end + 1;
  }
  out += kCrlf;
  return out;
}

// RFC 5322 sec. 3.3 date-time in UTC: "Mon, 01 Apr 2024 02:13:07 +0000".
std::string rfc5322_date(util::TimePoint t) {
  static constexpr std::array<std::string_view, 7> kDays = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const auto seconds = std::chrono::floor<std::chrono::seconds>(t);
  const auto day = std::chrono::floor<std::chrono::days>(seconds);
  const std::chrono::year_month_day ymd{day};
  const std::chrono::hh_mm_ss time{seconds - day};
  const std::chrono::weekday weekday{day};
  return fmt::format("{}, {:02} {} {:04} {:02}:{:02}:{:02} +0000", kDays[weekday.c_encoding()],
                     static_cast<unsigned>(ymd.day()), kMonths[static_cast<unsigned>(ymd.month()) - 1],
                     static_cast<int>(ymd.year()), time.hours().count(), time.minutes().count(),
                     time.seconds().count());
}

// Base64 (RFC 2045 sec. 6.8) in lines of kBase64LineLength characters, each ending in CRLF.
std::string base64_lines(std::string_view data) {
  constexpr std::size_t kBytesPerLine = kBase64LineLength / 4 * 3;
  std::string out;
  out.reserve((data.size() / kBytesPerLine + 1) * (kBase64LineLength + 2));
  std::array<unsigned char, kBase64LineLength + 1> line{};  // EVP_EncodeBlock writes a NUL
  for (std::size_t offset = 0; offset < data.size(); offset += kBytesPerLine) {
    const std::size_t n = std::min(kBytesPerLine, data.size() - offset);
    const int written =
        EVP_EncodeBlock(line.data(), reinterpret_cast<const unsigned char*>(data.data() + offset), static_cast<int>(n));
    out.append(reinterpret_cast<const char*>(line.data()), static_cast<std::size_t>(written));
    out += kCrlf;
  }
  return out;
}

// What the human-readable part shows, read back from the report we built.
struct ReportSummary {
  std::string start;
  std::string end;
  std::uint64_t successful = 0;
  std::uint64_t failed = 0;
  std::size_t policies = 0;
};

std::expected<ReportSummary, ReportMessageFailure> summarise(std::string_view report_json) {
  const Json report = Json::parse(report_json, nullptr, false);
  if (report.is_discarded() || !report.is_object()) return fail(ReportMessageError::bad_report, "not a JSON object");
  ReportSummary summary;
  const auto* range = report.contains("date-range") ? &report["date-range"] : nullptr;
  if (!range || !range->is_object() || !range->contains("start-datetime") || !range->contains("end-datetime") ||
      !(*range)["start-datetime"].is_string() || !(*range)["end-datetime"].is_string())
    return fail(ReportMessageError::bad_report, "no date-range");
  summary.start = util::printable_excerpt((*range)["start-datetime"].get<std::string>(), 40);
  summary.end = util::printable_excerpt((*range)["end-datetime"].get<std::string>(), 40);
  if (!report.contains("policies") || !report["policies"].is_array())
    return fail(ReportMessageError::bad_report, "no policies array");
  for (const Json& policy : report["policies"]) {
    if (!policy.is_object() || !policy.contains("summary") || !policy["summary"].is_object())
      return fail(ReportMessageError::bad_report, "a policy without a summary");
    const Json& counts = policy["summary"];
    const auto count = [&](const char* name) -> std::optional<std::uint64_t> {
      if (!counts.contains(name) || !counts[name].is_number_unsigned()) return std::nullopt;
      return counts[name].get<std::uint64_t>();
    };
    const auto successful = count("total-successful-session-count");
    const auto failed = count("total-failure-session-count");
    if (!successful || !failed) return fail(ReportMessageError::bad_report, "a summary without session counts");
    summary.successful += *successful;
    summary.failed += *failed;
    ++summary.policies;
  }
  return summary;
}

std::string text_part(const TlsRptReport& report, const ReportMail& mail, const ReportSummary& summary) {
  return fmt::format(
      "This is an aggregate report on the TLS security of SMTP sessions\r\n"
      "(RFC 8460, SMTP TLS Reporting).\r\n"
      "\r\n"
      "Report domain:  {domain}\r\n"
      "Submitter:      {submitter}\r\n"
      "Period:         {start} to {end}\r\n"
      "Sessions:       {ok} successful, {failed} failed, under {policies} {policy_word}\r\n"
      "Report-ID:      <{id}>\r\n"
      "\r\n"
      "The report is attached as gzip-compressed JSON:\r\n"
      "{file}\r\n",
      fmt::arg("domain", mail.report_domain), fmt::arg("submitter", mail.submitter), fmt::arg("start", summary.start),
      fmt::arg("end", summary.end), fmt::arg("ok", summary.successful), fmt::arg("failed", summary.failed),
      fmt::arg("policies", summary.policies), fmt::arg("policy_word", summary.policies == 1 ? "policy" : "policies"),
      fmt::arg("id", report.report_id), fmt::arg("file", report.file_name));
}

}  // namespace

std::string_view to_string(ReportMessageError e) {
  switch (e) {
    case ReportMessageError::bad_address: return "address is not a plain ASCII addr-spec";
    case ReportMessageError::bad_domain: return "report domain or submitter is not a host name";
    case ReportMessageError::bad_report: return "report JSON is incomplete";
  }
  return "cannot build the report message";
}

bool is_plain_address(std::string_view address) {
  const auto checked = parse_report_uri(fmt::format("mailto:{}", address));
  return checked && checked->mailbox == address;
}

std::string gzip_compress(std::string_view data) {
  z_stream stream{};
  if (deflateInit2(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, kGzipWindowBits, kMemLevel, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::bad_alloc();  // the only way it fails with constant, valid parameters
  std::string out(deflateBound(&stream, data.size()), '\0');
  stream.next_in = reinterpret_cast<const Bytef*>(data.data());
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int status = deflate(&stream, Z_FINISH);  // deflateBound leaves room for one pass
  out.resize(stream.total_out);
  deflateEnd(&stream);
  if (status != Z_STREAM_END) throw std::logic_error(fmt::format("deflate returned {}", status));
  return out;
}

std::expected<std::string, ReportMessageFailure> build_report_message(const TlsRptReport& report,
                                                                      const ReportMail& mail) {
  for (const std::string& address : {mail.from, mail.to})
    if (!is_plain_address(address)) return fail(ReportMessageError::bad_address, util::printable_excerpt(address, 80));
  for (const std::string& domain : {mail.report_domain, mail.submitter})
    if (!is_host_name(domain)) return fail(ReportMessageError::bad_domain, util::printable_excerpt(domain, 80));
  const auto summary = summarise(report.json);
  if (!summary) return std::unexpected(summary.error());

  // Same report and recipient, same Message-ID (RFC 5322 sec. 3.6.4 msg-id).
  const std::string_view report_local = std::string_view(report.report_id).substr(0, report.report_id.find('@'));
  const auto recipient_digest = sha256(mail.to);
  const std::string message_id =
      fmt::format("<{}.{}@{}>", report_local, lowercase_hex(recipient_digest.data(), 8), mail.submitter);
  const auto report_digest = sha256(report.report_id);
  const std::string boundary = fmt::format("=_tlsrpt_{}", lowercase_hex(report_digest.data(), 12));

  std::string message;
  message += header_field("From", mail.from);
  message += header_field("To", mail.to);
  message += header_field("Subject", report.subject);
  message += header_field("Date", rfc5322_date(mail.date));
  message += header_field("Message-ID", message_id);
  message += header_field("MIME-Version", "1.0");
  message += header_field("Content-Type", fmt::format("multipart/report; report-type=\"tlsrpt\"; boundary=\"{}\"",
                                                      boundary));
  message += header_field("TLS-Report-Domain", mail.report_domain);
  message += header_field("TLS-Report-Submitter", mail.submitter);
  message += header_field("TLS-Required", "No");
  message += kCrlf;
  message += "This is a multi-part message in MIME format.\r\n";

  message += fmt::format("\r\n--{}\r\n", boundary);
  message += header_field("Content-Type", "text/plain; charset=us-ascii");
  message += header_field("Content-Transfer-Encoding", "7bit");
  message += kCrlf;
  message += text_part(report, mail, *summary);

  message += fmt::format("\r\n--{}\r\n", boundary);
  message += header_field("Content-Type", "application/tlsrpt+gzip");
  message += header_field("Content-Transfer-Encoding", "base64");
  message += header_field("Content-Disposition", fmt::format("attachment; filename=\"{}\"", report.file_name));
  message += kCrlf;
  message += base64_lines(gzip_compress(report.json));  // ends in CRLF, the close-delimiter's own
  message += fmt::format("--{}--\r\n", boundary);
  return message;
}

}  // namespace mtastsd::core

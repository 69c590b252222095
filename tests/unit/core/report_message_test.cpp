// The RFC 8460 sec. 5.3 report e-mail: headers, MIME structure, line rules, and the
// attachment, decoded here with libcrypto's base64 decoder and zlib's inflate back to
// the report JSON.
#include "core/report_message.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <zlib.h>

#include <map>
#include <string>
#include <vector>

namespace mtastsd::core {
namespace report_message_test {

constexpr std::int64_t kApril1st2024 = 1711929600;  // 2024-04-01T00:00:00Z, a Monday
const ReportOrigin kOrigin{"Example Sender", "tlsrpt-admin@sender.example", "sender.example"};

PolicyAggregate sts_aggregate(std::uint64_t ok, std::uint64_t failed) {
  PolicyAggregate p;
  p.rua = {"mailto:tlsrpt@example.com"};
  p.policy = AppliedPolicy{PolicyType::sts, {"version: STSv1", "mode: enforce", "mx: *.example.com"}, "example.com",
                           {"*.example.com"}};
  p.successful_sessions = ok;
  p.failed_sessions = failed;
  return p;
}

TlsRptReport fixture_report(std::string_view domain = "example.com") {
  PolicyAggregate none = sts_aggregate(3, 0);
  none.policy = AppliedPolicy{PolicyType::no_policy_found, {}, std::string(domain), {}};
  auto report = build_report(kOrigin, UtcDay::containing(util::from_unix(kApril1st2024)), domain,
                             {sts_aggregate(120, 4), none}, "a1b2c3");
  EXPECT_TRUE(report.has_value());
  return *report;
}

ReportMail fixture_mail() {
  return ReportMail{"tlsrpt-noreply@sender.example", "tlsrpt@example.com", "example.com", "sender.example",
                    util::from_unix(kApril1st2024 + 86400 + 3 * 3600 + 4 * 60 + 5)};
}

std::string build(const TlsRptReport& report, const ReportMail& mail) {
  auto message = build_report_message(report, mail);
  EXPECT_TRUE(message.has_value()) << (message ? "" : message.error().detail);
  return message.value_or("");
}

// --- a minimal reader for the one structure we build ---

struct Entity {
  std::vector<std::pair<std::string, std::string>> headers;  // unfolded, in order
  std::string body;

  std::vector<std::string> values(std::string_view name) const {
    std::vector<std::string> out;
    for (const auto& [n, v] : headers)
      if (n == name) out.push_back(v);
    return out;
  }
  std::string value(std::string_view name) const {
    auto all = values(name);
    EXPECT_EQ(all.size(), 1u) << name;
    return all.empty() ? "" : all[0];
  }
};

Entity parse_entity(std::string_view text) {
  Entity e;
  const std::size_t end = text.find("\r\n\r\n");
  EXPECT_NE(end, std::string_view::npos) << "no blank line after the header";
  std::string header(text.substr(0, end + 2));
  for (std::size_t fold; (fold = header.find("\r\n ")) != std::string::npos;) header.replace(fold, 3, " ");
  for (std::size_t start = 0; start < header.size();) {
    const std::size_t eol = header.find("\r\n", start);
    const std::string line = header.substr(start, eol - start);
    const std::size_t colon = line.find(": ");
    EXPECT_NE(colon, std::string::npos) << line;
    e.headers.emplace_back(line.substr(0, colon), line.substr(colon + 2));
    start = eol + 2;
  }
  e.body = std::string(text.substr(end + 4));
  return e;
}

std::vector<std::string> lines_of(std::string_view text) {
  std::vector<std::string> out;
  for (std::size_t start = 0; start < text.size();) {
    const std::size_t eol = text.find("\r\n", start);
    if (eol == std::string_view::npos) {
      out.emplace_back(text.substr(start));
      break;
    }
    out.emplace_back(text.substr(start, eol - start));
    start = eol + 2;
  }
  return out;
}

// The parts between "--boundary" lines, up to "--boundary--" (RFC 2046 sec. 5.1.1).
std::vector<std::string> split_parts(std::string_view body, std::string_view boundary) {
  const std::string delimiter = "\r\n--" + std::string(boundary);
  std::vector<std::string> parts;
  std::size_t at = body.find(delimiter);
  EXPECT_NE(at, std::string_view::npos) << "no first boundary";
  while (at != std::string_view::npos) {
    std::size_t start = at + delimiter.size();
    if (body.substr(start, 4) == "--\r\n") {
      EXPECT_EQ(start + 4, body.size()) << "text after the close-delimiter";
      return parts;
    }
    EXPECT_EQ(body.substr(start, 2), "\r\n");
    start += 2;
    at = body.find(delimiter, start);
    parts.emplace_back(body.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
  }
  ADD_FAILURE() << "no close-delimiter";
  return parts;
}

std::string parameter(std::string_view header_value, std::string_view name) {
  const std::string key = std::string(name) + "=\"";
  const std::size_t start = header_value.find(key);
  if (start == std::string_view::npos) return "";
  const std::size_t value_start = start + key.size();
  return std::string(header_value.substr(value_start, header_value.find('"', value_start) - value_start));
}

std::string base64_decode(std::string_view lines) {
  std::string text;
  for (const std::string& line : lines_of(lines)) text += line;
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  EXPECT_GE(n, 0) << "not base64";
  out.resize(static_cast<std::size_t>(std::max(n, 0)));
  // EVP_DecodeBlock counts the padding as zero bytes.
  if (text.ends_with("==")) out.resize(out.size() - 2);
  else if (text.ends_with("=")) out.resize(out.size() - 1);
  return out;
}

std::string gunzip(std::string_view data) {
  z_stream stream{};
  EXPECT_EQ(inflateInit2(&stream, 15 + 16), Z_OK);  // gzip wrapper only
  std::string out(1 << 20, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&stream, Z_FINISH), Z_STREAM_END) << "not a complete gzip stream";
  out.resize(stream.total_out);
  inflateEnd(&stream);
  return out;
}

// --- gzip ---

TEST(Gzip, RoundTripsWithAGzipHeader) {
  const std::string json = R"({"organization-name":"Example","policies":[]})";
  const std::string compressed = gzip_compress(json);
  ASSERT_GE(compressed.size(), 18u);
  EXPECT_EQ(static_cast<unsigned char>(compressed[0]), 0x1f);  // RFC 1952 sec. 2.3.1 ID1 ID2
  EXPECT_EQ(static_cast<unsigned char>(compressed[1]), 0x8b);
  EXPECT_EQ(compressed[2], 8);  // CM = deflate
  EXPECT_EQ(gunzip(compressed), json);
  EXPECT_EQ(gzip_compress(json), compressed) << "deterministic: no time stamp";
  EXPECT_EQ(gunzip(gzip_compress("")), "");
  const std::string repetitive(100000, 'x');
  EXPECT_LT(gzip_compress(repetitive).size(), 1000u);
  EXPECT_EQ(gunzip(gzip_compress(repetitive)), repetitive);
}

// --- the message ---

TEST(ReportMessage, HeadersOfRfc8460) {
  const TlsRptReport report = fixture_report();
  const Entity message = parse_entity(build(report, fixture_mail()));
  EXPECT_EQ(message.value("From"), "tlsrpt-noreply@sender.example");
  EXPECT_EQ(message.value("To"), "tlsrpt@example.com");
  EXPECT_EQ(message.value("Subject"), report.subject);
  EXPECT_EQ(message.value("Subject"),
            "Report Domain: example.com Submitter: sender.example "
            "Report-ID: <20240401.a1b2c3.example.com@sender.example>");
  EXPECT_EQ(message.value("Date"), "Tue, 02 Apr 2024 03:04:05 +0000");
  EXPECT_EQ(message.value("MIME-Version"), "1.0");
  EXPECT_EQ(message.value("TLS-Report-Domain"), "example.com");
  EXPECT_EQ(message.value("TLS-Report-Submitter"), "sender.example");
  EXPECT_EQ(message.value("TLS-Required"), "No");
  const std::string content_type = message.value("Content-Type");
  EXPECT_TRUE(content_type.starts_with("multipart/report; report-type=\"tlsrpt\"; boundary=\"")) << content_type;
  const std::string message_id = message.value("Message-ID");
  EXPECT_TRUE(message_id.starts_with("<20240401.a1b2c3.example.com.")) << message_id;
  EXPECT_TRUE(message_id.ends_with("@sender.example>")) << message_id;
  EXPECT_EQ(message.headers.size(), 10u);
}

TEST(ReportMessage, MultipartReportWithTextAndGzipAttachment) {
  const TlsRptReport report = fixture_report();
  const Entity message = parse_entity(build(report, fixture_mail()));
  const std::string boundary = parameter(message.value("Content-Type"), "boundary");
  ASSERT_FALSE(boundary.empty());
  const auto parts = split_parts(message.body, boundary);
  ASSERT_EQ(parts.size(), 2u);

  const Entity text = parse_entity(parts[0]);
  EXPECT_EQ(text.value("Content-Type"), "text/plain; charset=us-ascii");
  EXPECT_EQ(text.value("Content-Transfer-Encoding"), "7bit");
  EXPECT_NE(text.body.find("example.com"), std::string::npos);
  EXPECT_NE(text.body.find("2024-04-01T00:00:00Z to 2024-04-01T23:59:59Z"), std::string::npos) << text.body;
  EXPECT_NE(text.body.find("123 successful, 4 failed, under 2 policies"), std::string::npos) << text.body;
  EXPECT_NE(text.body.find(report.file_name), std::string::npos);
  for (const char c : text.body) EXPECT_TRUE(c == '\r' || c == '\n' || (c >= 0x20 && c < 0x7f)) << "not 7bit text";

  const Entity attachment = parse_entity(parts[1]);
  EXPECT_EQ(attachment.value("Content-Type"), "application/tlsrpt+gzip");
  EXPECT_EQ(attachment.value("Content-Transfer-Encoding"), "base64");
  const std::string disposition = attachment.value("Content-Disposition");
  EXPECT_TRUE(disposition.starts_with("attachment;")) << disposition;
  EXPECT_EQ(parameter(disposition, "filename"), report.file_name);
  EXPECT_EQ(parameter(disposition, "filename"), "sender.example!example.com!1711929600!1712015999!a1b2c3.json.gz");
  EXPECT_EQ(gunzip(base64_decode(attachment.body)), report.json);
}

TEST(ReportMessage, CrlfLinesWithinTheLengthLimits) {
  const std::string message = build(fixture_report(), fixture_mail());
  ASSERT_TRUE(message.ends_with("\r\n"));
  for (std::size_t i = 0; i < message.size(); ++i) {
    if (message[i] == '\n') {
      EXPECT_TRUE(i > 0 && message[i - 1] == '\r') << "bare LF at " << i;
    }
    if (message[i] == '\r') {
      EXPECT_TRUE(i + 1 < message.size() && message[i + 1] == '\n') << "bare CR at " << i;
    }
  }
  const Entity parsed = parse_entity(message);
  const std::string boundary = parameter(parsed.value("Content-Type"), "boundary");
  const auto parts = split_parts(parsed.body, boundary);
  ASSERT_EQ(parts.size(), 2u);
  const auto base64 = lines_of(parse_entity(parts[1]).body);
  ASSERT_GT(base64.size(), 1u) << "the fixture's attachment should need more than one line";
  for (std::size_t i = 0; i < base64.size(); ++i) {
    EXPECT_LE(base64[i].size(), 76u);
    if (i + 1 < base64.size()) {
      EXPECT_EQ(base64[i].size(), 76u) << "only the last line is short";
    }
  }
  for (const std::string& line : lines_of(message)) EXPECT_LE(line.size(), 78u) << line;
}

TEST(ReportMessage, LongHeaderFieldsAreFoldedAtSpaces) {
  const std::string domain = std::string(40, 'a') + "." + std::string(30, 'b') + ".example";
  const TlsRptReport report = fixture_report(domain);
  ReportMail mail = fixture_mail();
  mail.report_domain = domain;
  const std::string message = build(report, mail);
  const std::string header = message.substr(0, message.find("\r\n\r\n") + 2);
  bool folded = false;
  for (const std::string& line : lines_of(header)) {
    if (line.starts_with(" ")) folded = true;
    EXPECT_FALSE(line.empty() || line.find_first_not_of(' ') == std::string::npos) << "whitespace-only line";
    // Only a line holding a single word longer than the limit may exceed 78, never 998.
    const std::string words = line.starts_with(" ") ? line.substr(1) : line.substr(line.find(' ') + 1);
    if (line.size() > 78u) {
      EXPECT_EQ(words.find(' '), std::string::npos) << "could have been folded: " << line;
    }
    EXPECT_LE(line.size(), 998u);
  }
  EXPECT_TRUE(folded);
  EXPECT_EQ(parse_entity(message).value("Subject"), report.subject) << "unfolding restores the Subject";
  EXPECT_EQ(parse_entity(message).value("TLS-Report-Domain"), domain);
}

TEST(ReportMessage, MessageIdIsStablePerRecipient) {
  const TlsRptReport report = fixture_report();
  ReportMail mail = fixture_mail();
  const std::string first = parse_entity(build(report, mail)).value("Message-ID");
  mail.date += std::chrono::hours(5);  // a retry hours later
  EXPECT_EQ(parse_entity(build(report, mail)).value("Message-ID"), first);
  mail.to = "reports@example.org";
  EXPECT_NE(parse_entity(build(report, mail)).value("Message-ID"), first);
}

TEST(ReportMessage, BoundaryNeverOccursInsideTheParts) {
  const TlsRptReport report = fixture_report();
  const Entity message = parse_entity(build(report, fixture_mail()));
  const std::string boundary = parameter(message.value("Content-Type"), "boundary");
  EXPECT_TRUE(boundary.starts_with("=_")) << "\"=_\" cannot occur in base64 or in the text part";
  std::size_t count = 0;
  for (std::size_t at = message.body.find(boundary); at != std::string::npos;
       at = message.body.find(boundary, at + 1))
    ++count;
  EXPECT_EQ(count, 3u) << "two delimiters and the close-delimiter";
}

TEST(ReportMessage, DateHeaderFormats) {
  const TlsRptReport report = fixture_report();
  ReportMail mail = fixture_mail();
  const std::pair<std::int64_t, const char*> cases[] = {
      {kApril1st2024, "Mon, 01 Apr 2024 00:00:00 +0000"},
      {951782400, "Tue, 29 Feb 2000 00:00:00 +0000"},
      {1735689599, "Tue, 31 Dec 2024 23:59:59 +0000"},
      {1704067200 + 9 * 3600 + 5, "Mon, 01 Jan 2024 09:00:05 +0000"},
  };
  for (const auto& [unix_time, expected] : cases) {
    mail.date = util::from_unix(unix_time);
    EXPECT_EQ(parse_entity(build(report, mail)).value("Date"), expected);
  }
}

TEST(ReportMessage, RejectsAddressesThatAreNotPlainAscii) {
  const TlsRptReport report = fixture_report();
  for (const char* bad : {"", "no-at-sign", "a b@example.com", "a@example.com\r\nBcc: victim@example.org",
                          "\"quoted\"@example.com", "user@Example.com", "us\xc3\xa9r@example.com", "a@[192.0.2.1]",
                          "a%40b@example.com", "a@example.com,b@example.com"}) {
    ReportMail mail = fixture_mail();
    mail.from = bad;
    auto from = build_report_message(report, mail);
    ASSERT_FALSE(from.has_value()) << bad;
    EXPECT_EQ(from.error().error, ReportMessageError::bad_address);
    mail = fixture_mail();
    mail.to = bad;
    auto to = build_report_message(report, mail);
    ASSERT_FALSE(to.has_value()) << bad;
    EXPECT_EQ(to.error().error, ReportMessageError::bad_address);
  }
}

TEST(ReportMessage, RejectsDomainsThatAreNotHostNames) {
  const TlsRptReport report = fixture_report();
  for (const char* bad : {"", "example.com\r\nX: y", "exa mple.com", "-example.com", "192.0.2.1"}) {
    ReportMail mail = fixture_mail();
    mail.report_domain = bad;
    auto domain = build_report_message(report, mail);
    ASSERT_FALSE(domain.has_value()) << bad;
    EXPECT_EQ(domain.error().error, ReportMessageError::bad_domain);
    mail = fixture_mail();
    mail.submitter = bad;
    auto submitter = build_report_message(report, mail);
    ASSERT_FALSE(submitter.has_value()) << bad;
    EXPECT_EQ(submitter.error().error, ReportMessageError::bad_domain);
  }
}

TEST(ReportMessage, RejectsAReportWithoutWhatTheTextShows) {
  TlsRptReport report = fixture_report();
  for (const char* json : {"", "[]", "{\"policies\":[]}",
                           R"({"date-range":{"start-datetime":"a","end-datetime":"b"}})",
                           R"({"date-range":{"start-datetime":"a","end-datetime":"b"},"policies":[{}]})",
                           R"({"date-range":{"start-datetime":"a","end-datetime":"b"},
                               "policies":[{"summary":{"total-successful-session-count":-1,
                                                       "total-failure-session-count":0}}]})"}) {
    report.json = json;
    auto message = build_report_message(report, fixture_mail());
    ASSERT_FALSE(message.has_value()) << json;
    EXPECT_EQ(message.error().error, ReportMessageError::bad_report);
  }
}

}  // namespace report_message_test
}  // namespace mtastsd::core

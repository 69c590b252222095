// The _smtp._tls TXT record (RFC 8460 sec. 3), parsed by its ABNF, with the rua
// URIs checked one by one. Choices where the RFC leaves room (as for _mta-sts in
// sts_record.cpp):
//  - A record "starts with v=TLSRPTv1" when that token is complete (followed by the
//    end, WSP or ";"): "v=TLSRPTv10" is another version and is discarded.
//  - Field names are case-sensitive (%s"rua="): "RUA=x" is an extension.
//  - Several rua fields are grammatical (1*tlsrpt-field): their URIs are merged in
//    order, so no published destination is lost.
//  - A URI token runs to the next WSP, "," or ";" (the RFC requires "," to be
//    encoded; a URI holding a literal ";" cannot be told from the field delimiter).
#include "core/tlsrpt_record.hpp"

#include <algorithm>
#include <charconv>

#include "core/host_name.hpp"
#include "core/txt_record_grammar.hpp"
#include "util/ascii.hpp"
#include "util/printable.hpp"
#include "util/text_scanner.hpp"

namespace mtastsd::core {
namespace {

constexpr std::string_view kTlsRptVersion = "v=TLSRPTv1";
constexpr std::size_t kMaxPort = 65535;

bool ends_uri_token(char c) { return util::is_wsp(c) || c == ',' || c == ';'; }

// RFC 3986 sec. 2: unreserved / reserved (gen-delims, sub-delims) / "%".
bool is_uri_char(char c) {
  if (util::is_alnum(c)) return true;
  return std::string_view("-._~:/?#[]@!$&'()*+,;=%").find(c) != std::string_view::npos;
}
// RFC 5322 sec. 3.2.3 atext.
bool is_atext(char c) {
  return util::is_alnum(c) || std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

bool is_dot_atom_text(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.' || s.find("..") != std::string_view::npos) return false;
  return std::ranges::all_of(s, [](char c) { return is_atext(c) || c == '.'; });
}

int hex_value(char c) {
  if (util::is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

// Percent-encodings are already checked to be well-formed.
std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

bool has_valid_percent_encoding(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') continue;
    if (i + 2 >= s.size() || !util::is_hex_digit(s[i + 1]) || !util::is_hex_digit(s[i + 2])) return false;
    i += 2;
  }
  return true;
}

// mailto: one addr-spec (RFC 6068 sec. 2 "to"), dot-atom local part, host-name domain.
std::expected<ReportUri, std::string> check_mailto(std::string_view uri, std::string_view rest) {
  if (rest.find('?') != std::string_view::npos) return std::unexpected("mailto header fields are not supported");
  const std::string address = percent_decode(rest);
  if (address.find(',') != std::string::npos) return std::unexpected("several mailto addresses are not supported");
  const std::size_t at = address.rfind('@');
  if (at == std::string::npos) return std::unexpected("mailto URI without an e-mail address");
  const std::string_view local = std::string_view(address).substr(0, at);
  const std::string domain = ascii_lowercase(std::string_view(address).substr(at + 1));
  if (!is_dot_atom_text(local)) return std::unexpected("mailbox local part is not a plain dot-atom");
  if (!is_host_name(domain)) return std::unexpected("mailbox domain is not a host name");
  return ReportUri{ReportUriScheme::mailto, std::string(uri), std::string(local) + "@" + domain};
}

// https: "//" host [":" port] followed by anything URI characters allow.
std::expected<ReportUri, std::string> check_https(std::string_view uri, std::string_view rest) {
  if (!rest.starts_with("//")) return std::unexpected("https URI without an authority");
  rest.remove_prefix(2);
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.find('@') != std::string_view::npos)
    return std::unexpected("user information in an https URI is not supported");
  std::string_view host = authority;
  if (const std::size_t colon = authority.find(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    const std::string_view port = authority.substr(colon + 1);
    unsigned long number = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
    if (port.empty() || !std::ranges::all_of(port, util::is_digit) || ec != std::errc() ||
        end != port.data() + port.size() || number > kMaxPort)
      return std::unexpected("https URI with a bad port");
  }
  if (!is_host_name(host)) return std::unexpected("https URI host is not a host name");
  return ReportUri{ReportUriScheme::https, std::string(uri), ""};
}

bool same_destination(const ReportUri& a, const ReportUri& b) {
  if (a.scheme != b.scheme) return false;
  return a.scheme == ReportUriScheme::mailto ? a.mailbox == b.mailbox : a.uri == b.uri;
}

void add_uri(TlsRptRecord& record, std::string_view uri) {
  auto checked = parse_report_uri(uri);
  if (!checked) {
    record.rejected.push_back({util::printable_excerpt(uri), std::move(checked.error())});
    return;
  }
  const bool duplicate =
      std::ranges::any_of(record.rua, [&](const ReportUri& known) { return same_destination(known, *checked); });
  if (!duplicate) record.rua.push_back(std::move(*checked));
}

using Scanner = util::TextScanner;

using RecordRejection = std::unexpected<TlsRptRecordFailure>;

RecordRejection reject_record(TlsRptRecordError error, std::string detail) {
  return RecordRejection(TlsRptRecordFailure{error, std::move(detail)});
}

// tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri); leaves the scanner before the next field-delim.
std::expected<void, TlsRptRecordFailure> parse_rua_value(Scanner& in, TlsRptRecord& record) {
  for (;;) {
    const std::string_view uri = in.take_while([](char c) { return !ends_uri_token(c); });
    if (uri.empty()) return reject_record(TlsRptRecordError::syntax, "empty URI in rua");
    add_uri(record, uri);
    in.skip_wsp();
    if (in.at_end() || in.peek() != ',') return {};
    in.skip();
    in.skip_wsp();
  }
}

std::string describe_rejections(const TlsRptRecord& record) {
  std::string out;
  for (const RejectedReportUri& r : record.rejected) {
    if (!out.empty()) out += "; ";
    out += "\"" + r.uri + "\": " + r.reason;
  }
  return out;
}

}  // namespace

std::string_view to_string(TlsRptRecordError e) {
  switch (e) {
    case TlsRptRecordError::not_tlsrpt: return "not a TLSRPTv1 record";
    case TlsRptRecordError::syntax: return "syntax error";
    case TlsRptRecordError::missing_rua: return "no rua field";
    case TlsRptRecordError::no_usable_rua: return "no usable rua URI";
  }
  return "invalid record";
}

std::string_view to_string(TlsRptDiscoveryError e) {
  switch (e) {
    case TlsRptDiscoveryError::no_record: return "no v=TLSRPTv1 TXT record";
    case TlsRptDiscoveryError::multiple: return "several v=TLSRPTv1 TXT records";
    case TlsRptDiscoveryError::invalid: return "unusable v=TLSRPTv1 TXT record";
  }
  return "no usable TXT record";
}

std::expected<ReportUri, std::string> parse_report_uri(std::string_view uri) {
  if (!std::ranges::all_of(uri, is_uri_char)) return std::unexpected("character not allowed in a URI");
  if (uri.find_first_of("!,") != std::string_view::npos)
    return std::unexpected("literal \"!\" or \",\" (RFC 8460 sec. 3: they must be percent-encoded)");
  if (!has_valid_percent_encoding(uri)) return std::unexpected("bad percent-encoding");
  const std::size_t colon = uri.find(':');
  const std::string scheme = ascii_lowercase(uri.substr(0, colon == std::string_view::npos ? 0 : colon));
  if (scheme == "mailto") return check_mailto(uri, uri.substr(colon + 1));
  if (scheme == "https") return check_https(uri, uri.substr(colon + 1));
  return std::unexpected("scheme is neither mailto nor https (RFC 8460 sec. 3)");
}

std::expected<TlsRptRecord, TlsRptRecordFailure> parse_tlsrpt_record(std::string_view txt) {
  if (!txt_record::starts_with_version(txt, kTlsRptVersion))
    return reject_record(TlsRptRecordError::not_tlsrpt, "does not start with v=TLSRPTv1");

  TlsRptRecord record;
  bool have_rua = false;
  bool have_field = false;
  Scanner in(txt, kTlsRptVersion.size());
  // tlsrpt-record = tlsrpt-version 1*(field-delim tlsrpt-field) [field-delim]
  while (!in.at_end()) {
    in.skip_wsp();  // field-delim = *WSP ";" *WSP
    if (in.at_end() || in.peek() != ';')
      return reject_record(TlsRptRecordError::syntax, "fields must be separated by \";\"");
    in.skip();
    in.skip_wsp();
    if (in.at_end()) break;  // the optional trailing delimiter

    const std::string_view name = in.take_while(txt_record::is_ext_name_char);
    if (in.at_end() || in.peek() != '=') return reject_record(TlsRptRecordError::syntax, "a field is not name=value");
    in.skip();
    have_field = true;
    if (name == "rua") {
      have_rua = true;
      if (auto uris = parse_rua_value(in, record); !uris) return RecordRejection(std::move(uris.error()));
      continue;
    }
    const std::string_view value = in.take_while(txt_record::is_ext_value_char);
    if (name.empty() || name.size() > txt_record::kMaxExtNameLength || !util::is_alnum(name.front()) || value.empty())
      return reject_record(TlsRptRecordError::syntax,
                           "bad extension field \"" + util::printable_excerpt(name, 40) + "\"");
    if (name != "v") record.extensions.emplace_back(name, value);
  }
  if (!have_field) return reject_record(TlsRptRecordError::syntax, "no field after the version");
  if (!have_rua) return reject_record(TlsRptRecordError::missing_rua, "the record has no rua field");
  if (record.rua.empty()) return reject_record(TlsRptRecordError::no_usable_rua, describe_rejections(record));
  return record;
}

std::expected<TlsRptRecord, TlsRptDiscoveryFailure> select_tlsrpt_record(const std::vector<std::string>& txts) {
  std::size_t tlsrpt_records = 0;
  const std::string* chosen_text = nullptr;
  std::expected<TlsRptRecord, TlsRptRecordFailure> chosen = reject_record(TlsRptRecordError::not_tlsrpt, "");
  for (const std::string& txt : txts) {
    auto parsed = parse_tlsrpt_record(txt);
    if (!parsed && parsed.error().error == TlsRptRecordError::not_tlsrpt) continue;
    if (++tlsrpt_records == 1) {
      chosen = std::move(parsed);
      chosen_text = &txt;
    }
  }
  if (tlsrpt_records == 0)
    return std::unexpected(
        TlsRptDiscoveryFailure{TlsRptDiscoveryError::no_record, "no TXT record starts with v=TLSRPTv1"});
  if (tlsrpt_records > 1)
    return std::unexpected(TlsRptDiscoveryFailure{
        TlsRptDiscoveryError::multiple, std::to_string(tlsrpt_records) + " TXT records start with v=TLSRPTv1"});
  if (!chosen)
    return std::unexpected(TlsRptDiscoveryFailure{
        TlsRptDiscoveryError::invalid, std::string(to_string(chosen.error().error)) + " (" + chosen.error().detail +
                                           "): \"" + util::printable_excerpt(*chosen_text) + "\""});
  return *std::move(chosen);
}

}  // namespace mtastsd::core

// The _mta-sts TXT record (RFC 8461 sec. 3.1), parsed exactly by its ABNF.
// Choices where the RFC leaves room:
//  - A record "starts with v=STSv1" when that token is complete (followed by the
//    end, WSP or ";"): "v=STSv10" is some other version and is discarded.
//    WSP before the first ";" is allowed, as the ABNF's sts-field-delim allows it
//    (erratum 6285 notes the conflict with the prose "v=STSv1;").
//  - Duplicate fields: sec. 3.2's rule for "TXT records and policy files" says all
//    but the first occurrence of a non-repeated field are ignored, so the first
//    id wins and later id or v fields are skipped (they must still be grammatical).
//  - Field names are case-sensitive (%s"id="): "ID=x" is an extension, not the id.
#include "util/text_scanner.hpp"
#include "core/sts_record.hpp"

#include <algorithm>

#include "util/printable.hpp"

namespace mtastsd::core {
namespace {

constexpr std::string_view kVersion = "v=STSv1";
constexpr std::size_t kMaxIdLength = 32;       // sts-id = %s"id=" 1*32(ALPHA / DIGIT)
constexpr std::size_t kMaxExtNameLength = 32;  // sts-ext-name: 1 + *31 characters

using util::is_wsp;
bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
bool is_ext_name_char(char c) { return is_alnum(c) || c == '_' || c == '-' || c == '.'; }
// sts-ext-value = 1*(%x21-3A / %x3C / %x3E-7E): VCHAR except ";" and "=".
bool is_ext_value_char(char c) {
  const auto b = static_cast<unsigned char>(c);
  return (b >= 0x21 && b <= 0x3a) || b == 0x3c || (b >= 0x3e && b <= 0x7e);
}

bool starts_with_version(std::string_view txt) {
  if (!txt.starts_with(kVersion)) return false;
  return txt.size() == kVersion.size() || is_wsp(txt[kVersion.size()]) || txt[kVersion.size()] == ';';
}

using Scanner = util::TextScanner;

}  // namespace

std::string_view to_string(StsRecordError e) {
  switch (e) {
    case StsRecordError::not_sts: return "not an STSv1 record";
    case StsRecordError::syntax: return "syntax error";
    case StsRecordError::missing_id: return "no id field";
    case StsRecordError::bad_id: return "id is not 1-32 letters or digits";
  }
  return "invalid record";
}

std::string_view to_string(StsDiscoveryError e) {
  switch (e) {
    case StsDiscoveryError::no_record: return "no v=STSv1 TXT record";
    case StsDiscoveryError::multiple: return "several v=STSv1 TXT records";
    case StsDiscoveryError::invalid: return "invalid v=STSv1 TXT record";
  }
  return "no usable TXT record";
}

std::expected<StsRecord, StsRecordError> parse_sts_record(std::string_view txt) {
  if (!starts_with_version(txt)) return std::unexpected(StsRecordError::not_sts);

  StsRecord record;
  bool have_id = false;
  Scanner in(txt, kVersion.size());
  // sts-text-record = sts-version 1*(sts-field-delim sts-field) [sts-field-delim]
  while (!in.at_end()) {
    in.skip_wsp();  // sts-field-delim = *WSP ";" *WSP
    if (in.at_end() || in.peek() != ';') return std::unexpected(StsRecordError::syntax);
    in.skip();
    in.skip_wsp();
    if (in.at_end()) break;  // the optional trailing delimiter

    const std::string_view name = in.take_while(is_ext_name_char);
    if (in.at_end() || in.peek() != '=') return std::unexpected(StsRecordError::syntax);
    in.skip();
    const std::string_view value = in.take_while(is_ext_value_char);

    if (name == "id" && !have_id) {
      if (value.empty() || value.size() > kMaxIdLength || !std::ranges::all_of(value, is_alnum))
        return std::unexpected(StsRecordError::bad_id);
      record.id = value;
      have_id = true;
      continue;
    }
    // Any other field, including a repeated id or v, is an sts-extension.
    if (name.empty() || name.size() > kMaxExtNameLength || !is_alnum(name.front()) || value.empty())
      return std::unexpected(StsRecordError::syntax);
    if (name != "id" && name != "v") record.extensions.emplace_back(name, value);
  }
  if (!have_id) return std::unexpected(StsRecordError::missing_id);
  return record;
}

std::expected<StsRecord, StsDiscoveryFailure> select_sts_record(const std::vector<std::string>& txts) {
  std::size_t sts_records = 0;
  const std::string* chosen_text = nullptr;
  std::expected<StsRecord, StsRecordError> chosen = std::unexpected(StsRecordError::not_sts);
  for (const std::string& txt : txts) {
    auto parsed = parse_sts_record(txt);
    if (!parsed && parsed.error() == StsRecordError::not_sts) continue;
    if (++sts_records == 1) {
      chosen = std::move(parsed);
      chosen_text = &txt;
    }
  }
  if (sts_records == 0)
    return std::unexpected(StsDiscoveryFailure{StsDiscoveryError::no_record, "no TXT record starts with v=STSv1"});
  if (sts_records > 1)
    return std::unexpected(StsDiscoveryFailure{StsDiscoveryError::multiple,
                                               std::to_string(sts_records) + " TXT records start with v=STSv1"});
  if (!chosen)
    return std::unexpected(StsDiscoveryFailure{
        StsDiscoveryError::invalid,
        std::string(to_string(chosen.error())) + ": \"" + util::printable_excerpt(*chosen_text) + "\""});
  return *std::move(chosen);
}

}  // namespace mtastsd::core

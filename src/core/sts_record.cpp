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
#include "core/sts_record.hpp"

#include <algorithm>

#include "core/txt_record_grammar.hpp"
#include "util/ascii.hpp"
#include "util/printable.hpp"
#include "util/text_scanner.hpp"

namespace mtastsd::core {
namespace {

constexpr std::string_view kStsVersion = "v=STSv1";
constexpr std::size_t kMaxIdLength = 32;  // sts-id = %s"id=" 1*32(ALPHA / DIGIT)

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
  if (!txt_record::starts_with_version(txt, kStsVersion)) return std::unexpected(StsRecordError::not_sts);

  StsRecord record;
  bool have_id = false;
  Scanner in(txt, kStsVersion.size());
  // sts-text-record = sts-version 1*(sts-field-delim sts-field) [sts-field-delim]
  while (!in.at_end()) {
    in.skip_wsp();  // sts-field-delim = *WSP ";" *WSP
    if (in.at_end() || in.peek() != ';') return std::unexpected(StsRecordError::syntax);
    in.skip();
    in.skip_wsp();
    if (in.at_end()) break;  // the optional trailing delimiter

    const std::string_view name = in.take_while(txt_record::is_ext_name_char);
    if (in.at_end() || in.peek() != '=') return std::unexpected(StsRecordError::syntax);
    in.skip();
    const std::string_view value = in.take_while(txt_record::is_ext_value_char);

    if (name == "id" && !have_id) {
      if (value.empty() || value.size() > kMaxIdLength || !std::ranges::all_of(value, util::is_alnum))
        return std::unexpected(StsRecordError::bad_id);
      record.id = value;
      have_id = true;
      continue;
    }
    // Any other field, including a repeated id or v, is an sts-extension.
    if (name.empty() || name.size() > txt_record::kMaxExtNameLength || !util::is_alnum(name.front()) || value.empty())
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

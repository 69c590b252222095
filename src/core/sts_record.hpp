// The _mta-sts TXT record (RFC 8461 sec. 3.1).
//   sts-text-record = sts-version 1*(sts-sep sts-field) [sts-sep]
//   sts-version = %s"v=STSv1"; sts-id = %s"id=" 1*32(ALPHA / DIGIT)
//   sts-ext-name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
//   sts-ext-value = 1*(%x21-3A / %x3C / %x3E-7E)   ; VCHAR except ";" and "="
//   sts-sep = *WSP ";" *WSP
#pragma once
#include <expected>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mtastsd::core {

struct StsRecord {
  std::string id;
  std::vector<std::pair<std::string, std::string>> extensions;
};

enum class StsRecordError {
  not_sts,        // does not start with "v=STSv1" (sec. 3.1: such records are discarded)
  syntax,         // starts with v=STSv1 but violates the grammar
  missing_id,     // no id field
  bad_id,         // id not 1-32 ALPHA/DIGIT
};
std::string_view to_string(StsRecordError e);

// One TXT record, its character-strings already concatenated without spaces.
std::expected<StsRecord, StsRecordError> parse_sts_record(std::string_view txt);

enum class StsDiscoveryError {
  no_record,       // no TXT record starts with v=STSv1
  multiple,        // more than one does (sec. 3.1: assume no policy)
  invalid,         // exactly one, but syntactically invalid
};
std::string_view to_string(StsDiscoveryError e);

struct StsDiscoveryFailure {
  StsDiscoveryError error;
  std::string detail;  // e.g. which grammar rule failed
};

// All TXT records at _mta-sts.<domain>: keep those starting with "v=STSv1";
// exactly one must remain and parse.
std::expected<StsRecord, StsDiscoveryFailure> select_sts_record(const std::vector<std::string>& txts);

}  // namespace mtastsd::core

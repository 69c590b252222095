// What the _mta-sts (RFC 8461 sec. 3.1) and _smtp._tls (RFC 8460 sec. 3) TXT record
// grammars share: the version token that starts a record and the extension fields.
#pragma once
#include <cstddef>
#include <string_view>

#include "util/ascii.hpp"

namespace mtastsd::core::txt_record {

// sts-ext-name / tlsrpt-ext-name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
constexpr std::size_t kMaxExtNameLength = 32;
constexpr bool is_ext_name_char(char c) { return util::is_alnum(c) || c == '_' || c == '-' || c == '.'; }

// sts-ext-value / tlsrpt-ext-value = 1*(%x21-3A / %x3C / %x3E-7E): VCHAR except ";" and "=".
constexpr bool is_ext_value_char(char c) {
  const auto b = static_cast<unsigned char>(c);
  return (b >= 0x21 && b <= 0x3a) || b == 0x3c || (b >= 0x3e && b <= 0x7e);
}

// Whether txt starts with the complete token `version` ("v=STSv1"): followed by the
// end, WSP or ";", so that "v=STSv10" is some other version.
constexpr bool starts_with_version(std::string_view txt, std::string_view version) {
  if (!txt.starts_with(version)) return false;
  return txt.size() == version.size() || util::is_wsp(txt[version.size()]) || txt[version.size()] == ';';
}

}  // namespace mtastsd::core::txt_record

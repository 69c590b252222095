// ASCII character classes of RFC 5234 appendix B.1 (the ABNF core rules), for
// hand-checked grammars: locale-free and constexpr, unlike <cctype>. Bytes above
// 0x7f belong to none of them.
#pragma once

namespace mtastsd::util {

// WSP: space or horizontal tab.
constexpr bool is_wsp(char c) { return c == ' ' || c == '\t'; }
// DIGIT: 0-9.
constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }
// ALPHA: A-Z / a-z.
constexpr bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
// ALPHA / DIGIT (RFC 5321's Let-dig).
constexpr bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }
// HEXDIG, in either case (ABNF strings are case-insensitive).
constexpr bool is_hex_digit(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

}  // namespace mtastsd::util

// SMTP replies as a client reads them (RFC 5321 sec. 4.2): each line is a three-digit code,
// then "-" when more lines follow or " " (or nothing) on the last line, then text and CRLF.
// Lines arrive one at a time from the connection; SmtpReplyReader puts them together and
// refuses what a well-behaved server never sends. Also what a client reads out of a reply:
// the EHLO keywords (RFC 5321 sec. 4.1.1.1) and the host a greeting names (sec. 4.3.1).
// Limits: kMaxReplyLineOctets per line, kMaxReplyLines per reply.
#pragma once
#include <cstddef>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mtastsd::core {

// RFC 5321 sec. 4.5.3.1.5: a reply line is at most 512 octets, code and CRLF included.
inline constexpr std::size_t kMaxReplyLineOctets = 512;
// Ours (RFC 5321 sets none): an EHLO reply lists a dozen extensions; a reply of more than
// 100 lines is not one a client needs to read to its end.
inline constexpr std::size_t kMaxReplyLines = 100;

struct SmtpReply {
  int code = 0;                    // 200..559 (RFC 5321 sec. 4.2: %x32-35 %x30-35 %x30-39)
  std::vector<std::string> lines;  // each line's text after "NNN-" / "NNN ", without CRLF

  bool positive_completion() const { return code / 100 == 2; }  // 2yz, sec. 4.2.1
  // "554 5.7.1 go away" (all lines joined by " / "), printable and bounded: for details.
  std::string summary() const;
};

enum class SmtpReplyError {
  malformed_line,  // no valid reply code, or neither "-" nor " " after it
  line_too_long,   // over kMaxReplyLineOctets
  code_changed,    // a line of a multi-line reply with another code than the first
  too_many_lines,  // over kMaxReplyLines
};
std::string_view to_string(SmtpReplyError e);

// Puts one reply together from its lines. After a completed reply (or an error) the next
// line starts a new reply.
class SmtpReplyReader {
 public:
  // `line` is one line as read, ending in CRLF (a bare LF or no line end is accepted).
  // The reply once its last line is in; nullopt while "NNN-" lines continue it.
  std::expected<std::optional<SmtpReply>, SmtpReplyError> add_line(std::string_view line);

 private:
  SmtpReply pending_;
};

// Whether an EHLO reply lists the extension `keyword` (e.g. "STARTTLS"): the first word of
// any line after the first, compared without regard to case (RFC 5321 sec. 2.4, 4.1.1.1).
bool ehlo_offers(const SmtpReply& ehlo, std::string_view keyword);

// The host name or address literal a 220 greeting starts with (RFC 5321 sec. 4.3.1,
// `Greeting`), printable and bounded (it goes into logs and reports); "" when the reply
// names none.
std::string greeting_host(const SmtpReply& greeting);

}  // namespace mtastsd::core

// SMTP reply lines put together into replies; see smtp_reply.hpp.
#include "core/smtp_reply.hpp"

#include <algorithm>
#include <utility>
#include "core/host_name.hpp"
#include "util/printable.hpp"

namespace mtastsd::core {
namespace {

constexpr std::size_t kMaxSummary = 300;  // ours: what of a reply goes into a log line or detail

bool in_range(char c, char low, char high) { return c >= low && c <= high; }

// RFC 5321 sec. 4.2: Reply-code = %x32-35 %x30-35 %x30-39.
std::optional<int> reply_code(std::string_view line) {
  if (line.size() < 3 || !in_range(line[0], '2', '5') || !in_range(line[1], '0', '5') ||
      !in_range(line[2], '0', '9'))
    return std::nullopt;
  return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

std::string_view without_line_end(std::string_view line) {
  if (line.ends_with('\n')) line.remove_suffix(1);
  if (line.ends_with('\r')) line.remove_suffix(1);
  return line;
}

std::string_view first_word(std::string_view text) {
  const std::size_t start = std::min(text.find_first_not_of(' '), text.size());
  text.remove_prefix(start);
  return text.substr(0, text.find(' '));
}

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ascii_lowercase(a) == ascii_lowercase(b);
}

}  // namespace

std::string SmtpReply::summary() const {
  std::string text = std::to_string(code);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    text += i == 0 ? " " : " / ";
    text += lines[i];
    if (text.size() > kMaxSummary) break;
  }
  return util::printable_excerpt(text, kMaxSummary);
}

std::string_view to_string(SmtpReplyError e) {
  switch (e) {
    case SmtpReplyError::malformed_line: return "malformed reply line";
    case SmtpReplyError::line_too_long: return "reply line longer than 512 octets";
    case SmtpReplyError::code_changed: return "multi-line reply changed its code";
    case SmtpReplyError::too_many_lines: return "reply of more than 100 lines";
  }
  return "malformed reply line";
}

std::expected<std::optional<SmtpReply>, SmtpReplyError> SmtpReplyReader::add_line(std::string_view line) {
  const auto fail = [this](SmtpReplyError e) {
    pending_ = {};
    return std::unexpected(e);
  };
  if (line.size() > kMaxReplyLineOctets) return fail(SmtpReplyError::line_too_long);
  line = without_line_end(line);
  const auto code = reply_code(line);
  // After the code: "-" (more lines follow), " " or the line's end (the last line).
  if (!code || (line.size() > 3 && line[3] != '-' && line[3] != ' ')) return fail(SmtpReplyError::malformed_line);
  // RFC 5321 sec. 4.2.1 wants one code on every line of a multi-line reply.
  if (!pending_.lines.empty() && *code != pending_.code) return fail(SmtpReplyError::code_changed);
  if (pending_.lines.size() == kMaxReplyLines) return fail(SmtpReplyError::too_many_lines);
  pending_.code = *code;
  pending_.lines.emplace_back(line.size() > 3 ? line.substr(4) : std::string_view{});
  if (line.size() > 3 && line[3] == '-') return std::nullopt;
  return std::exchange(pending_, {});
}

bool ehlo_offers(const SmtpReply& ehlo, std::string_view keyword) {
  // The first line names the server (ehlo-ok-rsp); each further line is one ehlo-line.
  return std::any_of(ehlo.lines.begin() + std::min<std::size_t>(1, ehlo.lines.size()), ehlo.lines.end(),
                     [&](const std::string& line) { return equal_ignoring_case(first_word(line), keyword); });
}

std::string greeting_host(const SmtpReply& greeting) {
  if (greeting.lines.empty()) return "";
  return util::printable_excerpt(first_word(greeting.lines.front()), kMaxHostNameLength);
}

}  // namespace mtastsd::core

// Netstring framing "LEN:DATA," (D. J. Bernstein, 1997). The decoder checks the
// announced length against the cap digit by digit, so an oversized or endless
// length prefix is refused before any payload is buffered.
#include "util/netstring.hpp"

namespace mtastsd::util {

std::string_view to_string(NetstringError e) {
  switch (e) {
    case NetstringError::bad_length: return "bad netstring length";
    case NetstringError::too_long: return "netstring longer than allowed";
    case NetstringError::missing_comma: return "netstring not terminated by ','";
  }
  return "netstring error";
}

std::string encode_netstring(std::string_view data) {
  std::string out = std::to_string(data.size());
  out.reserve(out.size() + data.size() + 2);
  out += ':';
  out += data;
  out += ',';
  return out;
}

void NetstringDecoder::feed(std::string_view bytes) {
  if (failed_) return;  // framing is lost: buffering more would only waste memory
  // Drop what next() consumed; what remains is at most one partial netstring.
  buffer_.erase(0, pos_);
  pos_ = 0;
  buffer_ += bytes;
}

std::expected<std::optional<std::string>, NetstringError> NetstringDecoder::next() {
  if (failed_) return std::unexpected(*failed_);
  const auto fail = [this](NetstringError e) {
    failed_ = e;
    return std::unexpected(e);
  };

  std::size_t length = 0;
  std::size_t i = pos_;
  for (; i < buffer_.size() && buffer_[i] != ':'; ++i) {
    const char c = buffer_[i];
    if (c < '0' || c > '9') return fail(NetstringError::bad_length);
    if (i > pos_ && buffer_[pos_] == '0') return fail(NetstringError::bad_length);  // "0" only alone
    const auto digit = static_cast<std::size_t>(c - '0');
    if (digit > max_length_ || length > (max_length_ - digit) / 10) return fail(NetstringError::too_long);
    length = length * 10 + digit;
  }
  if (i == buffer_.size()) return std::optional<std::string>{};  // length not complete yet
  if (i == pos_) return fail(NetstringError::bad_length);       // ":" without digits

  const std::size_t data_start = i + 1;
  if (buffer_.size() - data_start < length + 1) return std::optional<std::string>{};
  if (buffer_[data_start + length] != ',') return fail(NetstringError::missing_comma);

  std::string payload = buffer_.substr(data_start, length);
  pos_ = data_start + length + 1;
  return std::optional<std::string>{std::move(payload)};
}

}  // namespace mtastsd::util

// Netstrings (D. J. Bernstein, "Netstrings", 1997): "LEN:DATA,".
// Incremental decoder with a hard cap on LEN, so a hostile peer cannot make us
// buffer more than the cap (Postfix's socketmap client sends at most 10000 bytes,
// dict_sockmap.c; replies are capped at 100000 bytes).
#pragma once
#include <cstddef>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

namespace mtastsd::util {

enum class NetstringError {
  bad_length,   // not a decimal length, or a leading zero in a multi-digit length
  too_long,     // announced length above the cap
  missing_comma // the byte after DATA is not ','
};
std::string_view to_string(NetstringError e);

std::string encode_netstring(std::string_view data);

class NetstringDecoder {
 public:
  explicit NetstringDecoder(std::size_t max_length) : max_length_(max_length) {}
  // Append received bytes.
  void feed(std::string_view bytes);
  // Next complete netstring payload, nullopt when more bytes are needed, or an
  // error. After an error the stream is unusable (framing is lost): close it;
  // the decoder keeps returning that error and ignores further feed() calls.
  std::expected<std::optional<std::string>, NetstringError> next();
  // Bytes buffered but not yet consumed.
  std::size_t buffered() const { return buffer_.size() - pos_; }

 private:
  std::size_t max_length_;
  std::string buffer_;
  std::size_t pos_ = 0;
  std::optional<NetstringError> failed_;
};

}  // namespace mtastsd::util

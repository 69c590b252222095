// Varints and length-prefixed strings; see the header.
#include "util/byte_codec.hpp"

namespace mtastsd::util {
namespace {
constexpr unsigned kMaxVarintBytes = 10;  // ceil(64 / 7)
}

void ByteWriter::varint(std::uint64_t v) {
  while (v >= 0x80) {
    out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out_.push_back(static_cast<char>(v));
}

void ByteWriter::bytes(std::string_view s) {
  varint(s.size());
  out_.append(s);
}

std::optional<std::uint8_t> ByteReader::u8() {
  if (pos_ >= in_.size()) return std::nullopt;
  return static_cast<std::uint8_t>(in_[pos_++]);
}

std::optional<std::uint64_t> ByteReader::varint() {
  std::uint64_t v = 0;
  for (unsigned i = 0; i < kMaxVarintBytes; ++i) {
    if (pos_ >= in_.size()) return std::nullopt;
    const auto byte = static_cast<std::uint8_t>(in_[pos_++]);
    const std::uint64_t bits = byte & 0x7f;
    // The tenth byte may carry only the 64th bit.
    if (i == kMaxVarintBytes - 1 && bits > 1) return std::nullopt;
    v |= bits << (7 * i);
    if (!(byte & 0x80)) return v;
  }
  return std::nullopt;
}

std::optional<std::string_view> ByteReader::bytes() {
  const auto n = varint();
  if (!n || *n > in_.size() - pos_) return std::nullopt;
  const auto out = in_.substr(pos_, static_cast<std::size_t>(*n));
  pos_ += out.size();
  return out;
}

std::optional<std::size_t> ByteReader::count(std::size_t min_item_size) {
  const auto n = varint();
  if (!n) return std::nullopt;
  const std::size_t remaining = in_.size() - pos_;
  if (min_item_size == 0) min_item_size = 1;
  if (*n > remaining / min_item_size) return std::nullopt;
  return static_cast<std::size_t>(*n);
}

}  // namespace mtastsd::util

// Length-prefixed binary fields: unsigned LEB128 varints (as in DWARF and
// protobuf), byte strings as a varint length then the bytes, lists as a varint
// count then their items. For small records read far more often than written
// (the policy cache), where a text format's parser would dominate the read.
// The reader never reads past its input: a truncated or overlong field is
// nullopt, and the caller names the field in its error.
// Limits: a varint is at most 10 bytes (64 bits); a string or list is bounded by
// the bytes that remain, so a hostile length cannot make it allocate more.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mtastsd::util {

class ByteWriter {
 public:
  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void varint(std::uint64_t v);
  void bytes(std::string_view s);
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}
  std::optional<std::uint8_t> u8();
  // nullopt: truncated, longer than 10 bytes, or above 64 bits.
  std::optional<std::uint64_t> varint();
  // A view into the input (valid as long as the input is).
  std::optional<std::string_view> bytes();
  // A list's count, refused when the remaining input cannot hold that many items
  // of at least `min_item_size` bytes each.
  std::optional<std::size_t> count(std::size_t min_item_size = 1);
  bool at_end() const { return pos_ == in_.size(); }

 private:
  std::string_view in_;
  std::size_t pos_ = 0;
};

}  // namespace mtastsd::util

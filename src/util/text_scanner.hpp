// A cursor over text for hand-checked ABNF grammars (RFC 5234): peek, skip,
// take a run of characters. Bounds are the caller's: peek() needs !at_end().
#pragma once
#include <cstddef>
#include <string_view>

#include "util/ascii.hpp"

namespace mtastsd::util {

class TextScanner {
 public:
  TextScanner(std::string_view text, std::size_t pos) : text_(text), pos_(pos) {}
  bool at_end() const { return pos_ == text_.size(); }
  char peek() const { return text_[pos_]; }
  void skip() { ++pos_; }
  void skip_wsp() {
    while (!at_end() && is_wsp(peek())) ++pos_;
  }
  template <typename Pred>
  std::string_view take_while(Pred pred) {
    const std::size_t start = pos_;
    while (!at_end() && pred(peek())) ++pos_;
    return text_.substr(start, pos_ - start);
  }

 private:
  std::string_view text_;
  std::size_t pos_;
};

}  // namespace mtastsd::util

// Bounded, printable excerpts of untrusted text for logs and error details.
#include "util/printable.hpp"

namespace mtastsd::util {

std::string printable_excerpt(std::string_view s, std::size_t max_chars) {
  const bool cut = s.size() > max_chars;
  std::string out(s.substr(0, max_chars));
  for (char& c : out) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte > 0x7e) c = '?';
  }
  if (cut) out += "...";
  return out;
}

}  // namespace mtastsd::util

// Shared by the libFuzzer targets (tests/fuzz/README.md): FUZZ_CHECK asserts a
// property of the code under test; when it fails it prints the condition and
// aborts, which libFuzzer reports as a crash and keeps the input. Also the way
// the line-oriented targets cut their input into lines.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

namespace mtastsd::fuzz {

[[noreturn]] inline void check_failed(const char* condition, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: fuzz property failed: %s\n", file, line, condition);
  std::abort();
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// The input split after each LF (the LF kept); a last piece without one as it is.
inline std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    const std::size_t length = end == std::string_view::npos ? text.size() : end + 1;
    lines.push_back(text.substr(0, length));
    text.remove_prefix(length);
  }
  return lines;
}

// Printable ASCII only (what every "printable" helper of mtastsd promises).
inline bool is_printable(std::string_view s) {
  for (const char c : s)
    if (c < 0x20 || c > 0x7e) return false;
  return true;
}

}  // namespace mtastsd::fuzz

#define FUZZ_CHECK(condition) \
  ((condition) ? static_cast<void>(0) : ::mtastsd::fuzz::check_failed(#condition, __FILE__, __LINE__))

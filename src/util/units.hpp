// Human-friendly quantities in configuration text: durations ("500ms", "30s",
// "5m", "2h", "7d") and byte sizes ("64KiB", "256MiB", "1GiB"). Only a
// non-negative integer followed directly by one unit is accepted: no fractions,
// no signs, no spaces, no combinations ("1h30m"), so every value has exactly
// one reading. Plain integers (seconds, bytes) are the caller's business.
#pragma once
#include <chrono>
#include <cstdint>
#include <expected>
#include <string_view>

namespace mtastsd::util {

enum class UnitsError {
  no_number,     // does not start with a decimal digit
  unknown_unit,  // unit missing or not one of the accepted ones
  overflow,      // the value does not fit
};
std::string_view to_string(UnitsError e);

// Units: ms, s, m (minutes), h, d (days).
std::expected<std::chrono::milliseconds, UnitsError> parse_duration(std::string_view text);

// Units: B, KiB, MiB, GiB, TiB (powers of 1024).
std::expected<std::uint64_t, UnitsError> parse_size(std::string_view text);

}  // namespace mtastsd::util

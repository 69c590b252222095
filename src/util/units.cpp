// Parsers for "<integer><unit>" durations and sizes (see units.hpp).
#include "util/units.hpp"

#include <array>
#include <charconv>
#include <limits>

namespace mtastsd::util {
namespace {

struct Unit {
  std::string_view suffix;
  std::uint64_t factor;
};

// "<digits><suffix>" with suffix one of `units`, multiplied out without overflow past `max`.
template <std::size_t N>
std::expected<std::uint64_t, UnitsError> parse_scaled(std::string_view text, const std::array<Unit, N>& units,
                                                      std::uint64_t max) {
  std::uint64_t number = 0;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  auto [end, ec] = std::from_chars(first, last, number);
  if (ec == std::errc::invalid_argument) return std::unexpected(UnitsError::no_number);
  if (ec == std::errc::result_out_of_range) return std::unexpected(UnitsError::overflow);
  const std::string_view suffix(end, static_cast<std::size_t>(last - end));
  for (const Unit& unit : units) {
    if (suffix != unit.suffix) continue;
    if (number > max / unit.factor) return std::unexpected(UnitsError::overflow);
    return number * unit.factor;
  }
  return std::unexpected(UnitsError::unknown_unit);
}

}  // namespace

std::string_view to_string(UnitsError e) {
  switch (e) {
    case UnitsError::no_number: return "no number";
    case UnitsError::unknown_unit: return "unknown or missing unit";
    case UnitsError::overflow: return "value too large";
  }
  return "?";
}

std::expected<std::chrono::milliseconds, UnitsError> parse_duration(std::string_view text) {
  static constexpr std::array<Unit, 5> units{{
      {"ms", 1},
      {"s", 1000},
      {"m", 60 * 1000},
      {"h", 3600 * 1000},
      {"d", 86400 * 1000},
  }};
  const auto max = static_cast<std::uint64_t>(std::numeric_limits<std::chrono::milliseconds::rep>::max());
  const auto ms = parse_scaled(text, units, max);
  if (!ms) return std::unexpected(ms.error());
  return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(*ms));
}

std::expected<std::uint64_t, UnitsError> parse_size(std::string_view text) {
  static constexpr std::array<Unit, 5> units{{
      {"B", 1},
      {"KiB", std::uint64_t{1} << 10},
      {"MiB", std::uint64_t{1} << 20},
      {"GiB", std::uint64_t{1} << 30},
      {"TiB", std::uint64_t{1} << 40},
  }};
  return parse_scaled(text, units, std::numeric_limits<std::uint64_t>::max());
}

}  // namespace mtastsd::util

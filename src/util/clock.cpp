// Time formatting for logs and mtastsctl.
#include "util/clock.hpp"

#include <cstdlib>
#include <ctime>
#include <fmt/format.h>

namespace mtastsd::util {

std::string format_utc(TimePoint t) {
  const std::int64_t s = to_unix(t);
  if (s == 0) return "-";
  std::time_t tt = static_cast<std::time_t>(s);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
}

std::string format_relative(TimePoint t, TimePoint now) {
  if (to_unix(t) == 0) return "-";
  std::int64_t d = to_unix(t) - to_unix(now);
  const char* sign = d < 0 ? "-" : "+";
  d = std::llabs(d);
  if (d < 60) return fmt::format("{}{}s", sign, d);
  if (d < 3600) return fmt::format("{}{}m{}s", sign, d / 60, d % 60);
  if (d < 86400) return fmt::format("{}{}h{}m", sign, d / 3600, (d % 3600) / 60);
  return fmt::format("{}{}d{}h", sign, d / 86400, (d % 86400) / 3600);
}

}  // namespace mtastsd::util

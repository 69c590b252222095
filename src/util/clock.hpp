// Time as the program sees it. Logic that depends on "now" takes a TimePoint
// argument (pure functions) or a Clock (services), so tests can move time.
#pragma once
#include <chrono>
#include <functional>
#include <string>

namespace mtastsd::util {

using Clock = std::chrono::system_clock;
using TimePoint = Clock::time_point;
using Seconds = std::chrono::seconds;

// Source of "now"; the default reads the system clock.
using NowFn = std::function<TimePoint()>;
inline TimePoint system_now() { return Clock::now(); }

inline std::int64_t to_unix(TimePoint t) {
  return std::chrono::duration_cast<Seconds>(t.time_since_epoch()).count();
}
inline TimePoint from_unix(std::int64_t s) { return TimePoint(Seconds(s)); }

// "2026-11-29T21:49:06Z" (RFC 3339, UTC); "-" for the epoch (never set).
std::string format_utc(TimePoint t);
// "3h12m", "-5m" (relative to now), for humans.
std::string format_relative(TimePoint t, TimePoint now);

}  // namespace mtastsd::util

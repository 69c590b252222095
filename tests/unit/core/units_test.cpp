// util/units: duration and size parsing, including every rejection.
#include "util/units.hpp"

#include <gtest/gtest.h>

namespace mtastsd::util {
namespace units_test {

using std::chrono::milliseconds;

TEST(ParseDuration, EachUnit) {
  EXPECT_EQ(parse_duration("500ms"), milliseconds(500));
  EXPECT_EQ(parse_duration("30s"), milliseconds(30'000));
  EXPECT_EQ(parse_duration("5m"), milliseconds(300'000));
  EXPECT_EQ(parse_duration("2h"), milliseconds(7'200'000));
  EXPECT_EQ(parse_duration("7d"), milliseconds(604'800'000));
}

TEST(ParseDuration, ZeroIsAValue) { EXPECT_EQ(parse_duration("0s"), milliseconds(0)); }

TEST(ParseDuration, MissingOrUnknownUnit) {
  EXPECT_EQ(parse_duration("30"), std::unexpected(UnitsError::unknown_unit));
  EXPECT_EQ(parse_duration("5x"), std::unexpected(UnitsError::unknown_unit));
  EXPECT_EQ(parse_duration("5M"), std::unexpected(UnitsError::unknown_unit));  // case matters: no "months"
  EXPECT_EQ(parse_duration("5 m"), std::unexpected(UnitsError::unknown_unit));
  EXPECT_EQ(parse_duration("1h30m"), std::unexpected(UnitsError::unknown_unit));
  EXPECT_EQ(parse_duration("5mins"), std::unexpected(UnitsError::unknown_unit));
}

TEST(ParseDuration, NoNumber) {
  EXPECT_EQ(parse_duration(""), std::unexpected(UnitsError::no_number));
  EXPECT_EQ(parse_duration("m"), std::unexpected(UnitsError::no_number));
  EXPECT_EQ(parse_duration("-5m"), std::unexpected(UnitsError::no_number));
  EXPECT_EQ(parse_duration("+5m"), std::unexpected(UnitsError::no_number));
  EXPECT_EQ(parse_duration(" 5m"), std::unexpected(UnitsError::no_number));
  EXPECT_EQ(parse_duration(".5h"), std::unexpected(UnitsError::no_number));
}

TEST(ParseDuration, FractionsRejected) {
  EXPECT_EQ(parse_duration("1.5h"), std::unexpected(UnitsError::unknown_unit));
}

TEST(ParseDuration, Overflow) {
  // 2^63 ms do not fit in milliseconds::rep; the largest whole-day value that fits does.
  EXPECT_EQ(parse_duration("9223372036854775808ms"), std::unexpected(UnitsError::overflow));
  EXPECT_EQ(parse_duration("106751991168d"), std::unexpected(UnitsError::overflow));
  EXPECT_EQ(parse_duration("106751991167d"), milliseconds(106751991167LL * 86'400'000));
  EXPECT_EQ(parse_duration("99999999999999999999999s"), std::unexpected(UnitsError::overflow));
}

TEST(ParseSize, EachUnit) {
  EXPECT_EQ(parse_size("512B"), 512u);
  EXPECT_EQ(parse_size("64KiB"), 64u * 1024);
  EXPECT_EQ(parse_size("256MiB"), 256u << 20);
  EXPECT_EQ(parse_size("1GiB"), std::uint64_t{1} << 30);
  EXPECT_EQ(parse_size("2TiB"), std::uint64_t{2} << 40);
}

TEST(ParseSize, DecimalAndLowercaseUnitsRejected) {
  // "MB" could mean 10^6 or 2^20; only the unambiguous binary units are accepted.
  EXPECT_EQ(parse_size("256MB"), std::unexpected(UnitsError::unknown_unit));
  EXPECT_EQ(parse_size("64kib"), std::unexpected(UnitsError::unknown_unit));
  EXPECT_EQ(parse_size("1G"), std::unexpected(UnitsError::unknown_unit));
  EXPECT_EQ(parse_size("1024"), std::unexpected(UnitsError::unknown_unit));
}

TEST(ParseSize, NoNumberAndOverflow) {
  EXPECT_EQ(parse_size("MiB"), std::unexpected(UnitsError::no_number));
  EXPECT_EQ(parse_size("-1MiB"), std::unexpected(UnitsError::no_number));
  EXPECT_EQ(parse_size("16777216TiB"), std::unexpected(UnitsError::overflow));  // 2^64
  EXPECT_EQ(parse_size("16777215TiB"), std::uint64_t{16777215} << 40);
}

TEST(UnitsError, Names) {
  EXPECT_EQ(to_string(UnitsError::no_number), "no number");
  EXPECT_EQ(to_string(UnitsError::unknown_unit), "unknown or missing unit");
  EXPECT_EQ(to_string(UnitsError::overflow), "value too large");
}

}  // namespace units_test
}  // namespace mtastsd::util

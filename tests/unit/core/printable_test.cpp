// Log excerpts of untrusted text (util/printable.hpp).
#include "util/printable.hpp"

#include <gtest/gtest.h>

namespace mtastsd::util {
namespace printable_test {

TEST(PrintableExcerpt, KeepsPrintableAscii) { EXPECT_EQ(printable_excerpt("mode: enforce"), "mode: enforce"); }

TEST(PrintableExcerpt, ReplacesControlAndNonAsciiBytes) {
  EXPECT_EQ(printable_excerpt(std::string_view("a\r\nb\0c\x7f\xc3\xbc", 9)), "a??b?c???");
}

TEST(PrintableExcerpt, TruncatesLongText) {
  EXPECT_EQ(printable_excerpt("abcdef", 4), "abcd...");
  EXPECT_EQ(printable_excerpt("abcd", 4), "abcd");
}

}  // namespace printable_test
}  // namespace mtastsd::util

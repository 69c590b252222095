// mtastsd.conf(5) documents every key the configuration loader accepts
// (config_key_names()) and no key it rejects; the convention by which the page
// marks a key is in man_page_keys.hpp. The reader of that convention is tested
// first, on small pages, so that a lax reader cannot make the real check pass.
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "daemon/config.hpp"
#include "man_page_keys.hpp"

namespace mtastsd::test {
namespace man_pages_test {

using testing::ElementsAre;
using testing::HasSubstr;
using testing::IsEmpty;
using testing::UnorderedElementsAre;

ManPageKeys read(const std::vector<std::string>& lines) {
  std::string page;
  for (const std::string& line : lines) page += line + "\n";
  return documented_config_keys(page);
}

TEST(ManPageKeys, TableHeadingsNameTheTableOfTheirKeysAndTheTableItself) {
  const ManPageKeys found = read({
      ".SH TOP-LEVEL KEYS", ".TP", ".BR state_dir \" (path, default \" /var/lib/mtastsd )", "Text.",
      ".SH [cache]", ".TP", ".BR map_size \" (size, default \" \\(dq256MiB\\(dq )",
      ".SH [[listen]]", ".TP", ".BR unix \" (path)\"",
      ".SH [profiles.NAME]", ".TP", ".BR dane \" (boolean, default \" false )",
  });
  EXPECT_THAT(found.problems, IsEmpty());
  EXPECT_THAT(found.keys, UnorderedElementsAre("state_dir", "cache", "cache.map_size", "listen", "listen.unix",
                                               "profiles", "profiles.NAME.dane"));
}

TEST(ManPageKeys, OneTagMayDocumentSeveralKeys) {
  const ManPageKeys found = read({".SH [cache]", ".TP",
                                  ".BR negative_ttl_min \", \" negative_ttl_max \" (durations, defaults \" 1m "
                                  "\" and \" 1h )"});
  EXPECT_THAT(found.problems, IsEmpty());
  EXPECT_THAT(found.keys, UnorderedElementsAre("cache", "cache.negative_ttl_min", "cache.negative_ttl_max"));
}

TEST(ManPageKeys, KeysNamedInProseOrUnderOtherHeadingsDoNotCount) {
  const ManPageKeys found = read({
      ".SH DESCRIPTION", ".TP", ".BR log_target \" (string, default \" stderr )",  // not a table's section
      ".SH [cache]", "See", ".BR refresh_margin \" (duration)\"", ".B cache.map_size", "and map_size.",
      ".SH SECURITY", ".TP", ".BR user \" (string)\"",
  });
  EXPECT_THAT(found.problems, IsEmpty());
  EXPECT_THAT(found.keys, ElementsAre("cache"));
}

TEST(ManPageKeys, SubsectionsKeepTheTableAndIndentedListsAreNoKeys) {
  const ManPageKeys found = read({
      ".SH [tlsrpt]", ".TP", ".BR enabled \" (boolean, default \" true )", ".RS", ".TP", ".B stderr", "Text.", ".RE",
      ".SS Sending the reports", ".TP", ".BR send_delay \" (duration, default \" 4h )",
  });
  EXPECT_THAT(found.problems, IsEmpty());
  EXPECT_THAT(found.keys, UnorderedElementsAre("tlsrpt", "tlsrpt.enabled", "tlsrpt.send_delay"));
}

TEST(ManPageKeys, AnEntryOutsideTheConventionIsAProblemNotAKey) {
  const ManPageKeys found = read({
      ".SH [cache]",
      ".TP", ".B map_size",                  // bold only: no type
      ".TP", ".BR map_size \" size\"",       // the type is not in parentheses
      ".TP", ".BR Map_Size \" (size)\"",     // not a key name
      ".TP", ".BR a \" and \" b \" (x)\"",   // keys joined by something else than ", "
  });
  EXPECT_THAT(found.keys, ElementsAre("cache"));
  ASSERT_EQ(found.problems.size(), 4u);
  EXPECT_EQ(found.problems[0], "line 3: the .TP tag in [cache] is no key entry: .B map_size");
  EXPECT_THAT(found.problems[3], HasSubstr("line 9:"));
}

TEST(ManPageKeys, AKeyDocumentedTwiceIsAProblem) {
  const ManPageKeys found =
      read({".SH [dns]", ".TP", ".BR timeout \" (duration)\"", ".TP", ".BR timeout \" (duration)\""});
  EXPECT_THAT(found.problems, ElementsAre("line 5: dns.timeout is documented twice"));
}

TEST(ManPageKeys, RoffArgumentsKeepQuotedSpacesAndDoubledQuotes) {
  EXPECT_THAT(roff_arguments(R"(a " (b, c" "x ""y""" d)"), ElementsAre("a", " (b, c", "x \"y\"", "d"));
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << "cannot open " << path;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// What `have` lacks of `want`, in order.
std::vector<std::string> missing(const std::set<std::string>& want, const std::set<std::string>& have) {
  std::vector<std::string> out;
  for (const std::string& name : want)
    if (!have.contains(name)) out.push_back(name);
  return out;
}

TEST(ConfigManPage, DocumentsExactlyTheKeysTheLoaderKnows) {
  const std::string path = MTASTSD_SOURCE_DIR "/man/mtastsd.conf.5";
  const ManPageKeys page = documented_config_keys(read_file(path));
  const std::vector<std::string> names = daemon::config_key_names();
  const std::set<std::string> loader(names.begin(), names.end());
  ASSERT_GT(loader.size(), 50u);  // the key tables, not an empty list

  EXPECT_THAT(page.problems, IsEmpty()) << path;
  EXPECT_THAT(missing(loader, page.keys), IsEmpty())
      << "keys the loader accepts that " << path << " does not document (as a .TP entry in their table's section)";
  EXPECT_THAT(missing(page.keys, loader), IsEmpty())
      << "keys " << path << " documents that the loader rejects (config_key_names())";
}

}  // namespace man_pages_test
}  // namespace mtastsd::test

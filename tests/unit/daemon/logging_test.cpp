// Log set-up through the default logger: the journal-stream check (pure), levels and
// their override, the file target's format and its reopen (SIGUSR1), a reload that keeps
// an unchanged target and one whose new target fails (the old one stays), and stderr
// when it is the journal ("<N>message") or not (time and level). stderr is redirected
// to a file for those. syslog and journal are left to the integration tests.
#include "daemon/logging.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <spdlog/spdlog.h>

namespace mtastsd::daemon {
namespace logging_test {

namespace fs = std::filesystem;

TEST(IsJournalStream, MatchesDeviceAndInode) {
  EXPECT_TRUE(is_journal_stream("8:12345", 8, 12345));
  EXPECT_TRUE(is_journal_stream("0:0", 0, 0));
  EXPECT_TRUE(is_journal_stream("18446744073709551615:1", 18446744073709551615u, 1));
}

TEST(IsJournalStream, AnotherStreamIsNot) {
  EXPECT_FALSE(is_journal_stream("8:12345", 8, 12346));
  EXPECT_FALSE(is_journal_stream("8:12345", 9, 12345));
}

TEST(IsJournalStream, MalformedValuesAreNot) {
  for (const char* bad : {"", ":", "8:", ":12345", "8", "8:12345:1", "8:12345x", " 8:12345", "8:-1", "0x8:12345",
                          "18446744073709551616:1"})
    EXPECT_FALSE(is_journal_stream(bad, 8, 12345)) << bad;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

class LoggingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "logging_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    log_ = root_ / "mtastsd.log";
  }
  void TearDown() override {
    // Back to a plain stderr target at info (made anew: the file target comes between).
    EXPECT_TRUE(set_up_logging(file_settings(root_ / "teardown.log")).has_value());
    EXPECT_TRUE(set_up_logging(LogSettings{}).has_value());
    fs::remove_all(root_);
  }

  LogSettings file_settings(const fs::path& path, std::string level = "info") const {
    LogSettings s;
    s.level = std::move(level);
    s.target = LogTarget::file;
    s.file = path.string();
    return s;
  }

  fs::path root_;
  fs::path log_;
};

TEST_F(LoggingTest, FileTargetHasTimeLevelAndMessage) {
  ASSERT_TRUE(set_up_logging(file_settings(log_)).has_value());
  spdlog::info("policy changed");
  spdlog::warn("a warning");
  spdlog::debug("not at info");
  const std::regex expected(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3} info policy changed
\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3} warning a warning
)");
  const std::string text = read_file(log_);
  EXPECT_TRUE(std::regex_match(text, expected)) << text;
}

TEST_F(LoggingTest, LevelOverrideWins) {
  ASSERT_TRUE(set_up_logging(file_settings(log_, "info"), "debug").has_value());
  spdlog::debug("lookup line");
  ASSERT_TRUE(set_up_logging(file_settings(log_, "debug"), "warn").has_value());
  spdlog::info("not at warn");
  const std::string text = read_file(log_);
  EXPECT_NE(text.find("debug lookup line"), std::string::npos) << text;
  EXPECT_EQ(text.find("not at warn"), std::string::npos) << text;
}

TEST_F(LoggingTest, UnknownLevelIsAnErrorAndChangesNothing) {
  ASSERT_TRUE(set_up_logging(file_settings(log_, "info")).has_value());
  const fs::path other = root_ / "other.log";
  auto bad = set_up_logging(file_settings(other, "info"), "verbose");
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().find("\"verbose\""), std::string::npos) << bad.error();
  spdlog::info("still here");
  spdlog::debug("still info");
  EXPECT_FALSE(fs::exists(other));
  const std::string text = read_file(log_);
  EXPECT_NE(text.find("still here"), std::string::npos) << text;
  EXPECT_EQ(text.find("still info"), std::string::npos) << text;
}

TEST_F(LoggingTest, ReloadWithAFailingTargetKeepsTheOldOneButTakesTheLevel) {
  ASSERT_TRUE(set_up_logging(file_settings(log_, "info")).has_value());
  const fs::path unreachable = root_ / "no-such-dir" / "mtastsd.log";
  auto reloaded = set_up_logging(file_settings(unreachable, "debug"));
  ASSERT_FALSE(reloaded.has_value());
  EXPECT_NE(reloaded.error().find(unreachable.string()), std::string::npos) << reloaded.error();
  spdlog::debug("after the reload");
  EXPECT_NE(read_file(log_).find("debug after the reload"), std::string::npos) << read_file(log_);
}

TEST_F(LoggingTest, ReloadWithTheSameTargetKeepsTheOpenFile) {
  ASSERT_TRUE(set_up_logging(file_settings(log_, "info")).has_value());
  spdlog::info("one");
  const fs::path moved = root_ / "mtastsd.log.1";
  fs::rename(log_, moved);
  ASSERT_TRUE(set_up_logging(file_settings(log_, "debug")).has_value());  // level only: not reopened
  spdlog::debug("two");
  EXPECT_FALSE(fs::exists(log_));
  EXPECT_NE(read_file(moved).find("debug two"), std::string::npos) << read_file(moved);
}

TEST_F(LoggingTest, ReloadWithAnotherFileSwitches) {
  ASSERT_TRUE(set_up_logging(file_settings(log_)).has_value());
  spdlog::info("to the first");
  const fs::path second = root_ / "second.log";
  ASSERT_TRUE(set_up_logging(file_settings(second)).has_value());
  spdlog::info("to the second");
  EXPECT_EQ(read_file(log_).find("to the second"), std::string::npos);
  EXPECT_NE(read_file(second).find("to the second"), std::string::npos);
}

TEST_F(LoggingTest, ReopenLogFilesStartsANewFileAtThePath) {
  ASSERT_TRUE(set_up_logging(file_settings(log_)).has_value());
  spdlog::info("before rotation");
  const fs::path rotated = root_ / "mtastsd.log.1";
  fs::rename(log_, rotated);
  reopen_log_files();
  spdlog::info("after rotation");
  const std::string old_text = read_file(rotated), new_text = read_file(log_);
  EXPECT_NE(old_text.find("before rotation"), std::string::npos) << old_text;
  EXPECT_EQ(old_text.find("after rotation"), std::string::npos) << old_text;
  EXPECT_NE(new_text.find("info log file " + log_.string() + " reopened"), std::string::npos) << new_text;
  EXPECT_NE(new_text.find("after rotation"), std::string::npos) << new_text;
}

TEST_F(LoggingTest, FailedReopenIsLoggedToTheOldFile) {
  ASSERT_TRUE(set_up_logging(file_settings(log_)).has_value());
  const fs::path rotated = root_ / "mtastsd.log.1";
  fs::rename(log_, rotated);
  fs::create_directory(log_);  // cannot be opened for writing
  reopen_log_files();
  spdlog::info("still logging");
  const std::string text = read_file(rotated);
  EXPECT_NE(text.find("error cannot open log file " + log_.string()), std::string::npos) << text;
  EXPECT_NE(text.find("still logging"), std::string::npos) << text;
}

// stderr redirected to a file for the test's duration.
class StderrToFile {
 public:
  explicit StderrToFile(const fs::path& path) {
    std::fflush(stderr);
    saved_ = ::dup(STDERR_FILENO);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
  }
  ~StderrToFile() {
    std::fflush(stderr);
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
  }
  std::string journal_stream() const {
    struct stat st {};
    ::fstat(STDERR_FILENO, &st);
    return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  }

 private:
  int saved_;
};

TEST_F(LoggingTest, StderrThatIsTheJournalGetsPriorityPrefixes) {
  const fs::path captured = root_ / "stderr";
  {
    StderrToFile redirect(captured);
    ::setenv("JOURNAL_STREAM", redirect.journal_stream().c_str(), 1);
    ASSERT_TRUE(set_up_logging(file_settings(log_)).has_value());  // a stderr target is made anew below
    ASSERT_TRUE(set_up_logging(LogSettings{.level = "debug"}).has_value());
    ::unsetenv("JOURNAL_STREAM");
    spdlog::debug("d");
    spdlog::info("i");
    spdlog::warn("w");
    spdlog::error("e");
    spdlog::critical("c");
  }
  EXPECT_EQ(read_file(captured), "<7>d\n<6>i\n<4>w\n<3>e\n<2>c\n");
}

TEST_F(LoggingTest, StderrElsewhereHasTimeAndLevel) {
  const fs::path captured = root_ / "stderr";
  {
    StderrToFile redirect(captured);
    ::setenv("JOURNAL_STREAM", "1:1", 1);  // inherited from a service, but stderr is another file now
    ASSERT_TRUE(set_up_logging(file_settings(log_)).has_value());
    ASSERT_TRUE(set_up_logging(LogSettings{}).has_value());
    ::unsetenv("JOURNAL_STREAM");
    spdlog::warn("w");
  }
  const std::string text = read_file(captured);
  EXPECT_TRUE(std::regex_match(text, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3} warning w
)"))) << text;
}

}  // namespace logging_test
}  // namespace mtastsd::daemon

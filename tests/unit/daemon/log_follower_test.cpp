// The log follower on real files in a temporary directory: where it starts
// (the end on a first start, the stored position after a restart, the start of
// a file that is not the stored one), rotation by rename and by truncation,
// lines split across reads, overlong lines, and standard input as a pipe.
// The io_context runs until the expected lines arrived (bounded by a deadline),
// so the tests wait for events, not for time.
#include "daemon/log_follower.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <boost/asio/io_context.hpp>
#include "core/postfix_tls_log.hpp"

namespace mtastsd::daemon {
namespace log_follower_test {

namespace fs = std::filesystem;

class LogFollowerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "log_follower_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    log_ = (root_ / "mail.log").string();
  }
  void TearDown() override { fs::remove_all(root_); }

  void append(const std::string& text, const std::string& path = "") {
    std::ofstream(path.empty() ? log_ : path, std::ios::app) << text;
  }

  std::unique_ptr<LogFollower> follow(std::optional<io::LogPosition> resume = {}, const std::string& source = "") {
    auto follower = std::make_unique<LogFollower>(
        io_.get_executor(), source.empty() ? log_ : source, resume,
        LogFollower::Handlers{.line = [this](std::string_view l) { lines_.emplace_back(l); },
                              .position = [this](const io::LogPosition& p) { position_ = p; }});
    EXPECT_TRUE(follower->open().has_value());
    follower->start();
    return follower;
  }

  // Runs the loop until `count` lines arrived in all, or 5 s passed.
  void run_until_lines(std::size_t count) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (lines_.size() < count && std::chrono::steady_clock::now() < deadline)
      io_.run_one_for(std::chrono::milliseconds(100));
  }
  // Runs the loop until the position satisfies `ready`, or 5 s passed.
  template <typename Ready>
  void run_until(Ready ready) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!ready() && std::chrono::steady_clock::now() < deadline) io_.run_one_for(std::chrono::milliseconds(100));
  }

  static std::uint64_t inode_of(const std::string& path) {
    struct stat st {};
    ::stat(path.c_str(), &st);
    return st.st_ino;
  }
  static std::uint64_t device_of(const std::string& path) {
    struct stat st {};
    ::stat(path.c_str(), &st);
    return st.st_dev;
  }

  boost::asio::io_context io_;
  fs::path root_;
  std::string log_;
  std::vector<std::string> lines_;
  std::optional<io::LogPosition> position_;
};

TEST_F(LogFollowerTest, FirstStartBeginsAtTheEnd) {
  append("old line 1\nold line 2\n");
  auto follower = follow();
  run_until([&] { return position_.has_value(); });
  ASSERT_TRUE(position_);
  EXPECT_EQ(position_->offset, 22u);
  EXPECT_EQ(position_->inode, inode_of(log_));
  append("new line\n");
  run_until_lines(1);
  EXPECT_EQ(lines_, std::vector<std::string>{"new line"});
  EXPECT_EQ(position_->offset, 31u);
}

TEST_F(LogFollowerTest, RestartContinuesAtTheStoredPosition) {
  append("counted\nnot yet counted\n");
  auto follower = follow(io::LogPosition{device_of(log_), inode_of(log_), 8});
  run_until_lines(1);
  EXPECT_EQ(lines_, std::vector<std::string>{"not yet counted"});
}

TEST_F(LogFollowerTest, StoredPositionOfAnotherFileStartsFromTheBeginning) {
  append("line of a new file\n");
  auto follower = follow(io::LogPosition{device_of(log_), inode_of(log_) + 1, 5});
  run_until_lines(1);
  EXPECT_EQ(lines_, std::vector<std::string>{"line of a new file"});
}

TEST_F(LogFollowerTest, StoredPositionBeyondTheEndMeansTruncatedMeanwhile) {
  append("short now\n");
  auto follower = follow(io::LogPosition{device_of(log_), inode_of(log_), 5000});
  run_until_lines(1);
  EXPECT_EQ(lines_, std::vector<std::string>{"short now"});
}

TEST_F(LogFollowerTest, FollowsARenameRotation) {
  append("");
  auto follower = follow();
  run_until([&] { return position_.has_value(); });
  append("before rotation\n");
  run_until_lines(1);
  fs::rename(log_, log_ + ".1");
  append("late line in the old file\n", log_ + ".1");  // the syslog daemon has not reopened yet
  append("first line of the new file\n");
  run_until_lines(3);
  EXPECT_EQ(lines_, (std::vector<std::string>{"before rotation", "late line in the old file",
                                              "first line of the new file"}));
  EXPECT_EQ(position_->inode, inode_of(log_));
  EXPECT_EQ(position_->offset, 27u);
}

TEST_F(LogFollowerTest, WaitsForAMissingFileAndReadsItFromTheStart) {
  auto follower = follow();
  io_.poll();
  append("created later\n");
  run_until_lines(1);
  EXPECT_EQ(lines_, std::vector<std::string>{"created later"});
}

TEST_F(LogFollowerTest, FollowsATruncation) {
  append("");
  auto follower = follow();
  run_until([&] { return position_.has_value(); });
  append("a long line before copytruncate\n");
  run_until_lines(1);
  fs::resize_file(log_, 0);
  // Let the follower see the shorter file before new lines make it long again.
  const auto truncated_seen = [&] { return position_->offset == 0; };
  run_until(truncated_seen);
  ASSERT_TRUE(truncated_seen());
  append("after\n");
  run_until_lines(2);
  EXPECT_EQ(lines_.back(), "after");
}

TEST_F(LogFollowerTest, PartialLinesWaitForTheirEnd) {
  append("");
  auto follower = follow();
  run_until([&] { return position_.has_value(); });
  append("first\nhalf ");  // read in one go: the half line is read, not handed out
  run_until_lines(1);
  EXPECT_EQ(lines_, std::vector<std::string>{"first"});
  EXPECT_EQ(position_->offset, 6u);  // the position never covers half a line
  append("and the rest\nnext\n");
  run_until_lines(3);
  EXPECT_EQ(lines_, (std::vector<std::string>{"first", "half and the rest", "next"}));
  EXPECT_EQ(position_->offset, 29u);
}

TEST_F(LogFollowerTest, OverlongLinesAreCutJustPastTheCap) {
  append("");
  auto follower = follow();
  run_until([&] { return position_.has_value(); });
  append(std::string(3 * core::kMaxLogLineLength, 'x') + "\nshort\n");
  run_until_lines(2);
  ASSERT_EQ(lines_.size(), 2u);
  EXPECT_EQ(lines_[0].size(), core::kMaxLogLineLength + 1);
  EXPECT_EQ(lines_[1], "short");
}

TEST_F(LogFollowerTest, StandardInputMustBeAPipe) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const int saved = ::dup(STDIN_FILENO);
  ASSERT_EQ(::dup2(fds[0], STDIN_FILENO), STDIN_FILENO);
  {
    auto follower = follow({}, "-");
    ASSERT_EQ(::write(fds[1], "one\ntw", 6), 6);
    ASSERT_EQ(::write(fds[1], "o\nthree", 7), 7);
    ::close(fds[1]);  // EOF: the last line counts without its line end
    run_until_lines(3);
  }
  ::dup2(saved, STDIN_FILENO);
  ::close(saved);
  ::close(fds[0]);
  EXPECT_EQ(lines_, (std::vector<std::string>{"one", "two", "three"}));
  EXPECT_FALSE(position_.has_value());

  const int file = ::open(log_.c_str(), O_CREAT | O_RDWR, 0600);
  ASSERT_GE(file, 0);
  const int saved_again = ::dup(STDIN_FILENO);
  ::dup2(file, STDIN_FILENO);
  LogFollower on_file(io_.get_executor(), "-", std::nullopt, {});
  auto opened = on_file.open();
  ::dup2(saved_again, STDIN_FILENO);
  ::close(saved_again);
  ::close(file);
  ASSERT_FALSE(opened.has_value());
  EXPECT_NE(opened.error().find("pipe or socket"), std::string::npos);
}

}  // namespace log_follower_test
}  // namespace mtastsd::daemon

// The reopenable log file on real files in a temporary directory: lines are in the
// file as soon as they are logged, a reopen after a rename (logrotate) sends the next
// lines to a new file and loses none, also while another thread logs, and a failed
// open or reopen is an error that names the path (the old file stays in use).
#include "daemon/reopenable_file_sink.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <spdlog/logger.h>

namespace mtastsd::daemon {
namespace reopenable_file_sink_test {

namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<std::string> lines_of(const fs::path& path) {
  std::vector<std::string> lines;
  std::istringstream in(read_file(path));
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

class ReopenableFileSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "reopenable_file_sink_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    path_ = root_ / "mtastsd.log";
  }
  void TearDown() override { fs::remove_all(root_); }

  std::shared_ptr<ReopenableFileSink> open_sink() {
    auto sink = ReopenableFileSink::open(path_.string());
    if (!sink) ADD_FAILURE() << sink.error();
    (*sink)->set_pattern("%v");
    return *sink;
  }

  fs::path root_;
  fs::path path_;
};

TEST_F(ReopenableFileSinkTest, LinesAreInTheFileAtOnce) {
  auto sink = open_sink();
  spdlog::logger logger("test", sink);
  logger.info("first");
  logger.warn("second {}", 2);
  EXPECT_EQ(read_file(path_), "first\nsecond 2\n");  // no flush needed
}

TEST_F(ReopenableFileSinkTest, AppendsToAnExistingFileAndCreatesWithoutWorldAccess) {
  {
    auto sink = open_sink();
    spdlog::logger("test", sink).info("one");
  }
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0007, 0u);
  auto sink = open_sink();
  spdlog::logger("test", sink).info("two");
  EXPECT_EQ(read_file(path_), "one\ntwo\n");
}

TEST_F(ReopenableFileSinkTest, ReopenAfterRenameWritesToANewFile) {
  auto sink = open_sink();
  spdlog::logger logger("test", sink);
  logger.info("before");
  const fs::path rotated = root_ / "mtastsd.log.1";
  fs::rename(path_, rotated);
  logger.info("between");  // still the renamed file: it is open
  ASSERT_TRUE(sink->reopen().has_value());
  logger.info("after");
  EXPECT_EQ(read_file(rotated), "before\nbetween\n");
  EXPECT_EQ(read_file(path_), "after\n");
}

TEST_F(ReopenableFileSinkTest, NothingIsLostWhileAnotherThreadLogs) {
  auto sink = open_sink();
  spdlog::logger logger("test", sink);
  constexpr int kLines = 20000;
  constexpr int kRotations = 3;
  std::atomic<int> logged{0};
  std::thread writer([&] {
    for (int i = 0; i < kLines; ++i) {
      logger.info("{}", i);
      logged.store(i + 1, std::memory_order_release);
    }
  });
  for (int r = 1; r <= kRotations; ++r) {
    // Rotate while the writer is in the middle of its lines.
    while (logged.load(std::memory_order_acquire) < r * kLines / (kRotations + 1)) std::this_thread::yield();
    fs::rename(path_, root_ / ("mtastsd.log." + std::to_string(r)));
    ASSERT_TRUE(sink->reopen().has_value());
  }
  writer.join();
  // Oldest file first: together they hold every line once, in order.
  std::vector<std::string> all;
  for (int r = 1; r <= kRotations; ++r) {
    const auto part = lines_of(root_ / ("mtastsd.log." + std::to_string(r)));
    EXPECT_FALSE(part.empty()) << "rotation " << r;
    all.insert(all.end(), part.begin(), part.end());
  }
  const auto last = lines_of(path_);
  EXPECT_FALSE(last.empty());
  all.insert(all.end(), last.begin(), last.end());
  ASSERT_EQ(all.size(), static_cast<std::size_t>(kLines));
  for (int i = 0; i < kLines; ++i) ASSERT_EQ(all[i], std::to_string(i));
}

TEST_F(ReopenableFileSinkTest, OpenFailureNamesThePathAndTheReason) {
  const std::string missing = (root_ / "no-such-dir" / "mtastsd.log").string();
  auto sink = ReopenableFileSink::open(missing);
  ASSERT_FALSE(sink.has_value());
  EXPECT_NE(sink.error().find(missing), std::string::npos) << sink.error();
  EXPECT_NE(sink.error().find("No such file or directory"), std::string::npos) << sink.error();
}

TEST_F(ReopenableFileSinkTest, FailedReopenKeepsTheOldFile) {
  auto sink = open_sink();
  spdlog::logger logger("test", sink);
  logger.info("before");
  const fs::path rotated = root_ / "mtastsd.log.1";
  fs::rename(path_, rotated);
  fs::create_directory(path_);  // the path cannot be opened for writing now (even by root)
  auto reopened = sink->reopen();
  ASSERT_FALSE(reopened.has_value());
  EXPECT_NE(reopened.error().find(path_.string()), std::string::npos) << reopened.error();
  logger.info("after");
  EXPECT_EQ(read_file(rotated), "before\nafter\n");
}

}  // namespace reopenable_file_sink_test
}  // namespace mtastsd::daemon

// The sendmail-command submission with small /bin/sh stand-ins: arguments and stdin (LF line
// ends), exit status classification, captured output and its cap, a command that exits without
// reading its input, one that hangs (killed at the deadline), one whose background child keeps
// the output pipe open, and a missing command. (SMTP is tested against a real server in
// tests/integration/test_report_delivery.py.)
#include "io/mail_submission.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace mtastsd::io {
namespace mail_submission_test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const Envelope kEnvelope{"tlsrpt-noreply@sender.example", "tlsrpt@example.com"};
constexpr std::string_view kMessage = "Subject: test\r\n\r\nline one\r\nline two\r\n";

class SendmailTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "mail_submission_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A sendmail stand-in: /bin/sh running `body`.
  std::string command(const std::string& name, const std::string& body) {
    const fs::path path = dir_ / name;
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    fs::permissions(path, fs::perms::owner_all);
    return path.string();
  }

  std::string file(const std::string& name) const {
    std::ifstream in(dir_ / name);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  fs::path dir_;
};

TEST_F(SendmailTest, PassesTheEnvelopeAndTheMessageWithLfLineEnds) {
  const std::string cmd = command("ok", "printf '%s\\n' \"$@\" > " + (dir_ / "args").string() + "\ncat > " +
                                            (dir_ / "stdin").string());
  const auto result = submit_sendmail(cmd, kEnvelope, kMessage, Clock::now() + 5s);
  ASSERT_TRUE(result.has_value()) << result.error().detail;
  EXPECT_EQ(file("args"), "-oi\n-f\ntlsrpt-noreply@sender.example\n--\ntlsrpt@example.com\n");
  EXPECT_EQ(file("stdin"), "Subject: test\n\nline one\nline two\n");
}

TEST_F(SendmailTest, ExitStatusIsClassifiedAndItsOutputReported) {
  const auto no_user = submit_sendmail(command("nouser", "cat >/dev/null; echo 'no such user' >&2; exit 67"),
                                       kEnvelope, kMessage, Clock::now() + 5s);
  ASSERT_FALSE(no_user.has_value());
  EXPECT_EQ(no_user.error().error, core::DeliveryError::permanent);
  EXPECT_NE(no_user.error().detail.find("exited 67: no such user"), std::string::npos) << no_user.error().detail;

  const auto tempfail = submit_sendmail(command("tempfail", "cat >/dev/null; exit 75"), kEnvelope, kMessage,
                                        Clock::now() + 5s);
  ASSERT_FALSE(tempfail.has_value());
  EXPECT_EQ(tempfail.error().error, core::DeliveryError::temporary);
}

TEST_F(SendmailTest, OutputIsCapped) {
  const std::string chatty = command("chatty", "cat >/dev/null; head -c 100000 /dev/zero | tr '\\0' x; exit 1");
  const auto result = submit_sendmail(chatty, kEnvelope, kMessage, Clock::now() + 5s);
  ASSERT_FALSE(result.has_value());
  EXPECT_LT(result.error().detail.size(), kMaxCommandOutput + 200);
  EXPECT_NE(result.error().detail.find("xxxx"), std::string::npos);
}

TEST_F(SendmailTest, ExitingWithoutReadingTheMessageIsNotDelivery) {
  const std::string big(4 << 20, 'a');  // more than any socket buffer holds
  const auto result = submit_sendmail(command("lazy", "exit 0"), kEnvelope, big, Clock::now() + 5s);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().error, core::DeliveryError::temporary);
  EXPECT_NE(result.error().detail.find("before reading the whole message"), std::string::npos)
      << result.error().detail;
}

TEST_F(SendmailTest, HangingCommandIsKilledAtTheDeadline) {
  const auto started = Clock::now();
  const auto result =
      submit_sendmail(command("hang", "cat >/dev/null; exec sleep 30"), kEnvelope, kMessage, started + 300ms);
  const auto elapsed = Clock::now() - started;
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().error, core::DeliveryError::temporary);
  EXPECT_NE(result.error().detail.find("deadline"), std::string::npos);
  EXPECT_GE(elapsed, 300ms);
  EXPECT_LT(elapsed, 5s);
}

TEST_F(SendmailTest, ExitIsSeenWhileADescendantHoldsTheOutputOpen) {
  // As Postfix's sendmail may leave a postdrop running: the exit decides, not the pipe's EOF.
  const auto started = Clock::now();
  const auto result = submit_sendmail(command("forks", "cat >/dev/null; sleep 3 & exit 0"), kEnvelope, kMessage,
                                      started + 10s);
  ASSERT_TRUE(result.has_value()) << result.error().detail;
  EXPECT_LT(Clock::now() - started, 2s) << "waited for the background child's end of the pipe";
}

TEST_F(SendmailTest, MissingCommandIsTemporary) {
  const auto result = submit_sendmail((dir_ / "no-such-sendmail").string(), kEnvelope, kMessage, Clock::now() + 5s);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().error, core::DeliveryError::temporary);
  EXPECT_NE(result.error().detail.find("cannot run"), std::string::npos);
}

}  // namespace mail_submission_test
}  // namespace mtastsd::io

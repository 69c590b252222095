// The claim rules a sending process gives the outbox (daemon::claim_rules): the lease covers
// the attempt and, for e-mails, the wait for the others before it on the one mail worker;
// the claimant is this process, and a claim by a process that is gone is void.
#include "daemon/report_dispatch.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

namespace mtastsd::daemon {
namespace report_dispatch_test {

using namespace std::chrono_literals;

TlsRptSettings timeouts(std::chrono::milliseconds mail, std::chrono::milliseconds https) {
  TlsRptSettings t;
  t.sender.mail_timeout = mail;
  t.sender.https.timeout = https;
  return t;
}

TEST(ClaimRules, OneAttemptAtATimeLeasesTheLongerTimeoutWithTheMargin) {
  EXPECT_EQ(claim_rules(timeouts(5min, 1min), 1).lease, 5min + kClaimMargin);
  EXPECT_EQ(claim_rules(timeouts(1min, 2min), 1).lease, 2min + kClaimMargin);
}

TEST(ClaimRules, TheLeaseCoversTheEmailsQueuedAheadOnTheMailWorker) {
  // Eight claimed at once: the last e-mail may start after seven others took their full time.
  EXPECT_EQ(claim_rules(timeouts(5min, 1min), 8).lease, 40min + kClaimMargin);
  EXPECT_EQ(claim_rules(timeouts(10s, 2min), 8).lease, 2min + kClaimMargin);  // an upload waits for nobody
  EXPECT_EQ(claim_rules(timeouts(1min, 1s), 0).lease, 1min + kClaimMargin);   // as one
}

TEST(ClaimRules, TheClaimantIsThisProcessAndAGoneOneIsNotAlive) {
  const core::ClaimRules rules = claim_rules(timeouts(1min, 1min), 1);
  EXPECT_EQ(rules.claimant, ::getpid());
  EXPECT_TRUE(rules.alive(::getpid()));
  EXPECT_FALSE(rules.alive(0));
  EXPECT_FALSE(rules.alive(-1));
}

}  // namespace report_dispatch_test
}  // namespace mtastsd::daemon

// Report delivery rules: which SMTP replies, HTTP statuses and sendmail exit codes are
// worth a retry, and where an https rua is posted.
#include "core/report_delivery.hpp"

#include <gtest/gtest.h>

namespace mtastsd::core {
namespace report_delivery_test {

TEST(ClassifySmtpReply, FourHundredsAreAlwaysTemporary) {
  for (SmtpStage stage : {SmtpStage::greeting, SmtpStage::ehlo, SmtpStage::starttls, SmtpStage::mail_from,
                          SmtpStage::rcpt_to, SmtpStage::data, SmtpStage::end_of_data})
    for (int code : {421, 450, 451, 452, 454})
      EXPECT_EQ(classify_smtp_reply(stage, code), DeliveryError::temporary) << to_string(stage) << " " << code;
}

TEST(ClassifySmtpReply, FiveHundredsArePermanentOnlyForTheMessage) {
  for (int code : {550, 551, 552, 553, 554}) {
    EXPECT_EQ(classify_smtp_reply(SmtpStage::rcpt_to, code), DeliveryError::permanent) << code;
    EXPECT_EQ(classify_smtp_reply(SmtpStage::data, code), DeliveryError::permanent) << code;
    EXPECT_EQ(classify_smtp_reply(SmtpStage::end_of_data, code), DeliveryError::permanent) << code;
    for (SmtpStage ours : {SmtpStage::greeting, SmtpStage::ehlo, SmtpStage::starttls, SmtpStage::mail_from})
      EXPECT_EQ(classify_smtp_reply(ours, code), DeliveryError::temporary) << to_string(ours) << " " << code;
  }
}

TEST(ClassifySmtpReply, NoReplyOrNonsenseIsTemporary) {
  EXPECT_EQ(classify_smtp_reply(SmtpStage::rcpt_to, 0), DeliveryError::temporary);
  EXPECT_EQ(classify_smtp_reply(SmtpStage::rcpt_to, 354), DeliveryError::temporary);
  EXPECT_EQ(classify_smtp_reply(SmtpStage::rcpt_to, 600), DeliveryError::temporary);
  EXPECT_EQ(classify_smtp_reply(SmtpStage::rcpt_to, 499), DeliveryError::temporary);
  EXPECT_EQ(classify_smtp_reply(SmtpStage::rcpt_to, 500), DeliveryError::permanent);
  EXPECT_EQ(classify_smtp_reply(SmtpStage::rcpt_to, 599), DeliveryError::permanent);
}

TEST(ClassifyHttpStatus, RetryableAndFinalStatuses) {
  for (unsigned status : {408u, 425u, 429u, 500u, 502u, 503u, 504u, 599u, 100u, 600u})
    EXPECT_EQ(classify_http_status(status), DeliveryError::temporary) << status;
  for (unsigned status : {300u, 301u, 302u, 307u, 308u, 400u, 401u, 403u, 404u, 405u, 410u, 413u, 415u, 499u})
    EXPECT_EQ(classify_http_status(status), DeliveryError::permanent) << status;
}

TEST(ClassifySendmailExit, SysexitsAboutTheMessageArePermanent) {
  for (int status : {65, 67, 68}) EXPECT_EQ(classify_sendmail_exit(status), DeliveryError::permanent) << status;
  for (int status : {1, 64, 66, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 127})
    EXPECT_EQ(classify_sendmail_exit(status), DeliveryError::temporary) << status;
}

HttpsEndpoint endpoint_of(std::string_view uri) {
  auto parsed = parse_report_uri(uri);
  EXPECT_TRUE(parsed.has_value()) << uri;
  auto endpoint = parsed ? https_endpoint(*parsed) : std::nullopt;
  EXPECT_TRUE(endpoint.has_value()) << uri;
  return endpoint.value_or(HttpsEndpoint{});
}

TEST(HttpsEndpoint, HostPortAndTarget) {
  EXPECT_EQ(endpoint_of("https://reports.example.com/tlsrpt"), (HttpsEndpoint{"reports.example.com", 443, "/tlsrpt"}));
  EXPECT_EQ(endpoint_of("https://reports.example.com"), (HttpsEndpoint{"reports.example.com", 443, "/"}));
  EXPECT_EQ(endpoint_of("https://reports.example.com/"), (HttpsEndpoint{"reports.example.com", 443, "/"}));
  EXPECT_EQ(endpoint_of("https://reports.example.com:8443/a/b?x=1&y=%21"),
            (HttpsEndpoint{"reports.example.com", 8443, "/a/b?x=1&y=%21"}));
  EXPECT_EQ(endpoint_of("https://reports.example.com?x=1"), (HttpsEndpoint{"reports.example.com", 443, "/?x=1"}));
  EXPECT_EQ(endpoint_of("https://reports.example.com/p#fragment"), (HttpsEndpoint{"reports.example.com", 443, "/p"}));
  EXPECT_EQ(endpoint_of("HTTPS://Reports.Example.COM:443/Path"), (HttpsEndpoint{"reports.example.com", 443, "/Path"}));
}

TEST(HttpsEndpoint, NoneForMailto) {
  auto parsed = parse_report_uri("mailto:tlsrpt@example.com");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_FALSE(https_endpoint(*parsed).has_value());
}

}  // namespace report_delivery_test
}  // namespace mtastsd::core

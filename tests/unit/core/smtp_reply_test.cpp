// SMTP reply parsing (core/smtp_reply.hpp): RFC 5321 sec. 4.2 reply lines, multi-line
// replies, the 512-octet line cap, EHLO keywords and the greeting host.
#include "core/smtp_reply.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

namespace mtastsd::core {
namespace smtp_reply_test {

// Feeds every line; the reply the last one completes (every earlier one must continue it).
std::expected<SmtpReply, SmtpReplyError> read(std::initializer_list<std::string_view> lines) {
  SmtpReplyReader reader;
  std::size_t fed = 0;
  for (const auto line : lines) {
    auto step = reader.add_line(line);
    if (!step) return std::unexpected(step.error());
    ++fed;
    if (step->has_value()) {
      EXPECT_EQ(fed, lines.size()) << "reply completed before its last line";
      return std::move(**step);
    }
  }
  ADD_FAILURE() << "reply not completed";
  return std::unexpected(SmtpReplyError::malformed_line);
}

TEST(SmtpReplyReader, SingleLine) {
  const auto reply = read({"220 mx.example.com ESMTP ready\r\n"});
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->code, 220);
  EXPECT_EQ(reply->lines, std::vector<std::string>{"mx.example.com ESMTP ready"});
  EXPECT_TRUE(reply->positive_completion());
}

TEST(SmtpReplyReader, CodeAloneIsALastLine) {
  const auto reply = read({"250\r\n"});
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->code, 250);
  EXPECT_EQ(reply->lines, std::vector<std::string>{""});
}

TEST(SmtpReplyReader, MultiLineEndsAtTheLineWithASpace) {
  const auto reply = read({"250-mx.example.com Hello\r\n", "250-SIZE 1000\r\n", "250-\r\n", "250 STARTTLS\r\n"});
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->code, 250);
  EXPECT_EQ(reply->lines, (std::vector<std::string>{"mx.example.com Hello", "SIZE 1000", "", "STARTTLS"}));
}

TEST(SmtpReplyReader, AcceptsBareLineFeedAndNoLineEnd) {
  const auto bare = read({"250-a\n", "250 b\n"});
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->lines, (std::vector<std::string>{"a", "b"}));
  const auto none = read({"221 bye"});
  ASSERT_TRUE(none);
  EXPECT_EQ(none->lines, std::vector<std::string>{"bye"});
}

TEST(SmtpReplyReader, NegativeCodes) {
  const auto refused = read({"554 5.7.1 no service\r\n"});
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->code, 554);
  EXPECT_FALSE(refused->positive_completion());
  const auto busy = read({"421 4.3.2 shutting down\r\n"});
  ASSERT_TRUE(busy);
  EXPECT_FALSE(busy->positive_completion());
  const auto ready = read({"354 go ahead\r\n"});
  ASSERT_TRUE(ready);
  EXPECT_FALSE(ready->positive_completion());
}

TEST(SmtpReplyReader, RejectsCodesOutsideTheGrammar) {
  SmtpReplyReader reader;
  // First digit 2-5, second 0-5, third 0-9 (RFC 5321 sec. 4.2).
  for (const std::string_view line : {"120 x\r\n", "620 x\r\n", "260 x\r\n", "25 x\r\n", "25a x\r\n", "\r\n",
                                      "abc\r\n", " 250 x\r\n"})
    EXPECT_EQ(reader.add_line(line).error(), SmtpReplyError::malformed_line) << line;
  EXPECT_TRUE(reader.add_line("559 x\r\n").has_value());
  EXPECT_TRUE(reader.add_line("200 x\r\n").has_value());
}

TEST(SmtpReplyReader, RejectsOtherSeparators) {
  SmtpReplyReader reader;
  EXPECT_EQ(reader.add_line("250_x\r\n").error(), SmtpReplyError::malformed_line);
  EXPECT_EQ(reader.add_line("2500\r\n").error(), SmtpReplyError::malformed_line);
  EXPECT_EQ(reader.add_line("250\tx\r\n").error(), SmtpReplyError::malformed_line);
}

TEST(SmtpReplyReader, LineCapIs512OctetsWithCrLf) {
  const std::string longest = "250 " + std::string(kMaxReplyLineOctets - 6, 'x') + "\r\n";
  ASSERT_EQ(longest.size(), 512u);
  SmtpReplyReader reader;
  const auto fits = reader.add_line(longest);
  ASSERT_TRUE(fits && fits->has_value());
  EXPECT_EQ((*fits)->lines.front().size(), 506u);
  const std::string over = "250 " + std::string(kMaxReplyLineOctets - 5, 'x') + "\r\n";
  EXPECT_EQ(reader.add_line(over).error(), SmtpReplyError::line_too_long);
}

TEST(SmtpReplyReader, EveryLineKeepsTheFirstCode) {
  EXPECT_EQ(read({"250-a\r\n", "251 b\r\n"}).error(), SmtpReplyError::code_changed);
  EXPECT_EQ(read({"250-a\r\n", "550 b\r\n"}).error(), SmtpReplyError::code_changed);
}

TEST(SmtpReplyReader, AtMostAHundredLines) {
  SmtpReplyReader reader;
  for (std::size_t i = 1; i < kMaxReplyLines; ++i) ASSERT_EQ(reader.add_line("250-x\r\n"), std::nullopt);
  const auto hundredth = reader.add_line("250 x\r\n");
  ASSERT_TRUE(hundredth && hundredth->has_value());
  EXPECT_EQ((*hundredth)->lines.size(), kMaxReplyLines);

  for (std::size_t i = 0; i < kMaxReplyLines; ++i) ASSERT_EQ(reader.add_line("250-x\r\n"), std::nullopt);
  EXPECT_EQ(reader.add_line("250 x\r\n").error(), SmtpReplyError::too_many_lines);
}

TEST(SmtpReplyReader, StartsAfreshAfterAReplyOrAnError) {
  SmtpReplyReader reader;
  ASSERT_EQ(reader.add_line("250-a\r\n"), std::nullopt);
  ASSERT_FALSE(reader.add_line("550 b\r\n"));  // code changed: the reply is dropped
  const auto next = reader.add_line("550 c\r\n");
  ASSERT_TRUE(next && next->has_value());
  EXPECT_EQ((*next)->code, 550);
  EXPECT_EQ((*next)->lines, std::vector<std::string>{"c"});
  const auto after = reader.add_line("221 d\r\n");
  ASSERT_TRUE(after && after->has_value());
  EXPECT_EQ((*after)->lines, std::vector<std::string>{"d"});
}

TEST(SmtpReplySummary, JoinsLinesPrintablyAndBounded) {
  EXPECT_EQ((SmtpReply{554, {"5.7.1 go away"}}.summary()), "554 5.7.1 go away");
  EXPECT_EQ((SmtpReply{250, {"mx", "STARTTLS"}}.summary()), "250 mx / STARTTLS");
  EXPECT_EQ((SmtpReply{550, {"bad\x01\xff"}}.summary()), "550 bad??");
  const SmtpReply flood{250, std::vector<std::string>(100, std::string(500, 'x'))};
  EXPECT_EQ(flood.summary().size(), 303u);  // 300 and "..."
}

TEST(EhloOffers, FindsKeywordsIgnoringCase) {
  const SmtpReply ehlo{250, {"mx.example.com Hello", "PIPELINING", "SIZE 10240000", "starttls", "AUTH PLAIN"}};
  EXPECT_TRUE(ehlo_offers(ehlo, "STARTTLS"));
  EXPECT_TRUE(ehlo_offers(ehlo, "StartTLS"));
  EXPECT_TRUE(ehlo_offers(ehlo, "SIZE"));
  EXPECT_TRUE(ehlo_offers(ehlo, "AUTH"));
  EXPECT_FALSE(ehlo_offers(ehlo, "PLAIN"));  // a parameter, not a keyword
  EXPECT_FALSE(ehlo_offers(ehlo, "8BITMIME"));
}

TEST(EhloOffers, TheFirstLineIsTheServerNotAKeyword) {
  EXPECT_FALSE(ehlo_offers(SmtpReply{250, {"STARTTLS"}}, "STARTTLS"));
  EXPECT_FALSE(ehlo_offers(SmtpReply{250, {"mx.example.com STARTTLS"}}, "STARTTLS"));
  EXPECT_FALSE(ehlo_offers(SmtpReply{250, {}}, "STARTTLS"));
}

TEST(EhloOffers, WholeKeywordOnly) {
  const SmtpReply ehlo{250, {"mx", "STARTTLSX", "XSTARTTLS", "STARTTL"}};
  EXPECT_FALSE(ehlo_offers(ehlo, "STARTTLS"));
}

TEST(GreetingHost, FirstWordOfTheFirstLine) {
  EXPECT_EQ(greeting_host(SmtpReply{220, {"mx.example.com ESMTP Postfix"}}), "mx.example.com");
  EXPECT_EQ(greeting_host(SmtpReply{220, {"mx.example.com"}}), "mx.example.com");
  EXPECT_EQ(greeting_host(SmtpReply{220, {"[192.0.2.1] ready", "second line"}}), "[192.0.2.1]");
  EXPECT_EQ(greeting_host(SmtpReply{220, {""}}), "");
  EXPECT_EQ(greeting_host(SmtpReply{220, {}}), "");
}

TEST(GreetingHost, PrintableAndBounded) {
  EXPECT_EQ(greeting_host(SmtpReply{220, {"mx\x7f.example ESMTP"}}), "mx?.example");
  const std::string long_name(400, 'a');
  EXPECT_EQ(greeting_host(SmtpReply{220, {long_name + " ESMTP"}}), std::string(253, 'a') + "...");
}

}  // namespace smtp_reply_test
}  // namespace mtastsd::core

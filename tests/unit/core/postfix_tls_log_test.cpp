// Postfix <= 3.9 log lines -> session events: each failure kind, multi-MX
// deliveries, interleaved processes, syslog prefix formats, bounded memory.
#include "core/postfix_tls_log.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

namespace mtastsd::core {
namespace postfix_tls_log_test {

constexpr std::string_view kPrefix = "Mar  3 10:00:01 mail postfix/smtp[1234]: ";
constexpr std::string_view kCipher =
    ": TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature RSA-PSS "
    "(2048 bits) server-digest SHA256";
constexpr std::string_view kMx1 = "mx1.example.com[192.0.2.10]";
constexpr std::string_view kMx2 = "mx2.example.com[2001:db8::11]";

std::string line(std::string_view text, std::string_view prefix = kPrefix) {
  return std::string(prefix) + std::string(text);
}

std::string established(std::string_view trust, std::string_view peer, std::string_view prefix = kPrefix) {
  return line(std::string(trust) + " TLS connection established to " + std::string(peer) + ":25" + std::string(kCipher),
              prefix);
}

std::string delivered(std::string_view peer, std::string_view status_and_reason,
                      std::string_view rcpt = "alice@example.com", std::string_view prefix = kPrefix,
                      std::string_view queue_id = "4F2A31C0D2") {
  return line(std::string(queue_id) + ": to=<" + std::string(rcpt) + ">, relay=" + std::string(peer) +
                  ":25, delay=0.52, delays=0.02/0.01/0.3/0.19, dsn=2.0.0, status=" + std::string(status_and_reason),
              prefix);
}

// Feeds lines, expecting each to be accepted; returns all events.
std::vector<SessionEvent> feed_all(PostfixTlsLogCorrelator& log, std::initializer_list<std::string> lines) {
  std::vector<SessionEvent> out;
  for (const std::string& l : lines) {
    auto events = log.feed(l);
    EXPECT_TRUE(events.has_value()) << l << ": " << (events ? "" : events.error().detail);
    if (events) out.insert(out.end(), events->begin(), events->end());
  }
  return out;
}

std::vector<SessionEvent> feed_all(std::initializer_list<std::string> lines) {
  PostfixTlsLogCorrelator log;
  return feed_all(log, lines);
}

// A single failed event: returns its only failure detail.
FailureDetail single_failure(const std::vector<SessionEvent>& events) {
  EXPECT_EQ(events.size(), 1u);
  if (events.size() != 1) return {};
  EXPECT_TRUE(events[0].failed);
  EXPECT_EQ(events[0].failure_details.size(), 1u);
  return events[0].failure_details.empty() ? FailureDetail{} : events[0].failure_details[0];
}

TEST(PostfixTlsLog, VerifiedSessionIsASuccess) {
  const auto events = feed_all({established("Verified", kMx1), delivered(kMx1, "sent (250 2.0.0 Ok: queued as 8A7B)")});
  ASSERT_EQ(events.size(), 1u);
  const SessionEvent& e = events[0];
  EXPECT_EQ(e.report_domain, "example.com");
  EXPECT_EQ(e.tlsrpt_record, "");
  EXPECT_EQ(e.policy.type, PolicyType::unknown);
  EXPECT_EQ(e.policy.domain, "example.com");
  EXPECT_FALSE(e.failed);
  EXPECT_TRUE(e.failure_details.empty());
  EXPECT_EQ(e.mx_hostname, "mx1.example.com");
}

TEST(PostfixTlsLog, AcceptedUnverifiedSessionsAreSuccesses) {
  // At TLS level may/encrypt Postfix goes on with an untrusted or anonymous peer.
  for (const char* trust : {"Anonymous", "Untrusted", "Trusted"}) {
    const auto events = feed_all({established(trust, kMx1), delivered(kMx1, "sent (250 ok)")});
    ASSERT_EQ(events.size(), 1u) << trust;
    EXPECT_FALSE(events[0].failed) << trust;
  }
}

TEST(PostfixTlsLog, HostnameMismatch) {
  const FailureDetail d = single_failure(feed_all({
      line("server certificate verification failed for mx1.example.com[192.0.2.10]:25: num=62:hostname mismatch"),
      established("Trusted", kMx1),
      delivered(kMx1, "deferred (Server certificate not verified)"),
  }));
  EXPECT_EQ(d.result_type, FailureType::certificate_host_mismatch);
  EXPECT_EQ(d.receiving_mx_hostname, "mx1.example.com");
  EXPECT_EQ(d.receiving_ip, "192.0.2.10");
  EXPECT_EQ(d.failure_reason_code, "num=62:hostname mismatch");
  EXPECT_EQ(d.sending_mta_ip, "");
  EXPECT_EQ(d.receiving_mx_helo, "");
}

TEST(PostfixTlsLog, ExpiredCertificate) {
  const FailureDetail d = single_failure(feed_all({
      line("server certificate verification failed for mx1.example.com[192.0.2.10]:25: certificate has expired"),
      established("Untrusted", kMx1),
      delivered(kMx1, "deferred (Server certificate not trusted)"),
  }));
  EXPECT_EQ(d.result_type, FailureType::certificate_expired);
  EXPECT_EQ(d.failure_reason_code, "certificate has expired");
}

TEST(PostfixTlsLog, UntrustedCertificates) {
  for (const char* reason : {"untrusted issuer /C=US/O=Example/CN=Example Private CA", "self-signed certificate",
                             "num=18:self signed certificate", "num=19:self signed certificate in certificate chain",
                             "num=20:unable to get local issuer certificate",
                             "num=21:unable to verify the first certificate", "not trusted by local or TLSA policy"}) {
    const FailureDetail d = single_failure(feed_all({
        line(std::string("certificate verification failed for mx1.example.com[192.0.2.10]:25: ") + reason),
        established("Untrusted", kMx1),
        delivered(kMx1, "deferred (Server certificate not trusted)"),
    }));
    EXPECT_EQ(d.result_type, FailureType::certificate_not_trusted) << reason;
    EXPECT_EQ(d.failure_reason_code, reason);
  }
}

TEST(PostfixTlsLog, OtherCertificateProblemsAreValidationFailures) {
  for (const char* reason : {"certificate not yet valid", "not designated for use as a server certificate",
                             "certificate chain longer than limit(9)", "num=7:certificate signature failure"}) {
    const FailureDetail d = single_failure(feed_all({
        line(std::string("server certificate verification failed for mx1.example.com[192.0.2.10]:25: ") + reason),
        established("Untrusted", kMx1),
        delivered(kMx1, "deferred (Server certificate not trusted)"),
    }));
    EXPECT_EQ(d.result_type, FailureType::validation_failure) << reason;
  }
}

TEST(PostfixTlsLog, StatusReasonAloneClassifies) {
  // Without a certificate line, the 4.7.5 reason decides.
  EXPECT_EQ(single_failure(feed_all({established("Untrusted", kMx1),
                                     delivered(kMx1, "deferred (Server certificate not trusted)")}))
                .result_type,
            FailureType::certificate_not_trusted);
  const FailureDetail d = single_failure(
      feed_all({established("Trusted", kMx1), delivered(kMx1, "deferred (Server certificate not verified)")}));
  EXPECT_EQ(d.result_type, FailureType::certificate_host_mismatch);
  EXPECT_EQ(d.failure_reason_code, "Server certificate not verified");
}

TEST(PostfixTlsLog, StartTlsNotOfferedOnTheFinalMx) {
  // No TLS line at all: the status line carries the whole story.
  const FailureDetail d = single_failure(feed_all({
      delivered(kMx1, "deferred (TLS is required, but was not offered by host mx1.example.com[192.0.2.10])"),
  }));
  EXPECT_EQ(d.result_type, FailureType::starttls_not_supported);
  EXPECT_EQ(d.receiving_mx_hostname, "mx1.example.com");
  EXPECT_EQ(d.receiving_ip, "192.0.2.10");
  EXPECT_EQ(d.failure_reason_code, "TLS is required, but was not offered by host mx1.example.com[192.0.2.10]");
}

TEST(PostfixTlsLog, StartTlsRefused) {
  const FailureDetail d = single_failure(feed_all({
      delivered(kMx1,
                "deferred (TLS is required, but host mx1.example.com[192.0.2.10] refused to start TLS: 454 4.7.0 TLS "
                "not available)"),
  }));
  EXPECT_EQ(d.result_type, FailureType::starttls_not_supported);
}

TEST(PostfixTlsLog, HandshakeFailure) {
  const FailureDetail d = single_failure(feed_all({
      line("SSL_connect error to mx1.example.com[192.0.2.10]:25: -1"),
      delivered(kMx1, "deferred (Cannot start TLS: handshake failure)"),
  }));
  EXPECT_EQ(d.result_type, FailureType::validation_failure);
  EXPECT_EQ(d.failure_reason_code, "SSL_connect error to mx1.example.com[192.0.2.10]:25: -1");
}

TEST(PostfixTlsLog, HandshakeFailureThenPlaintextDeliveryIsAFailedSession) {
  // At level may Postfix retries the same MX without TLS and delivers.
  const FailureDetail d = single_failure(feed_all({
      line("SSL_connect error to mx1.example.com[192.0.2.10]:25: lost connection"),
      delivered(kMx1, "sent (250 2.0.0 Ok)"),
  }));
  EXPECT_EQ(d.result_type, FailureType::validation_failure);
}

TEST(PostfixTlsLog, NonTlsFailureAfterGoodTlsIsASuccess) {
  const auto events =
      feed_all({established("Verified", kMx1),
                delivered(kMx1, "deferred (host mx1.example.com[192.0.2.10] said: 451 4.3.0 try later)"),
                delivered(kMx1, "bounced (host mx1.example.com[192.0.2.10] said: 550 5.1.1 unknown user)",
                          "bob@example.org", kPrefix, "5B6C7D8E9F")});
  // The second line belongs to no new session (no TLS line for it): one event only.
  ASSERT_EQ(events.size(), 1u);
  EXPECT_FALSE(events[0].failed);
}

TEST(PostfixTlsLog, GivenUpMxWaitsForTheRecipientLine) {
  PostfixTlsLogCorrelator log;
  // mx1 does not offer STARTTLS (not the last MX: a plain info line), mx2 works.
  auto events =
      feed_all(log, {line("4F2A31C0D2: TLS is required, but was not offered by host mx1.example.com[192.0.2.10]"),
                     established("Verified", kMx2)});
  EXPECT_TRUE(events.empty());
  events = feed_all(log, {delivered(kMx2, "sent (250 ok)")});
  ASSERT_EQ(events.size(), 2u);
  EXPECT_TRUE(events[0].failed);
  EXPECT_EQ(events[0].report_domain, "example.com");
  EXPECT_EQ(events[0].failure_details[0].result_type, FailureType::starttls_not_supported);
  EXPECT_EQ(events[0].failure_details[0].receiving_mx_hostname, "mx1.example.com");
  EXPECT_FALSE(events[1].failed);
  EXPECT_EQ(events[1].mx_hostname, "mx2.example.com");
}

TEST(PostfixTlsLog, GivenUpMxKeepsItsCertificateDetail) {
  const auto events = feed_all({
      line("server certificate verification failed for mx1.example.com[192.0.2.10]:25: num=62:hostname mismatch"),
      established("Trusted", kMx1),
      line("4F2A31C0D2: Server certificate not verified"),
      line("server certificate verification failed for mx2.example.com[2001:db8::11]:25: certificate has expired"),
      established("Untrusted", kMx2),
      delivered(kMx2, "deferred (Server certificate not trusted)"),
  });
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].failure_details[0].result_type, FailureType::certificate_host_mismatch);
  EXPECT_EQ(events[0].failure_details[0].receiving_mx_hostname, "mx1.example.com");
  EXPECT_EQ(events[0].failure_details[0].failure_reason_code, "num=62:hostname mismatch");
  EXPECT_EQ(events[1].failure_details[0].result_type, FailureType::certificate_expired);
  EXPECT_EQ(events[1].failure_details[0].receiving_ip, "2001:db8::11");
}

TEST(PostfixTlsLog, OneSessionForSeveralRecipients) {
  const auto events = feed_all({
      established("Verified", kMx1),
      delivered(kMx1, "sent (250 ok)", "alice@example.com"),
      delivered(kMx1, "sent (250 ok)", "bob@example.com"),
      delivered(kMx1, "sent (250 ok)", "carol@example.com"),
  });
  ASSERT_EQ(events.size(), 1u);
  const auto failed = feed_all({
      delivered(kMx1, "deferred (TLS is required, but was not offered by host mx1.example.com[192.0.2.10])",
                "a@example.com"),
      delivered(kMx1, "deferred (TLS is required, but was not offered by host mx1.example.com[192.0.2.10])",
                "b@example.com"),
  });
  EXPECT_EQ(failed.size(), 1u);
}

TEST(PostfixTlsLog, RepeatedRecipientWithoutTlsLinesIsANewSession) {
  // A message to a and b deferred because the MX offers no STARTTLS, retried at once by the
  // same smtp(8) process (postqueue -f): no TLS line separates the two sessions; that a
  // recipient comes again does (one session names each recipient once).
  constexpr std::string_view not_offered =
      "deferred (TLS is required, but was not offered by host mx1.example.com[192.0.2.10])";
  const std::string a = delivered(kMx1, not_offered, "a@example.com");
  const std::string b = delivered(kMx1, not_offered, "b@example.com");
  PostfixTlsLogCorrelator log;
  EXPECT_EQ(feed_all(log, {a, b}).size(), 1u);
  EXPECT_EQ(feed_all(log, {a, b}).size(), 1u);
  // The same address for another original recipient (orig_to) is another recipient.
  const std::string via_alias = line(
      "4F2A31C0D2: to=<a@example.com>, orig_to=<alias@local.example>, relay=mx1.example.com[192.0.2.10]:25, "
      "delay=1, delays=0/0/0/1, dsn=4.7.4, status=" + std::string(not_offered));
  EXPECT_EQ(feed_all(log, {via_alias}).size(), 0u);
  EXPECT_EQ(feed_all(log, {via_alias}).size(), 1u);
}

TEST(PostfixTlsLog, NextSessionOfTheSameProcessCountsAgain) {
  PostfixTlsLogCorrelator log;
  const auto events = feed_all(log, {
                                        established("Verified", kMx1),
                                        delivered(kMx1, "sent (250 ok)"),
                                        established("Verified", kMx1),
                                        delivered(kMx1, "sent (250 ok)", "dave@example.com", kPrefix, "6A7B8C9D0E"),
                                    });
  EXPECT_EQ(events.size(), 2u);
}

TEST(PostfixTlsLog, InterleavedProcesses) {
  const std::string p1 = "Mar  3 10:00:01 mail postfix/smtp[1111]: ";
  const std::string p2 = "Mar  3 10:00:01 mail postfix/smtp[2222]: ";
  const std::string other_host = "Mar  3 10:00:01 relay2 postfix/smtp[1111]: ";
  PostfixTlsLogCorrelator log;
  const auto events = feed_all(
      log,
      {
          line("server certificate verification failed for mx1.example.com[192.0.2.10]:25: certificate has expired",
               p1),
          established("Verified", "mx.example.org[198.51.100.5]", p2),
          established("Verified", kMx1, other_host),
          established("Untrusted", kMx1, p1),
          delivered("mx.example.org[198.51.100.5]", "sent (250 ok)", "erin@example.org", p2, "AAAA1"),
          delivered(kMx1, "sent (250 ok)", "frank@example.com", other_host, "BBBB2"),
          delivered(kMx1, "deferred (Server certificate not trusted)", "alice@example.com", p1, "CCCC3"),
      });
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].report_domain, "example.org");
  EXPECT_FALSE(events[0].failed);
  EXPECT_EQ(events[1].report_domain, "example.com");
  EXPECT_FALSE(events[1].failed);  // same PID, other syslog host: another process
  EXPECT_EQ(events[2].report_domain, "example.com");
  ASSERT_TRUE(events[2].failed);
  EXPECT_EQ(events[2].failure_details[0].result_type, FailureType::certificate_expired);
  EXPECT_EQ(log.tracked_processes(), 3u);
}

TEST(PostfixTlsLog, LinesWithoutTlsMeaningMakeNoEvent) {
  PostfixTlsLogCorrelator log;
  const auto events = feed_all(
      log,
      {
          // plaintext delivery without TLS lines
          delivered(kMx1, "sent (250 ok)"),
          // other delivery agents
          line("4F2A31C0D2: to=<bob@example.com>, relay=local, delay=0.1, delays=0/0/0/0.1, dsn=2.0.0, status=sent "
               "(delivered to mailbox)",
               "Mar  3 10:00:01 mail postfix/local[77]: "),
          // the SMTP server side
          line("Verified TLS connection established from client.example.net[203.0.113.9]: TLSv1.3 with cipher x",
               "Mar  3 10:00:01 mail postfix/smtpd[88]: "),
          line("connect to mx1.example.com[192.0.2.10]:25: Connection refused"),
          line("warning: TLS library problem: error:0A000086:SSL routines::certificate verify failed"),
          "-- Boot 1234 --",
          "",
          "not a syslog line [123] at all",
      });
  EXPECT_TRUE(events.empty());
  EXPECT_EQ(log.tracked_processes(), 0u);
}

TEST(PostfixTlsLog, DeferralsWithoutAConnectionAreNotSessions) {
  // After a failure Postfix suspends the destination and defers further mail to it
  // without connecting, quoting the old reason.
  const auto events = feed_all({
      line("5B6C7D8E9F: to=<bob@example.com>, relay=none, delay=0.01, delays=0.01/0/0/0, dsn=4.7.4, "
           "status=deferred (delivery temporarily suspended: TLS is required, but was not offered by host "
           "mx1.example.com[192.0.2.10])"),
  });
  EXPECT_TRUE(events.empty());
}

TEST(PostfixTlsLog, ReusedConnectionsAreNotReported) {
  const auto events = feed_all({
      line("Verified TLS connection reused to mx1.example.com[192.0.2.10]:25: TLSv1.3 with cipher x"),
      delivered(kMx1, "sent (250 ok)"),
  });
  EXPECT_TRUE(events.empty());
}

TEST(PostfixTlsLog, LocalAndLiteralRecipientsHaveNoReportDomain) {
  EXPECT_TRUE(feed_all({established("Verified", kMx1), delivered(kMx1, "sent (250 ok)", "root")}).empty());
  EXPECT_TRUE(feed_all({established("Verified", kMx1), delivered(kMx1, "sent (250 ok)", "a@[192.0.2.10]")}).empty());
}

TEST(PostfixTlsLog, RecipientDomainIsNormalised) {
  auto events = feed_all({established("Verified", kMx1), delivered(kMx1, "sent (250 ok)", "Alice@Example.COM.")});
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].report_domain, "example.com");
  events = feed_all({established("Verified", kMx1), delivered(kMx1, "sent (250 ok)",
                                                              "a@b\xc3\xbc"
                                                              "cher.example")});
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].report_domain, "xn--bcher-kva.example");
}

TEST(PostfixTlsLog, OrigToAndExtraFields) {
  const auto events = feed_all({
      established("Verified", kMx1),
      line("4F2A31C0D2: to=<alice@example.com>, orig_to=<alias@local.example>, relay=mx1.example.com[192.0.2.10]:25, "
           "conn_use=2, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)"),
  });
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].report_domain, "example.com");
}

TEST(PostfixTlsLog, SyslogPrefixFormats) {
  const std::string formats[] = {
      "Mar  3 10:00:01 mail postfix/smtp[1234]: ",                   // classic syslog
      "2024-03-03T10:00:01.123456+00:00 mail postfix/smtp[1234]: ",  // Debian 12 rsyslog (RFC 3339)
      "Mar 03 10:00:01 mail postfix/smtp[1234]: ",                   // journalctl short
      "Mar  3 10:00:01.123456 mail postfix/smtp[1234]: ",            // maillog_file
      "Mar  3 10:00:01 mail postfix-out/smtp[1234]: ",               // multi-instance
      "Mar  3 10:00:01 mail postfix/relay/smtp[1234]: ",             // service name
      "postfix/smtp[1234]: ",                                        // no timestamp, no host
  };
  for (const std::string& prefix : formats) {
    const auto events = feed_all({
        line("server certificate verification failed for mx1.example.com[192.0.2.10]:25: num=62:hostname mismatch",
             prefix),
        established("Trusted", kMx1, prefix),
        delivered(kMx1, "deferred (Server certificate not verified)", "alice@example.com", prefix) + "\r",
    });
    ASSERT_EQ(events.size(), 1u) << prefix;
    EXPECT_EQ(events[0].failure_details[0].result_type, FailureType::certificate_host_mismatch) << prefix;
  }
}

TEST(PostfixTlsLog, TagMustBeFollowedByColonAndSpace) {
  PostfixTlsLogCorrelator log;
  // "[1234]x" is not a tag; the real tag comes later on the line.
  const auto events =
      feed_all(log, {"Mar  3 host[1234]x postfix/smtp[99]: " + established("Verified", kMx1, ""),
                     delivered(kMx1, "sent (250 ok)", "alice@example.com", "Mar  3 host[1234]x postfix/smtp[99]: ")});
  EXPECT_EQ(events.size(), 1u);
}

TEST(PostfixTlsLog, LineLengthCap) {
  PostfixTlsLogCorrelator log;
  std::string long_line =
      line("4F2A31C0D2: to=<alice@example.com>, relay=x, status=sent (" + std::string(kMaxLogLineLength, 'x') + ")");
  auto r = log.feed(long_line);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().error, LogLineError::too_long);
  EXPECT_LE(r.error().detail.size(), 63u);

  std::string at_cap = line("x");
  at_cap += std::string(kMaxLogLineLength - at_cap.size(), 'y');
  EXPECT_TRUE(log.feed(at_cap).has_value());
}

TEST(PostfixTlsLog, UnparsableTlsLines) {
  for (const std::string& bad : {
           line("Verified TLS connection established to garbage"),
           line("Verified TLS connection established to mx1.example.com[192.0.2.10]"),  // no ": ..."
           line("certificate verification failed for mx1.example.com[]:25: x"),
           line("server certificate verification failed for [192.0.2.10]:25: x"),
           line("SSL_connect error to mx1.example.com:25: x"),
           line("4F2A31C0D2: to=<alice@example.com>, relay=mx1.example.com[192.0.2.10]:25, delay=1"),  // no status
           line("4F2A31C0D2: to=<alice@example.com, relay=x, status=sent"),                            // no ">"
           line("4F2A31C0D2: TLS is required, but was not offered by host somewhere"),
       }) {
    PostfixTlsLogCorrelator log;
    auto r = log.feed(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().error, LogLineError::unparsable) << bad;
  }
}

TEST(PostfixTlsLog, LongReasonsAreBounded) {
  const std::string issuer(1000, 'C');
  const FailureDetail d = single_failure(feed_all({
      line("certificate verification failed for mx1.example.com[192.0.2.10]:25: untrusted issuer /CN=" + issuer),
      established("Untrusted", kMx1),
      delivered(kMx1, "deferred (Server certificate not trusted)"),
  }));
  EXPECT_EQ(d.result_type, FailureType::certificate_not_trusted);
  EXPECT_LE(d.failure_reason_code.size(), 203u);
}

TEST(PostfixTlsLog, OldestProcessIsForgottenAtTheCap) {
  PostfixTlsLogCorrelator log(2);
  const std::string p1 = "mail postfix/smtp[1]: ";
  const std::string p2 = "mail postfix/smtp[2]: ";
  const std::string p3 = "mail postfix/smtp[3]: ";
  auto events = feed_all(log, {established("Verified", kMx1, p1), established("Verified", kMx1, p2),
                               established("Verified", kMx1, p2), established("Verified", kMx1, p3)});
  EXPECT_EQ(log.tracked_processes(), 2u);
  EXPECT_EQ(log.stats().forgotten_processes, 1u);
  events = feed_all(log, {delivered(kMx1, "sent (250 ok)", "a@example.com", p1),
                          delivered(kMx1, "sent (250 ok)", "b@example.com", p2),
                          delivered(kMx1, "sent (250 ok)", "c@example.com", p3)});
  ASSERT_EQ(events.size(), 2u);  // process 1 was forgotten
  EXPECT_EQ(events[0].report_domain, "example.com");
}

TEST(PostfixTlsLog, UnattributedAttemptsAreCounted) {
  PostfixTlsLogCorrelator log;
  feed_all(log, {line("AAAA1: TLS is required, but was not offered by host mx1.example.com[192.0.2.10]"),
                 line("BBBB2: TLS is required, but was not offered by host mx1.example.com[192.0.2.10]")});
  EXPECT_EQ(log.stats().unattributed_attempts, 1u);  // AAAA1's never got a recipient line
  const auto events = feed_all(
      log, {delivered(kMx1, "deferred (TLS is required, but was not offered by host mx1.example.com[192.0.2.10])",
                      "a@example.com", kPrefix, "BBBB2")});
  EXPECT_EQ(events.size(), 2u);  // the given-up first attempt and the final one
}

TEST(PostfixTlsLog, ClosedAttemptsPerDeliveryAreCapped) {
  PostfixTlsLogCorrelator log;
  for (std::size_t i = 0; i < kMaxClosedAttempts + 3; ++i)
    feed_all(log, {line("AAAA1: TLS is required, but was not offered by host mx1.example.com[192.0.2.10]")});
  EXPECT_EQ(log.stats().unattributed_attempts, 3u);
  const auto events = feed_all(
      log, {established("Verified", kMx2), delivered(kMx2, "sent (250 ok)", "a@example.com", kPrefix, "AAAA1")});
  EXPECT_EQ(events.size(), kMaxClosedAttempts + 1);
}

}  // namespace postfix_tls_log_test
}  // namespace mtastsd::core

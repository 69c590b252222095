// Postfix <= 3.9 mail log lines (smtp_tls_loglevel = 1) turned into TLS session
// events, for Postfix versions that cannot send libtlsrpt datagrams.
//
// The smtp(8) client logs a session's TLS outcome without a queue id, so lines are
// correlated per process (syslog host + tag + PID): the outcome lines
//   [server |CA ]certificate verification failed for HOST[ADDR]:PORT: REASON
//   SSL_connect error to HOST[ADDR]:PORT: REASON
//   (Anonymous|Untrusted|Trusted|Verified) TLS connection established to HOST[ADDR]:PORT: ...
// are remembered until the session ends with either
//   QUEUEID: to=<RCPT>, ..., relay=HOST[ADDR]:PORT, ..., status=STATUS (REASON)
// (the final MX tried: one event, for the recipient's domain), or, when Postfix
// gives up on one MX and tries the next, a line
//   QUEUEID: TLS is required, but was not offered by host HOST[ADDR]
//   QUEUEID: Server certificate not trusted | Server certificate not verified | ...
// whose event waits for that queue id's recipient line (the only line naming the
// domain). The same reasons inside the final status=deferred/bounced (...) count too.
//
// Result types: hostname mismatch -> certificate-host-mismatch; expired ->
// certificate-expired; untrusted issuer, self-signed, unable to get (local)
// issuer, not trusted -> certificate-not-trusted; STARTTLS not offered or refused
// -> starttls-not-supported; anything else -> validation-failure. A TLS session
// Postfix went on with is a success (its TLS level accepted it).
//
// Limits, by design:
//  - Events carry PolicyType::unknown and no TLSRPT record: a log does not say
//    which policy applied. The aggregator resolves both (its own policy cache,
//    a _smtp._tls lookup) before counting.
//  - Sessions without any TLS line (plaintext delivery, TLS level none) and
//    connections reused through tlsproxy ("TLS connection reused") make no event:
//    the log cannot tell why, and Postfix's own TLSRPT support reports handshakes only.
//  - sending-mta-ip and receiving-mx-helo are not in the log and stay empty.
//  - A session delivering to several recipients counts once, under the domain of
//    the first recipient line. A session without TLS lines (STARTTLS not offered)
//    is told from the next one of the same message by the same process (a retry
//    at once, e.g. after postqueue -f) only by a recipient (to= and orig_to=)
//    named again; at most kMaxSessionRecipients are remembered per session.
//  - Memory: at most max_processes processes are tracked (least recently seen
//    forgotten first), at most kMaxClosedAttempts per process; lines longer than
//    kMaxLogLineLength are rejected whole.
// Syslog prefixes are not interpreted beyond finding the "TAG[PID]: " token, so
// the classic "Mon DD HH:MM:SS host", RFC 3339 timestamps (Debian 12 rsyslog),
// Postfix's maillog_file and journalctl's short formats all work, and so does any
// service name (postfix/smtp, postfix-out/smtp, postfix/relay/smtp, ...).
#pragma once
#include <cstddef>
#include <cstdint>
#include <expected>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>
#include "core/session_event.hpp"

namespace mtastsd::core {

// Our cap: Postfix's own records are far shorter (a status line carries at most a
// remote reply), so longer input is not a Postfix log line.
inline constexpr std::size_t kMaxLogLineLength = 8192;
inline constexpr std::size_t kDefaultMaxTrackedProcesses = 4096;
// Ended attempts of one delivery awaiting its recipient line; Postfix tries at most
// smtp_mx_address_limit (default 5) addresses per delivery.
inline constexpr std::size_t kMaxClosedAttempts = 16;
// Recipients remembered of the last session per process; Postfix sends at most
// smtp_destination_recipient_limit (default 50) per session.
inline constexpr std::size_t kMaxSessionRecipients = 256;

enum class LogLineError {
  too_long,    // longer than kMaxLogLineLength
  unparsable,  // a TLS or delivery line whose fields cannot be read
};
std::string_view to_string(LogLineError e);

struct LogLineFailure {
  LogLineError error;
  std::string detail;  // printable excerpt
};

struct PostfixLogStats {
  std::uint64_t forgotten_processes = 0;    // dropped to stay within max_processes
  std::uint64_t unattributed_attempts = 0;  // ended attempts dropped before a recipient line named their domain
};

class PostfixTlsLogCorrelator {
 public:
  explicit PostfixTlsLogCorrelator(std::size_t max_processes = kDefaultMaxTrackedProcesses);

  // One log line, without its line end (a trailing CR is ignored). Returns the
  // sessions this line completes: usually none, one for a session's final status
  // line, more when earlier MX attempts of the same delivery were waiting for it.
  // Lines from other programs or without TLS meaning are accepted and return none.
  std::expected<std::vector<SessionEvent>, LogLineFailure> feed(std::string_view line);

  std::size_t tracked_processes() const { return index_.size(); }
  const PostfixLogStats& stats() const { return stats_; }

 private:
  struct Peer {
    std::string host;
    std::string addr;
    bool operator==(const Peer&) const = default;
  };
  struct TlsFailure {
    FailureType type;
    std::string reason;  // Postfix's words, printable and bounded: the failure-reason-code
  };
  struct Attempt {  // the connection to one MX address being made
    Peer peer;
    bool established = false;
    std::optional<TlsFailure> failure;
  };
  struct ClosedAttempt {  // an MX attempt Postfix gave up on, waiting for the recipient line
    Peer peer;
    TlsFailure failure;
  };
  struct ReportedSession {  // the last session reported, so further recipients of it do not count it again
    std::string queue_id;
    Peer peer;
    std::vector<std::size_t> recipients;  // hashes of the recipients named so far (a repeat: a new session)
  };
  struct Process {
    std::optional<Attempt> current;
    std::string closed_queue_id;
    std::vector<ClosedAttempt> closed;
    std::optional<ReportedSession> reported;
  };
  struct Entry {
    std::string key;
    Process process;
  };

  Process* find(const std::string& key);
  Process& find_or_create(const std::string& key);

  void on_tls_outcome(Process& p, const Peer& peer, bool established, std::optional<TlsFailure> failure);
  void on_attempt_given_up(Process& p, std::string_view queue_id, std::optional<Peer> named_peer, TlsFailure failure);
  std::vector<SessionEvent> on_delivery(const std::string& key, std::string_view queue_id, std::string_view recipient,
                                        const std::string& domain, std::optional<Peer> relay,
                                        std::optional<TlsFailure> tls_failure);

  std::size_t max_processes_;
  std::list<Entry> lru_;  // most recently seen first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  PostfixLogStats stats_;
};

}  // namespace mtastsd::core

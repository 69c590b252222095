// Postfix smtp(8) TLS log lines -> SessionEvents. The texts matched here are
// Postfix's: tls_misc.c (connection summary), tls_verify.c (verification
// failures), tls_client.c (SSL_connect errors), smtp_proto.c (the 4.7.x reasons a
// TLS-requiring session ends with) and the delivery status lines of smtp(8).
#include "core/postfix_tls_log.hpp"

#include <algorithm>
#include <array>
#include <functional>
#include <utility>

#include "core/host_name.hpp"
#include "core/next_hop.hpp"
#include "util/ascii.hpp"
#include "util/printable.hpp"

namespace mtastsd::core {
namespace {

constexpr std::size_t kMaxTagLength = 128;  // "postfix-instance/service/smtp": far shorter
constexpr std::size_t kMaxPidDigits = 10;
constexpr std::size_t kMaxReasonLength = 200;  // failure-reason-code taken from the log

std::string_view after(std::string_view s, std::string_view prefix) { return s.substr(prefix.size()); }

// "...host TAG[PID]: message" -> key "host TAG[PID]" and the message.
struct SyslogLine {
  std::string key;
  std::string_view message;
};

std::optional<SyslogLine> split_syslog(std::string_view line) {
  for (std::size_t open = line.find('['); open != std::string_view::npos; open = line.find('[', open + 1)) {
    std::size_t tag_start = open;
    while (tag_start > 0 && !util::is_wsp(line[tag_start - 1]) && open - tag_start < kMaxTagLength) --tag_start;
    if (tag_start == open || (tag_start > 0 && !util::is_wsp(line[tag_start - 1]))) continue;
    std::size_t close = open + 1;
    while (close < line.size() && util::is_digit(line[close]) && close - open <= kMaxPidDigits) ++close;
    if (close == open + 1 || line.substr(close, 2) != "]:") continue;
    const std::size_t message_start = close + 2;
    if (message_start < line.size() && line[message_start] != ' ') continue;

    // The word before the tag is the logging host in every syslog format that has one.
    std::size_t host_end = tag_start;
    while (host_end > 0 && util::is_wsp(line[host_end - 1])) --host_end;
    std::size_t host_start = host_end;
    while (host_start > 0 && !util::is_wsp(line[host_start - 1])) --host_start;

    SyslogLine out;
    out.key = std::string(line.substr(host_start, host_end - host_start)) + " " +
              std::string(line.substr(tag_start, close + 1 - tag_start));
    out.message = message_start < line.size() ? line.substr(message_start + 1) : std::string_view();
    return out;
  }
  return std::nullopt;
}

// "HOST[ADDR]" at the start of s; `rest` is what follows "]".
struct PeerText {
  std::string host;
  std::string addr;
  std::string_view rest;
};

std::optional<PeerText> parse_peer(std::string_view s) {
  const std::size_t open = s.find('[');
  if (open == 0 || open == std::string_view::npos) return std::nullopt;
  const std::string_view host = s.substr(0, open);
  if (std::ranges::any_of(host, [](char c) { return util::is_wsp(c) || c == ',' || c == ']'; })) return std::nullopt;
  const std::size_t close = s.find(']', open);
  if (close == std::string_view::npos || close == open + 1) return std::nullopt;
  const std::string_view addr = s.substr(open + 1, close - open - 1);
  if (std::ranges::any_of(addr, util::is_wsp)) return std::nullopt;
  return PeerText{ascii_lowercase(host), std::string(addr), s.substr(close + 1)};
}

// After "HOST[ADDR]": an optional ":PORT", then ": TEXT". Returns TEXT.
std::optional<std::string_view> text_after_port(std::string_view rest) {
  if (rest.starts_with(':')) {
    std::size_t i = 1;
    while (i < rest.size() && util::is_digit(rest[i])) ++i;
    if (i > 1) rest.remove_prefix(i);
  }
  if (!rest.starts_with(": ")) return std::nullopt;
  return rest.substr(2);
}

std::string bounded_reason(std::string_view reason) { return util::printable_excerpt(reason, kMaxReasonLength); }

bool contains_any(std::string_view text, std::initializer_list<std::string_view> needles) {
  return std::ranges::any_of(needles, [&](std::string_view n) { return text.find(n) != std::string_view::npos; });
}

// tls_log_verify_error() wording, including OpenSSL's X509_verify_cert_error_string()
// texts behind "num=N:" (both "self-signed" and the older "self signed" spelling).
FailureType classify_certificate_failure(std::string_view reason) {
  const std::string text = ascii_lowercase(reason);
  if (text.find("hostname mismatch") != std::string::npos) return FailureType::certificate_host_mismatch;
  if (text.find("certificate has expired") != std::string::npos) return FailureType::certificate_expired;
  if (contains_any(text, {"untrusted issuer", "self-signed certificate", "self signed certificate",
                          "unable to get local issuer certificate", "unable to get issuer certificate",
                          "unable to verify the first certificate", "not trusted by local or tlsa policy",
                          "certificate not trusted"}))
    return FailureType::certificate_not_trusted;
  return FailureType::validation_failure;
}

// The reasons smtp_proto.c ends a session with when TLS is required but fails
// (4.7.4 / 4.7.5); anything else is not a TLS failure.
std::optional<FailureType> classify_session_reason(std::string_view reason) {
  if (reason.starts_with("TLS is required, but was not offered by host ")) return FailureType::starttls_not_supported;
  if (reason.starts_with("TLS is required, but host ") &&
      reason.find(" refused to start TLS") != std::string_view::npos)
    return FailureType::starttls_not_supported;
  if (reason.starts_with("Server certificate not trusted")) return FailureType::certificate_not_trusted;
  if (reason.starts_with("Server certificate not verified")) return FailureType::certificate_host_mismatch;
  if (reason.starts_with("Cannot start TLS: handshake failure")) return FailureType::validation_failure;
  return std::nullopt;
}

// "QUEUEID: text": Postfix queue ids are letters and digits.
std::optional<std::pair<std::string_view, std::string_view>> split_queue_id(std::string_view message) {
  const std::size_t colon = message.find(": ");
  if (colon == 0 || colon == std::string_view::npos) return std::nullopt;
  const std::string_view id = message.substr(0, colon);
  if (!std::ranges::all_of(id, util::is_alnum)) return std::nullopt;
  return std::pair{id, message.substr(colon + 2)};
}

// The value of ", NAME=" up to the next ", " (or the end).
std::optional<std::string_view> field_value(std::string_view text, std::string_view name) {
  const std::string needle = ", " + std::string(name) + "=";
  const std::size_t at = text.find(needle);
  if (at == std::string_view::npos) return std::nullopt;
  const std::string_view value = text.substr(at + needle.size());
  return value.substr(0, value.find(", "));
}

struct DeliveryLine {
  std::string_view recipient;
  std::string_view orig_to;  // "" when not logged
  std::string_view relay;
  std::string_view status;
  std::string_view reason;  // inside the final "(...)", if any
};

std::optional<DeliveryLine> parse_delivery(std::string_view text) {
  DeliveryLine out;
  text.remove_prefix(4);  // "to=<"
  const std::size_t end = text.find(">,");
  if (end == std::string_view::npos) return std::nullopt;
  out.recipient = text.substr(0, end);
  const std::string_view fields = text.substr(end + 1);
  const auto relay = field_value(fields, "relay");
  const std::size_t status_at = fields.find(", status=");
  if (!relay || status_at == std::string_view::npos) return std::nullopt;
  out.relay = *relay;
  out.orig_to = field_value(fields, "orig_to").value_or("");
  std::string_view status = fields.substr(status_at + 9);
  const std::size_t space = status.find(' ');
  out.status = status.substr(0, space);
  if (space != std::string_view::npos) {
    std::string_view reason = status.substr(space + 1);
    if (reason.starts_with('(') && reason.ends_with(')')) out.reason = reason.substr(1, reason.size() - 2);
  }
  return out;
}

// The recipient's domain as a report domain: lowercase A-label, no trailing dot.
std::optional<std::string> recipient_domain(std::string_view recipient) {
  const std::size_t at = recipient.rfind('@');
  if (at == std::string_view::npos) return std::nullopt;
  const NextHop hop = normalize_next_hop(recipient.substr(at + 1));
  if (hop.kind != NextHopKind::domain) return std::nullopt;
  return hop.domain;
}

std::unexpected<LogLineFailure> unparsable(std::string_view line) {
  return std::unexpected(LogLineFailure{LogLineError::unparsable, util::printable_excerpt(line)});
}

constexpr std::array<std::string_view, 4> kTrustLevels = {"Anonymous ", "Untrusted ", "Trusted ", "Verified "};
constexpr std::string_view kEstablished = "TLS connection established to ";
constexpr std::string_view kReused = "TLS connection reused to ";
constexpr std::string_view kVerifyFailed = "certificate verification failed for ";
constexpr std::string_view kSslConnectError = "SSL_connect error to ";
constexpr std::string_view kNotOffered = "TLS is required, but was not offered by host ";
constexpr std::string_view kRefused = "TLS is required, but host ";

}  // namespace

std::string_view to_string(LogLineError e) {
  switch (e) {
    case LogLineError::too_long: return "log line too long";
    case LogLineError::unparsable: return "unparsable log line";
  }
  return "bad log line";
}

PostfixTlsLogCorrelator::PostfixTlsLogCorrelator(std::size_t max_processes)
    : max_processes_(std::max<std::size_t>(max_processes, 1)) {}

PostfixTlsLogCorrelator::Process* PostfixTlsLogCorrelator::find(const std::string& key) {
  const auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return &it->second->process;
}

PostfixTlsLogCorrelator::Process& PostfixTlsLogCorrelator::find_or_create(const std::string& key) {
  if (Process* p = find(key)) return *p;
  if (index_.size() >= max_processes_) {
    Entry& oldest = lru_.back();
    stats_.unattributed_attempts += oldest.process.closed.size();
    ++stats_.forgotten_processes;
    index_.erase(oldest.key);
    lru_.pop_back();
  }
  lru_.push_front(Entry{key, Process{}});
  index_.emplace(key, lru_.begin());
  return lru_.front().process;
}

void PostfixTlsLogCorrelator::on_tls_outcome(Process& p, const Peer& peer, bool established,
                                             std::optional<TlsFailure> failure) {
  p.reported.reset();
  if (!p.current || p.current->peer != peer) p.current = Attempt{peer, false, std::nullopt};
  p.current->established = p.current->established || established;
  // The first specific reason wins; a later one may only refine a generic validation failure.
  if (failure && (!p.current->failure || p.current->failure->type == FailureType::validation_failure))
    p.current->failure = std::move(failure);
}

void PostfixTlsLogCorrelator::on_attempt_given_up(Process& p, std::string_view queue_id, std::optional<Peer> named_peer,
                                                  TlsFailure failure) {
  const bool same_attempt = p.current && (!named_peer || p.current->peer == *named_peer);
  ClosedAttempt closed{named_peer ? *named_peer : (same_attempt ? p.current->peer : Peer{}), std::move(failure)};
  // A certificate line seen for this attempt says more than "not trusted"/"not verified".
  if (same_attempt && p.current->failure) closed.failure = *p.current->failure;
  p.current.reset();
  p.reported.reset();
  if (p.closed_queue_id != queue_id) {
    stats_.unattributed_attempts += p.closed.size();
    p.closed.clear();
    p.closed_queue_id = queue_id;
  }
  if (p.closed.size() < kMaxClosedAttempts)
    p.closed.push_back(std::move(closed));
  else
    ++stats_.unattributed_attempts;
}

std::vector<SessionEvent> PostfixTlsLogCorrelator::on_delivery(const std::string& key, std::string_view queue_id,
                                                               std::string_view recipient, const std::string& domain,
                                                               std::optional<Peer> relay,
                                                               std::optional<TlsFailure> tls_failure) {
  const auto make_event = [&](const Peer& peer, const std::optional<TlsFailure>& failure) {
    SessionEvent e;
    e.report_domain = domain;
    e.policy.type = PolicyType::unknown;
    e.policy.domain = domain;
    e.mx_hostname = peer.host;
    if (failure) {
      e.failed = true;
      FailureDetail d;
      d.result_type = failure->type;
      d.receiving_mx_hostname = peer.host;
      d.receiving_ip = peer.addr;
      d.failure_reason_code = failure->reason;
      e.failure_details.push_back(std::move(d));
    }
    return e;
  };

  std::vector<SessionEvent> events;
  Process* p = find(key);
  if (p && !p->closed.empty() && p->closed_queue_id == queue_id) {
    for (const ClosedAttempt& c : p->closed) events.push_back(make_event(c.peer, c.failure));
    p->closed.clear();
    p->closed_queue_id.clear();
  }
  // A hash stands for the recipient (memory stays small; a collision of two recipients of
  // one session would count a session twice, at odds of 2^-64).
  const std::size_t recipient_hash = std::hash<std::string_view>{}(recipient);
  if (p && p->reported && p->reported->queue_id == queue_id && p->reported->peer == relay.value_or(Peer{})) {
    std::vector<std::size_t>& named = p->reported->recipients;
    if (std::ranges::find(named, recipient_hash) == named.end()) {  // another recipient: the same session
      if (named.size() < kMaxSessionRecipients) named.push_back(recipient_hash);
      return events;
    }
  }

  if (p && p->current && relay && p->current->peer == *relay) {
    const Attempt attempt = std::move(*p->current);
    p->current.reset();
    std::optional<TlsFailure> failure;
    if (tls_failure)
      failure = attempt.failure ? attempt.failure : tls_failure;
    else if (!attempt.established)
      failure = attempt.failure;  // the handshake failed and Postfix went on without TLS
    events.push_back(make_event(attempt.peer, failure));
  } else {
    if (p) p->current.reset();  // an attempt to another peer ended without a status line: stale
    if (!tls_failure) return events;
    events.push_back(make_event(relay.value_or(Peer{}), tls_failure));
    p = &find_or_create(key);
  }
  p->reported = ReportedSession{std::string(queue_id), relay.value_or(Peer{}), {recipient_hash}};
  return events;
}

std::expected<std::vector<SessionEvent>, LogLineFailure> PostfixTlsLogCorrelator::feed(std::string_view line) {
  if (line.size() > kMaxLogLineLength)
    return std::unexpected(LogLineFailure{LogLineError::too_long, util::printable_excerpt(line, 60)});
  if (line.ends_with('\r')) line.remove_suffix(1);
  const auto syslog = split_syslog(line);
  if (!syslog) return std::vector<SessionEvent>{};
  std::string_view message = syslog->message;

  // Connection summary: "<trust> TLS connection established|reused to HOST[ADDR]:PORT: ..."
  for (const std::string_view trust : kTrustLevels) {
    if (!message.starts_with(trust)) continue;
    const std::string_view what = after(message, trust);
    const bool established = what.starts_with(kEstablished);
    if (!established && !what.starts_with(kReused)) break;
    const auto peer = parse_peer(after(what, established ? kEstablished : kReused));
    if (!peer || !text_after_port(peer->rest)) return unparsable(line);
    if (established) {
      on_tls_outcome(find_or_create(syslog->key), Peer{peer->host, peer->addr}, true, std::nullopt);
    } else if (Process* p = find(syslog->key)) {
      p->current.reset();  // no handshake, nothing to report (see the header)
      p->reported.reset();
    }
    return std::vector<SessionEvent>{};
  }

  // "[server |CA |client ]certificate verification failed for HOST[ADDR]:PORT: REASON"
  if (const std::size_t at = message.find(kVerifyFailed);
      at != std::string_view::npos && (at == 0 || message.substr(0, at).find(' ') == at - 1)) {
    const auto peer = parse_peer(message.substr(at + kVerifyFailed.size()));
    const auto reason = peer ? text_after_port(peer->rest) : std::nullopt;
    if (!reason) return unparsable(line);
    on_tls_outcome(find_or_create(syslog->key), Peer{peer->host, peer->addr}, false,
                   TlsFailure{classify_certificate_failure(*reason), bounded_reason(*reason)});
    return std::vector<SessionEvent>{};
  }

  // "SSL_connect error to HOST[ADDR]:PORT: REASON": the handshake itself failed.
  if (message.starts_with(kSslConnectError)) {
    const auto peer = parse_peer(after(message, kSslConnectError));
    const auto reason = peer ? text_after_port(peer->rest) : std::nullopt;
    if (!reason) return unparsable(line);
    on_tls_outcome(find_or_create(syslog->key), Peer{peer->host, peer->addr}, false,
                   TlsFailure{FailureType::validation_failure, bounded_reason(message)});
    return std::vector<SessionEvent>{};
  }

  const auto queued = split_queue_id(message);
  if (!queued) return std::vector<SessionEvent>{};
  const auto [queue_id, text] = *queued;

  if (text.starts_with("to=<")) {
    const auto delivery = parse_delivery(text);
    if (!delivery) return unparsable(line);
    const auto domain = recipient_domain(delivery->recipient);
    if (!domain) return std::vector<SessionEvent>{};  // local or literal recipient: no report domain
    std::optional<Peer> relay;
    if (const auto peer = parse_peer(delivery->relay)) relay = Peer{peer->host, peer->addr};
    std::optional<TlsFailure> tls_failure;
    if (delivery->status != "sent")
      if (const auto type = classify_session_reason(delivery->reason))
        tls_failure = TlsFailure{*type, bounded_reason(delivery->reason)};
    if (!relay && tls_failure && delivery->reason.starts_with(kNotOffered))
      if (const auto peer = parse_peer(after(delivery->reason, kNotOffered))) relay = Peer{peer->host, peer->addr};
    // to= and orig_to= together name a recipient (cleanup(8) keeps both apart).
    const std::string recipient = std::string(delivery->recipient) + '\n' + std::string(delivery->orig_to);
    return on_delivery(syslog->key, queue_id, recipient, *domain, relay, std::move(tls_failure));
  }

  // An MX attempt given up before the next one is tried (the reason is the whole text).
  const auto type = classify_session_reason(text);
  if (!type) return std::vector<SessionEvent>{};
  std::optional<Peer> named_peer;
  if (text.starts_with(kNotOffered) || text.starts_with(kRefused)) {
    const auto peer = parse_peer(after(text, text.starts_with(kNotOffered) ? kNotOffered : kRefused));
    if (!peer) return unparsable(line);
    named_peer = Peer{peer->host, peer->addr};
  }
  on_attempt_given_up(find_or_create(syslog->key), queue_id, std::move(named_peer),
                      TlsFailure{*type, bounded_reason(text)});
  return std::vector<SessionEvent>{};
}

}  // namespace mtastsd::core

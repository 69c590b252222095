// Postfix log lines -> sessions with their TLSRPT record; see the header.
#include "daemon/postfix_log_sessions.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include "core/host_name.hpp"
#include "core/tlsrpt_record.hpp"
#include "io/dns_rdata.hpp"

namespace mtastsd::daemon {

PostfixLogSessions::PostfixLogSessions(boost::asio::any_io_executor ex, io::DnsResolver& dns, io::TlsrptStore& store,
                                       TlsrptAggregator& aggregator, util::NowFn now)
    : ex_(ex),
      dns_(dns),
      store_(store),
      aggregator_(aggregator),
      now_(std::move(now)),
      malformed_(ex, "unreadable Postfix log line"),
      dropped_(ex, "Postfix log session dropped"),
      alive_(std::make_shared<bool>(true)) {}

PostfixLogSessions::~PostfixLogSessions() { *alive_ = false; }

void PostfixLogSessions::feed(std::string_view line) {
  ++stats_.lines;
  auto sessions = correlator_.feed(line);
  if (!sessions) {
    malformed_.note(fmt::format("{}: {}", core::to_string(sessions.error().error), sessions.error().detail));
    return;
  }
  for (core::SessionEvent& session : *sessions) {
    ++stats_.sessions;
    complete(std::move(session));
  }
}

void PostfixLogSessions::complete(core::SessionEvent session) {
  const std::string domain = core::ascii_lowercase(session.report_domain);
  // Not a domain to look up; the aggregator refuses and reports it.
  if (!core::is_host_name(domain)) return aggregator_.add(std::move(session));

  if (auto waiting = waiting_.find(domain); waiting == waiting_.end()) {
    auto cached = store_.get_record(domain);
    if (!cached) spdlog::warn("TLS-RPT: {}", cached.error().detail);  // looked up again below
    if (cached && *cached && (*cached)->until > now_()) {
      if ((*cached)->record.empty()) {
        ++stats_.no_tlsrpt;
        return;
      }
      session.tlsrpt_record = std::move((*cached)->record);
      return aggregator_.add(std::move(session));
    }
  }
  if (waiting_count_ >= kMaxWaitingSessions) {
    ++stats_.overflow;
    dropped_.note(fmt::format("{}: {} sessions already wait for TLSRPT lookups", domain, waiting_count_));
    return;
  }
  auto [waiting, first] = waiting_.try_emplace(domain);
  waiting->second.push_back(std::move(session));
  ++waiting_count_;
  if (first) boost::asio::co_spawn(ex_, look_up(domain), boost::asio::detached);
}

boost::asio::awaitable<void> PostfixLogSessions::look_up(std::string domain) {
  const auto alive = alive_;
  auto answer = co_await dns_.query("_smtp._tls." + domain, io::rrtype::txt);
  if (!*alive) co_return;
  const io::CachedTlsrptRecord found = lookup_result(domain, answer);
  if (auto stored = store_.put_record(domain, found); !stored) spdlog::warn("TLS-RPT: {}", stored.error().detail);
  auto waiting = waiting_.extract(domain);
  if (!waiting) co_return;
  waiting_count_ -= waiting.mapped().size();
  for (core::SessionEvent& session : waiting.mapped()) {
    if (found.record.empty()) {
      ++stats_.no_tlsrpt;
      continue;
    }
    session.tlsrpt_record = found.record;
    aggregator_.add(std::move(session));
  }
}

io::CachedTlsrptRecord PostfixLogSessions::lookup_result(const std::string& domain,
                                                         const std::expected<io::DnsAnswer, io::DnsError>& answer) {
  const util::TimePoint now = now_();
  if (!answer) {
    spdlog::debug("TLS-RPT: TXT _smtp._tls.{}: {} ({})", domain, io::to_string(answer.error().kind),
                  answer.error().detail);
    return {"", now + kRecordDnsErrorRetry};
  }
  const util::TimePoint until =
      now + std::clamp<util::Seconds>(util::Seconds(answer->ttl), kRecordTtlMin, kRecordTtlMax);
  if (answer->rcode != io::DnsRcode::noerror || answer->records.empty()) return {"", until};
  auto selected = core::select_tlsrpt_record(answer->records);
  if (!selected) {
    spdlog::debug("TLS-RPT: TXT _smtp._tls.{}: {}: {}", domain, core::to_string(selected.error().error),
                  selected.error().detail);
    return {"", until};
  }
  // The one record that starts with v=TLSRPTv1, as published: sessions carry it
  // the way libtlsrpt datagrams carry Postfix's.
  for (const std::string& txt : answer->records)
    if (core::parse_tlsrpt_record(txt)) return {txt, until};
  return {"", until};
}

}  // namespace mtastsd::daemon

// mtastsctl report send / report status; see the header.
#include "ctl/report_commands.hpp"

#include <iostream>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include "core/next_hop.hpp"
#include "ctl/exit_status.hpp"
#include "daemon/report_dispatch.hpp"
#include "io/dns_resolver.hpp"
#include "io/report_outbox.hpp"
#include "io/report_sender.hpp"
#include "io/store_env.hpp"

namespace asio = boost::asio;

namespace mtastsd::ctl {
namespace {

// Attempts run one after another here: each is claimed just before it starts, so that its
// lease (daemon::claim_rules) covers it and not the wait for the ones before it.
constexpr std::size_t kClaimBatch = 1;

std::optional<core::UtcDay> parse_day(const std::string& text) {
  auto day = core::UtcDay::parse(text);
  if (!day) std::cerr << "mtastsctl: '" << text << "' is not a day (YYYY-MM-DD)\n";
  return day;
}

std::shared_ptr<io::StoreEnv> open_env(const daemon::Config& config, bool read_only) {
  auto env = io::StoreEnv::open({config.state_dir + "/cache", config.cache_map_size, read_only});
  if (!env) {
    std::cerr << "mtastsctl: cannot open the cache in " << config.state_dir << "/cache: " << env.error().detail << "\n";
    return nullptr;
  }
  return *env;
}

std::unique_ptr<io::ReportOutbox> open_outbox(const std::shared_ptr<io::StoreEnv>& env) {
  auto outbox = io::ReportOutbox::open(env);
  if (!outbox) {
    std::cerr << "mtastsctl: cannot open the report queue: " << outbox.error().detail << "\n";
    return nullptr;
  }
  return std::move(*outbox);
}

std::string when(const std::optional<util::TimePoint>& t) { return t ? util::format_utc(*t) : "-"; }

nlohmann::ordered_json entry_json(const io::StoredEntry& s) {
  const core::OutboxEntry& e = s.entry;
  nlohmann::ordered_json j{
      {"day", s.key.day.day.to_string()},
      {"domain", s.key.day.report_domain},
      {"rua", e.rua},
      {"report_id", e.report.report_id},
      {"state", core::to_string(e.state)},
      {"attempts", e.attempts},
      {"planned", util::format_utc(e.planned_at)},
      {"first_attempt", e.first_attempt ? nlohmann::ordered_json(util::format_utc(*e.first_attempt)) : nullptr},
      {"next_attempt", core::next_attention(e) ? nlohmann::ordered_json(when(core::next_attention(e))) : nullptr},
      {"finished", e.finished_at ? nlohmann::ordered_json(util::format_utc(*e.finished_at)) : nullptr},
      {"last_result", e.last_result},
  };
  if (e.state == core::OutboxState::sending) j["claimed_by"] = e.claimed_by;
  return j;
}

}  // namespace

int report_send(const daemon::Config& config, const std::string& day_text, const std::string& domain_text,
                bool resend, bool as_json) {
  const auto day = parse_day(day_text);
  if (!day) return kExitError;
  io::OutboxFilter filter{*day, std::nullopt};
  if (!domain_text.empty()) {
    const core::NextHop hop = core::normalize_next_hop(domain_text);
    if (hop.kind != core::NextHopKind::domain) {
      std::cerr << "mtastsctl: '" << domain_text << "' is not a domain name\n";
      return kExitError;
    }
    filter.domain = hop.domain;
  }
  const daemon::TlsRptSettings& t = config.tlsrpt;
  const util::TimePoint now = util::system_now();
  if (*day >= core::UtcDay::containing(now)) {
    std::cerr << "mtastsctl: " << day->to_string() << " is not over yet (UTC); its reports cover the whole day\n";
    return kExitError;
  }
  if (!daemon::has_report_origin(t)) {
    std::cerr << "mtastsctl: reports need tlsrpt.organization_name, tlsrpt.contact_info and tlsrpt.submitter in "
              << config.source << "\n";
    return kExitError;
  }
  auto env = open_env(config, false);
  if (!env) return kExitError;
  auto outbox = open_outbox(env);
  if (!outbox) return kExitError;

  // The sender checks its settings (DKIM key, CA files) like the daemon at start-up.
  asio::io_context io(1);
  std::unique_ptr<io::DnsResolver> dns;
  std::unique_ptr<io::ReportSender> sender;
  try {
    dns = std::make_unique<io::DnsResolver>(io.get_executor(), config.dns);
    sender = std::make_unique<io::ReportSender>(io.get_executor(), *dns, t.sender);
  } catch (const std::exception& e) {
    std::cerr << "mtastsctl: " << e.what() << "\n";
    return kExitError;
  }

  auto planned = outbox->plan(core::UtcDay{day->days_since_epoch + 1},
                              daemon::make_planner(t, util::system_now, now), filter);
  if (!planned) {
    std::cerr << "mtastsctl: " << planned.error().detail << "\n";
    return kExitError;
  }
  for (const std::string& problem : planned->problems) std::cerr << "mtastsctl: no report for " << problem << "\n";
  auto due = outbox->make_due(now, resend, filter);
  if (!due) {
    std::cerr << "mtastsctl: " << due.error().detail << "\n";
    return kExitError;
  }
  env->sync();

  int status = kExitNoResult;
  std::size_t busy = 0, skipped = 0;
  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  auto run = [&]() -> asio::awaitable<void> {
    for (;;) {
      auto claims = outbox->claim_due(util::system_now(), daemon::claim_rules(t, kClaimBatch), kClaimBatch, filter);
      if (!claims) {
        std::cerr << "mtastsctl: " << claims.error().detail << "\n";
        status = kExitError;
        co_return;
      }
      if (claims->claimed.empty()) co_return;
      env->sync();
      for (io::StoredEntry& claimed : claims->claimed) {
        const io::StoredEntry done = co_await daemon::deliver(*sender, *outbox, *env, std::move(claimed),
                                                              t.retry_period, util::system_now);
        const bool ok = done.entry.state == core::OutboxState::delivered;
        if (as_json)
          results.push_back(entry_json(done));
        else
          std::cout << fmt::format("{} {}: {}\n", ok ? "delivered" : "failed   ", daemon::describe(done),
                                   done.entry.last_result);
        if (!ok)
          status = kExitError;
        else if (status == kExitNoResult)
          status = kExitOk;
      }
    }
  };
  auto done = asio::co_spawn(io, run(), asio::use_future);
  io.run();
  try {
    done.get();
  } catch (const std::exception& e) {
    std::cerr << "mtastsctl: " << e.what() << "\n";
    return kExitError;
  }
  // What was not sent now, and why.
  auto listed = outbox->for_each(
      [&](std::string_view, const std::expected<io::StoredEntry, io::StoreError>& s) {
        if (!s) return;
        if (s->entry.state == core::OutboxState::sending) {
          if (as_json)
            results.push_back(entry_json(*s));
          else
            std::cout << fmt::format("busy      {}: being sent by process {}\n", daemon::describe(*s),
                                     s->entry.claimed_by);
          ++busy;
        } else if (s->entry.state == core::OutboxState::delivered && !resend && status == kExitNoResult) {
          ++skipped;
        }
      },
      filter);
  if (!listed) std::cerr << "mtastsctl: " << listed.error().detail << "\n";
  if (as_json) std::cout << results.dump(2) << "\n";
  if (status == kExitNoResult && busy == 0) {
    if (skipped > 0)
      std::cerr << "mtastsctl: " << skipped << " report(s) of " << day->to_string()
                << " already delivered; --resend sends them again\n";
    else
      std::cerr << "mtastsctl: no sessions counted on " << day->to_string()
                << (filter.domain ? " for " + *filter.domain : std::string()) << "\n";
  }
  return status;
}

int report_status(const daemon::Config& config, const std::string& day_text, bool as_json) {
  io::OutboxFilter filter;
  if (!day_text.empty()) {
    filter.day = parse_day(day_text);
    if (!filter.day) return kExitError;
  }
  auto env = open_env(config, true);
  if (!env) return kExitError;
  auto outbox = open_outbox(env);
  if (!outbox) return kExitError;
  nlohmann::ordered_json all = nlohmann::ordered_json::array();
  if (!as_json)
    std::cout << fmt::format("{:<10} {:<30} {:<9} {:>3} {:<20} {:<40} {}\n", "DAY", "DOMAIN", "STATE", "TRY",
                             "NEXT/FINISHED", "RUA", "LAST RESULT");
  auto listed = outbox->for_each(
      [&](std::string_view key, const std::expected<io::StoredEntry, io::StoreError>& s) {
        if (!s) {
          if (as_json)
            all.push_back({{"key", std::string(key)}, {"state", "corrupt"}, {"detail", s.error().detail}});
          else
            std::cout << fmt::format("{:<41} corrupt   {}\n", key, s.error().detail);
          return;
        }
        if (as_json) {
          all.push_back(entry_json(*s));
          return;
        }
        const core::OutboxEntry& e = s->entry;
        std::cout << fmt::format("{:<10} {:<30} {:<9} {:>3} {:<20} {:<40} {}\n", s->key.day.day.to_string(),
                                 s->key.day.report_domain, core::to_string(e.state), e.attempts,
                                 when(e.finished_at ? e.finished_at : core::next_attention(e)), e.rua,
                                 e.last_result.empty() ? "-" : e.last_result);
      },
      filter);
  if (!listed) {
    std::cerr << "mtastsctl: " << listed.error().detail << "\n";
    return kExitError;
  }
  if (as_json) std::cout << all.dump(2) << "\n";
  return kExitOk;
}

}  // namespace mtastsd::ctl

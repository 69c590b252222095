// mtastsctl: inspect and steer mtastsd's cache, resolve a domain live, show the
// TLS-RPT counts and reports, send reports now (ctl/report_commands), check a
// domain's setup (ctl/check_command), and ask the running daemon for its status,
// its statistics and a refresh (ctl/daemon_commands, over the control socket).
// The cache commands read the daemon's LMDB environment directly (safe while the
// daemon runs). Every command that prints a result takes --json; the default output
// is a table or tab-separated.
// Usage in mtastsctl(8). Exit status: 0 ok, 1 not found / no policy, 2 error
// (for query also a TEMP answer: the DANE status could not be determined), 3 the
// daemon is not running (status, stats, cache refresh); check has its own (ctl::kCheck*).
#include <functional>
#include <iostream>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include "core/cache_record_json.hpp"
#include "core/next_hop.hpp"
#include "ctl/check_command.hpp"
#include "ctl/daemon_commands.hpp"
#include "ctl/exit_status.hpp"
#include "ctl/record_view.hpp"
#include "ctl/report_commands.hpp"
#include "ctl/report_view.hpp"
#include "daemon/config.hpp"
#include "daemon/dane_discovery.hpp"
#include "daemon/policy_discovery.hpp"
#include "io/mx_validation_store.hpp"
#include "io/policy_store.hpp"
#include "io/tlsrpt_store.hpp"

namespace asio = boost::asio;
using namespace mtastsd;
using nlohmann::json;

namespace {

using ctl::kExitError;
using ctl::kExitNoResult;
using ctl::kExitOk;

std::unique_ptr<io::PolicyStore> open_store(const daemon::Config& config, bool read_only) {
  auto store = io::PolicyStore::open({config.state_dir + "/cache", config.cache_map_size, read_only});
  if (!store) {
    std::cerr << "mtastsctl: cannot open the cache in " << config.state_dir << "/cache: " << store.error().detail
              << "\n";
    return nullptr;
  }
  return std::move(*store);
}

std::unique_ptr<io::TlsrptStore> open_tlsrpt_store(const daemon::Config& config) {
  auto env = io::StoreEnv::open({config.state_dir + "/cache", config.cache_map_size, true});
  if (!env) {
    std::cerr << "mtastsctl: cannot open the cache in " << config.state_dir << "/cache: " << env.error().detail << "\n";
    return nullptr;
  }
  auto store = io::TlsrptStore::open(*env);
  if (!store) {
    std::cerr << "mtastsctl: cannot open the cache in " << config.state_dir << "/cache: " << store.error().detail
              << "\n";
    return nullptr;
  }
  return std::move(*store);
}

std::string normalized(const std::string& key) {
  auto hop = core::normalize_next_hop(key);
  return hop.kind == core::NextHopKind::domain ? hop.domain : std::string();
}

// Every cached record in key order: good ones to `record`, undecodable ones to `corrupt`
// (domain, what is wrong). kExitOk, or kExitError with the store's error said.
int visit_cache(io::PolicyStore& store,
                const std::function<void(const std::string& domain, const core::CacheRecord&)>& record,
                const std::function<void(const std::string& domain, const std::string& detail)>& corrupt) {
  auto ok = store.for_each([&](std::string_view key, const auto& decoded) {
    if (decoded)
      record(std::string(key), *decoded);
    else
      corrupt(std::string(key), decoded.error().detail);
    return true;
  });
  if (!ok) {
    std::cerr << "mtastsctl: " << ok.error().detail << "\n";
    return kExitError;
  }
  return kExitOk;
}

int cache_list(const daemon::Config& config, bool as_json) {
  auto store = open_store(config, true);
  if (!store) return kExitError;
  const auto now = util::system_now();
  json all = json::array();
  if (!as_json)
    std::cout << fmt::format("{:<40} {:<9} {:<8} {:<20} {:<22} {}\n", "DOMAIN", "STATE", "MODE", "VALID UNTIL",
                             "FAILURE", "DANE");
  const int rc = visit_cache(
      *store,
      [&](const std::string& domain, const core::CacheRecord& record) {
        if (as_json) {
          all.push_back(core::record_json(domain, record, now, config.cache));
          return;
        }
        std::cout << fmt::format("{:<40} {:<9} {:<8} {:<20} {:<22} {}\n", domain, core::record_state(record, now),
                                 record.has_policy() ? core::to_string(record.policy.mode) : "-",
                                 util::format_utc(record.valid_until),
                                 record.failure ? core::to_string(*record.failure) : "-",
                                 record.dane ? core::to_string(record.dane->verdict) : "-");
      },
      [&](const std::string& domain, const std::string& detail) {
        if (as_json)
          all.push_back({{"domain", domain}, {"state", "corrupt"}, {"detail", detail}});
        else
          std::cout << fmt::format("{:<40} corrupt   {}\n", domain, detail);
      });
  if (rc != kExitOk) return rc;
  if (as_json) std::cout << all.dump(2) << "\n";
  return kExitOk;
}

// The policy cache and the MX validations beside it, read-only.
struct CacheTables {
  std::unique_ptr<io::PolicyStore> policies;
  std::unique_ptr<io::MxValidationStore> validations;
};
std::optional<CacheTables> open_cache_tables(const daemon::Config& config) {
  // One environment for both tables (LMDB: one per file and process).
  auto env = io::StoreEnv::open({config.state_dir + "/cache", config.cache_map_size, true});
  auto store = env ? io::PolicyStore::open(*env) : std::unexpected(env.error());
  auto validations = store ? io::MxValidationStore::open(*env) : std::unexpected(store.error());
  if (!validations) {
    std::cerr << "mtastsctl: cannot open the cache in " << config.state_dir << "/cache: " << validations.error().detail
              << "\n";
    return std::nullopt;
  }
  return CacheTables{std::move(*store), std::move(*validations)};
}

// The MX validation of a testing-mode domain (issue 5); unreadable: said, and shown as none.
std::optional<core::MxValidations> read_validations(io::MxValidationStore& store, const std::string& domain) {
  auto validated = store.get(domain);
  if (!validated) {
    std::cerr << "mtastsctl: " << validated.error().detail << "\n";
    return std::nullopt;
  }
  return std::move(*validated);
}

// What `cache show --json` and `cache export --json` print for one domain.
json show_json(const daemon::Config& config, const std::string& domain, const core::CacheRecord& record,
               const std::optional<core::MxValidations>& validations, util::TimePoint now) {
  json j = core::record_json(domain, record, now, config.cache);
  j["mx_validation"] = validations ? ctl::validations_json(*validations) : json(nullptr);
  return j;
}

int cache_show(const daemon::Config& config, const std::string& key, bool as_json) {
  const std::string domain = normalized(key);
  if (domain.empty()) {
    std::cerr << "mtastsctl: '" << key << "' is not a domain name\n";
    return kExitError;
  }
  auto tables = open_cache_tables(config);
  if (!tables) return kExitError;
  auto got = tables->policies->get(domain);
  if (!got) {
    std::cerr << "mtastsctl: " << domain << ": " << got.error().detail << "\n";
    return kExitError;
  }
  if (!*got) {
    std::cerr << "mtastsctl: " << domain << " is not cached\n";
    return kExitNoResult;
  }
  const auto validations = read_validations(*tables->validations, domain);
  const auto now = util::system_now();
  if (as_json) {
    std::cout << show_json(config, domain, **got, validations, now).dump(2) << "\n";
  } else {
    std::cout << ctl::record_text(domain, **got, now, config.cache);
    if (validations) std::cout << ctl::validations_text(*validations, now);
  }
  return kExitOk;
}

// Every cached record: --json the objects of `cache show --json` in one array; else one
// tab-separated line each: domain, state, policy id, mode, max_age, mx (space-separated),
// valid until, next refresh, failure, DANE verdict ("-" for none).
int cache_export(const daemon::Config& config, bool as_json) {
  auto tables = open_cache_tables(config);
  if (!tables) return kExitError;
  const auto now = util::system_now();
  json all = json::array();
  const auto or_dash = [](std::string_view s) { return s.empty() ? std::string("-") : std::string(s); };
  const int rc = visit_cache(
      *tables->policies,
      [&](const std::string& domain, const core::CacheRecord& record) {
        if (as_json) {
          all.push_back(show_json(config, domain, record, read_validations(*tables->validations, domain), now));
          return;
        }
        const auto refresh = core::refresh_due_at(record, config.cache);
        std::cout << fmt::format("{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n", domain, core::record_state(record, now),
                                 or_dash(record.policy_id),
                                 record.has_policy() ? core::to_string(record.policy.mode) : "-",
                                 record.has_policy() ? std::to_string(record.policy.max_age) : "-",
                                 record.has_policy() ? fmt::format("{}", fmt::join(record.policy.mx, " ")) : "-",
                                 util::format_utc(record.valid_until), refresh ? util::format_utc(*refresh) : "-",
                                 record.failure ? core::to_string(*record.failure) : "-",
                                 record.dane ? core::to_string(record.dane->verdict) : "-");
      },
      [&](const std::string& domain, const std::string& detail) {
        if (as_json)
          all.push_back({{"domain", domain}, {"state", "corrupt"}, {"detail", detail}});
        else
          std::cout << fmt::format("{}\tcorrupt\t-\t-\t-\t-\t-\t-\t{}\t-\n", domain, detail);
      });
  if (rc != kExitOk) return rc;
  if (as_json) std::cout << all.dump(2) << "\n";
  return kExitOk;
}

// --json: {"purged": N} for --all, {"purged": 1, "domain": D} for one domain.
int cache_purge(const daemon::Config& config, const std::string& key, bool all, bool as_json) {
  auto store = open_store(config, false);
  if (!store) return kExitError;
  if (all) {
    auto n = store->erase_all();
    if (!n) {
      std::cerr << "mtastsctl: " << n.error().detail << "\n";
      return kExitError;
    }
    store->sync();
    if (as_json)
      std::cout << json{{"purged", *n}}.dump(2) << "\n";
    else
      std::cout << "purged " << *n << " entries\n";
    return kExitOk;
  }
  const std::string domain = normalized(key);
  if (domain.empty()) {
    std::cerr << "mtastsctl: '" << key << "' is not a domain name\n";
    return kExitError;
  }
  auto erased = store->erase(domain);
  if (!erased) {
    std::cerr << "mtastsctl: " << erased.error().detail << "\n";
    return kExitError;
  }
  store->sync();
  if (!*erased) {
    std::cerr << "mtastsctl: " << domain << " is not cached\n";
    return kExitNoResult;
  }
  if (as_json)
    std::cout << json{{"purged", 1}, {"domain", domain}}.dump(2) << "\n";
  else
    std::cout << "purged " << domain << "\n";
  return kExitOk;
}

int query(const daemon::Config& config, const std::string& key, const std::string& profile_name, bool as_json) {
  const std::string domain = normalized(key);
  if (domain.empty()) {
    std::cerr << "mtastsctl: '" << key << "' is not a domain name\n";
    return kExitError;
  }
  asio::io_context io(1);
  io::DnsResolver dns(io.get_executor(), config.dns);
  io::PolicyFetcher fetcher(io.get_executor(), dns, config.fetch);
  json out{{"domain", domain}};
  std::vector<std::string> steps;
  int status = kExitNoResult;
  bool known = true;
  const auto& profile = config.profile_for(profile_name, &known);
  if (!known) {
    std::cerr << "mtastsctl: no profile '" << profile_name << "' in the configuration\n";
    return kExitError;
  }
  std::optional<core::DaneDecision> dane;
  auto run = [&]() -> asio::awaitable<void> {
    // DANE first, as the daemon decides (shown whether or not the profile uses it).
    dane = co_await daemon::discover_dane(dns, domain, &steps);
    auto txt = co_await daemon::discover_sts_record(dns, domain, &steps);
    static constexpr const char* kTxtStatus[] = {"found", "absent", "dns_error"};
    out["txt"] = {{"status", kTxtStatus[static_cast<int>(txt.status)]}, {"id", txt.id}, {"detail", txt.detail}};
    out["fetch"] = nullptr;
    out["policy"] = nullptr;
    out["answer"] = "NOTFOUND ";
    if (txt.status != core::TxtStatus::found) co_return;
    auto fetched = co_await daemon::fetch_sts_policy(fetcher, domain, &steps);
    if (!fetched) {
      out["fetch"] = {{"ok", false},
                      {"failure", std::string(core::to_string(fetched.error().type))},
                      {"detail", fetched.error().detail}};
      co_return;
    }
    out["fetch"] = {{"ok", true}, {"failure", nullptr}, {"detail", ""}};
    out["policy"] = core::policy_json(fetched->policy);
    out["policy"]["text"] = fetched->text;
    if (fetched->policy.mode == core::StsMode::enforce)
      out["answer"] = core::encode_reply(
          {core::ReplyStatus::ok, core::build_sts_policy_result(fetched->policy, domain, profile.dialect)});
    status = fetched->policy.mode == core::StsMode::none ? kExitNoResult : kExitOk;
  };
  auto done = asio::co_spawn(io, run(), asio::use_future);
  io.run();
  try {
    done.get();
  } catch (const std::exception& e) {
    std::cerr << "mtastsctl: query failed: " << e.what() << "\n";
    return kExitError;
  }
  out["dane"] = {{"verdict", std::string(core::to_string(dane->verdict))},
                 {"reason", dane->reason},
                 {"hosts", core::dane_hosts_json(dane->hosts)}};
  // A dane profile answers with the DANE verdict when it applies or is unknown.
  if (auto reply = profile.dane ? core::dane_reply(dane->verdict, dane->reason) : std::nullopt) {
    out["answer"] = core::encode_reply(*reply);
    status = reply->status == core::ReplyStatus::ok ? kExitOk : kExitError;
  }
  out["steps"] = steps;
  if (as_json) {
    std::cout << out.dump(2) << "\n";
  } else {
    for (const auto& s : steps) std::cout << "  " << s << "\n";
    std::cout << "answer: " << out["answer"].get<std::string>() << "\n";
  }
  return status;
}

int report_list(const daemon::Config& config, bool as_json) {
  auto store = open_tlsrpt_store(config);
  if (!store) return kExitError;
  json all = json::array();
  if (!as_json)
    std::cout << fmt::format("{:<10} {:<40} {:>8} {:>10} {:>8}\n", "DAY", "DOMAIN", "POLICIES", "SUCCESSFUL", "FAILED");
  auto ok = store->for_each([&](const core::DomainDayKey& key, const auto& day) {
    if (!day) {
      if (as_json)
        all.push_back({{"day", key.day.to_string()}, {"domain", key.report_domain}, {"corrupt", day.error().detail}});
      else
        std::cout << fmt::format("{:<10} {:<40} corrupt: {}\n", key.day.to_string(), key.report_domain,
                                 day.error().detail);
      return true;
    }
    if (as_json) {
      all.push_back(ctl::day_json(key, *day));
    } else {
      const ctl::DaySummary total = ctl::summarize(*day);
      std::cout << fmt::format("{:<10} {:<40} {:>8} {:>10} {:>8}\n", key.day.to_string(), key.report_domain,
                               day->policies.size(), total.successful, total.failed);
    }
    return true;
  });
  if (!ok) {
    std::cerr << "mtastsctl: " << ok.error().detail << "\n";
    return kExitError;
  }
  if (as_json) std::cout << all.dump(2) << "\n";
  return kExitOk;
}

int report_show(const daemon::Config& config, const std::string& day_text, const std::string& domain_text,
                bool as_json) {
  const auto day = core::UtcDay::parse(day_text);
  if (!day) {
    std::cerr << "mtastsctl: '" << day_text << "' is not a day (YYYY-MM-DD)\n";
    return kExitError;
  }
  const std::string domain = normalized(domain_text);
  if (domain.empty()) {
    std::cerr << "mtastsctl: '" << domain_text << "' is not a domain name\n";
    return kExitError;
  }
  const daemon::TlsRptSettings& t = config.tlsrpt;
  if (t.organization_name.empty() || t.contact_info.empty() || t.submitter.empty()) {
    std::cerr << "mtastsctl: a report needs tlsrpt.organization_name, tlsrpt.contact_info and tlsrpt.submitter in "
              << config.source << "\n";
    return kExitError;
  }
  auto store = open_tlsrpt_store(config);
  if (!store) return kExitError;
  const core::DomainDayKey key{*day, domain};
  auto counted = store->get(key);
  if (!counted) {
    std::cerr << "mtastsctl: " << counted.error().detail << "\n";
    return kExitError;
  }
  if (!*counted) {
    std::cerr << "mtastsctl: no sessions counted for " << domain << " on " << day->to_string() << "\n";
    return kExitNoResult;
  }
  auto reports = ctl::reports_json({t.organization_name, t.contact_info, t.submitter}, key, **counted);
  if (!reports) {
    std::cerr << "mtastsctl: " << core::to_string(reports.error().error) << ": " << reports.error().detail << "\n";
    return kExitError;
  }
  if (as_json) {
    std::cout << reports->dump(2) << "\n";
    return kExitOk;
  }
  for (const auto& report : *reports) {
    std::cout << "rua:     " << fmt::format("{}", fmt::join(report["rua"].get<std::vector<std::string>>(), ", "))
              << "\nsubject: " << report["subject"].get<std::string>()
              << "\nfile:    " << report["file_name"].get<std::string>() << "\n"
              << report["report"].dump(2) << "\n";
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mtastsctl: inspect and steer mtastsd"};
  app.require_subcommand(1);
  std::string config_file, state_dir;
  app.add_option("-c,--config", config_file, "mtastsd configuration file (default: built-in defaults)");
  app.add_option("--state-dir", state_dir, "state directory override, as given to mtastsd");

  bool as_json = false, all = false;
  std::string domain;
  auto* cache = app.add_subcommand("cache", "inspect and steer the policy cache");
  cache->require_subcommand(1);
  auto* list = cache->add_subcommand("list", "list cached domains");
  list->add_flag("--json", as_json, "JSON output");
  auto* show = cache->add_subcommand("show", "show one cached domain");
  show->add_option("domain", domain, "domain")->required();
  show->add_flag("--json", as_json, "JSON output");
  auto* purge = cache->add_subcommand("purge", "remove a domain (or all) from the cache");
  purge->add_option("domain", domain, "domain");
  purge->add_flag("--all", all, "remove every entry");
  purge->add_flag("--json", as_json, "JSON output");
  auto* refresh = cache->add_subcommand("refresh", "have the running daemon re-fetch a domain's policy now");
  refresh->add_option("domain", domain, "domain")->required();
  refresh->add_flag("--json", as_json, "JSON output");
  auto* export_cmd = cache->add_subcommand("export", "print every cached record");
  export_cmd->add_flag("--json", as_json, "JSON output: the objects of cache show --json, in one array");
  std::string profile_name = "default";
  auto* q = app.add_subcommand("query", "resolve a domain's DANE status and MTA-STS policy live, bypassing the cache");
  q->add_option("domain", domain, "domain")->required();
  q->add_option("--profile", profile_name, "answer as this profile (socketmap map name) would; default: default");
  q->add_flag("--json", as_json, "JSON output");
  auto* report = app.add_subcommand("report", "show TLS-RPT counts and the reports built from them");
  report->require_subcommand(1);
  auto* report_list_cmd = report->add_subcommand("list", "list the days and domains with counted sessions");
  report_list_cmd->add_flag("--json", as_json, "JSON output");
  std::string day;
  auto* report_show_cmd = report->add_subcommand("show", "show the RFC 8460 report(s) of one day and domain");
  report_show_cmd->add_option("day", day, "UTC day, YYYY-MM-DD")->required();
  report_show_cmd->add_option("domain", domain, "report domain")->required();
  report_show_cmd->add_flag("--json", as_json, "JSON output");
  bool resend = false;
  auto* report_send_cmd = report->add_subcommand("send", "build a finished day's reports now and send them");
  report_send_cmd->add_option("--day", day, "UTC day, YYYY-MM-DD")->required();
  report_send_cmd->add_option("--domain", domain, "only this report domain");
  report_send_cmd->add_flag("--resend", resend, "send reports already delivered again (same report-id)");
  report_send_cmd->add_flag("--json", as_json, "JSON output");
  auto* report_status_cmd = report->add_subcommand("status", "show the report queue: deliveries, retries, errors");
  report_status_cmd->add_option("--day", day, "only this UTC day, YYYY-MM-DD");
  report_status_cmd->add_flag("--json", as_json, "JSON output");
  ctl::CheckOptions check_options;
  auto* check_cmd = app.add_subcommand("check", "check a domain's MTA-STS, DANE and TLS-RPT setup from the sending "
                                                "side and explain every finding");
  check_cmd->add_option("domain", check_options.domain, "domain")->required();
  check_cmd->add_option("--helo", check_options.helo_name, "EHLO name for the MX probes (default: this host's name)");
  check_cmd->add_flag("--json", check_options.as_json, "JSON output");
  auto* status_cmd = app.add_subcommand("status", "ask the running daemon for its status (exit 3: not running)");
  status_cmd->add_flag("--json", as_json, "JSON output");
  auto* stats_cmd = app.add_subcommand("stats", "the running daemon's metric samples");
  stats_cmd->add_flag("--json", as_json, "JSON output");
  CLI11_PARSE(app, argc, argv);

  auto config = config_file.empty()
                    ? std::expected<daemon::Config, std::vector<daemon::ConfigProblem>>(daemon::default_config(state_dir))
                    : daemon::load_config(config_file, state_dir);
  if (!config) {
    for (const auto& p : config.error()) std::cerr << p.to_string() << "\n";
    return *check_cmd ? ctl::kCheckUnknown : kExitError;
  }
  spdlog::set_level(spdlog::level::warn);
  if (*list) return cache_list(*config, as_json);
  if (*show) return cache_show(*config, domain, as_json);
  if (*purge) {
    if (all == !domain.empty()) {
      std::cerr << "mtastsctl: cache purge takes a DOMAIN or --all\n";
      return kExitError;
    }
    return cache_purge(*config, domain, all, as_json);
  }
  if (*refresh) return ctl::cache_refresh(*config, domain, as_json);
  if (*export_cmd) return cache_export(*config, as_json);
  if (*q) return query(*config, domain, profile_name, as_json);
  if (*report_list_cmd) return report_list(*config, as_json);
  if (*report_show_cmd) return report_show(*config, day, domain, as_json);
  if (*report_send_cmd) return ctl::report_send(*config, day, domain, resend, as_json);
  if (*report_status_cmd) return ctl::report_status(*config, day, as_json);
  if (*check_cmd) return ctl::check(*config, check_options);
  if (*status_cmd) return ctl::status(*config, as_json);
  if (*stats_cmd) return ctl::stats(*config, as_json);
  return kExitError;
}

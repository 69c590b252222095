// mtastsctl status, stats and cache refresh; see the header.
#include "ctl/daemon_commands.hpp"

#include <iostream>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include "core/next_hop.hpp"
#include "ctl/control_client.hpp"
#include "ctl/exit_status.hpp"
#include "daemon/lookup_service.hpp"
#include "io/policy_store.hpp"

namespace mtastsd::ctl {
namespace {

using nlohmann::json;

int call_failed(const ControlCallError& e) {
  std::cerr << "mtastsctl: " << e.detail
            << (e.kind == ControlCallFailure::not_running ? " (is mtastsd running?)"
                : e.kind == ControlCallFailure::denied   ? " (root and the daemon's user may connect)"
                                                         : "")
            << "\n";
  return e.kind == ControlCallFailure::not_running ? kDaemonNotRunning : kExitError;
}

// A unix time of the reply as "2026-11-29T21:49:06Z", "-" for 0, null or a non-number.
std::string utc(const json& unix_seconds) {
  if (!unix_seconds.is_number_integer()) return "-";
  return util::format_utc(util::from_unix(unix_seconds.get<std::int64_t>()));
}

// A member as text: strings as they are, null as "-", anything else as JSON.
std::string text(const json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return "-";
  if (it->is_string()) return it->get<std::string>();
  return it->dump();
}

// The strings of an array, space-separated.
std::string joined(const json& array) {
  if (!array.is_array()) return "-";
  std::vector<std::string> items;
  for (const json& item : array) items.push_back(item.is_string() ? item.get<std::string>() : item.dump());
  return fmt::format("{}", fmt::join(items, " "));
}

// The cache's entry count, read here (while the daemon does not answer).
json local_cache_entries(const daemon::Config& config) {
  auto store = io::PolicyStore::open({config.state_dir + "/cache", config.cache_map_size, true});
  if (!store) {
    std::cerr << "mtastsctl: cannot open the cache in " << config.state_dir << "/cache: " << store.error().detail
              << "\n";
    return nullptr;
  }
  auto count = (*store)->count();
  if (!count) {
    std::cerr << "mtastsctl: " << count.error().detail << "\n";
    return nullptr;
  }
  return *count;
}

}  // namespace

int status(const daemon::Config& config, bool as_json) {
  const std::string& socket = config.control.unix_path;
  auto reply = call_daemon(socket, {core::ControlCommand::status, ""}, kQuickCallDeadline);
  if (!reply && reply.error().kind == ControlCallFailure::not_running) {
    const json entries = local_cache_entries(config);
    if (as_json) {
      std::cout << json{{"running", false},
                        {"control_socket", socket},
                        {"error", reply.error().detail},
                        {"config", config.source},
                        {"state_dir", config.state_dir},
                        {"cache_entries", entries}}
                       .dump(2)
                << "\n";
    } else {
      std::cout << "daemon\tnot running\ncontrol socket\t" << socket << "\nconfig\t" << config.source << "\nstate dir\t"
                << config.state_dir << "\ncache entries\t" << (entries.is_null() ? "-" : entries.dump()) << "\n";
    }
    std::cerr << "mtastsctl: mtastsd is not running: " << reply.error().detail << "\n";
    return kDaemonNotRunning;
  }
  if (!reply) return call_failed(reply.error());
  if (!reply->ok) {
    std::cerr << "mtastsctl: mtastsd: " << reply->error << "\n";
    return kExitError;
  }
  json out = reply->body;
  out.erase("ok");
  out["running"] = true;
  out["control_socket"] = socket;
  if (as_json) {
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  const json uptime = out.value("uptime_seconds", json());
  std::cout << "daemon\trunning\nversion\t" << text(out, "version") << "\npid\t" << text(out, "pid") << "\nconfig\t"
            << text(out, "config") << "\nstarted\t" << utc(out.value("started_at", json())) << "\nuptime\t"
            << (uptime.is_number_integer() ? fmt::format("{}s", uptime.get<std::int64_t>()) : "-")
            << "\ncache entries\t" << text(out, "cache_entries") << "\n";
  if (const auto listeners = out.find("listeners"); listeners != out.end() && listeners->is_array())
    for (const json& l : *listeners)
      if (l.is_object()) std::cout << "listener\t" << text(l, "role") << " " << text(l, "address") << "\n";
  std::cout << "next report run\t" << utc(out.value("next_report_run", json())) << "\n";
  return kExitOk;
}

int stats(const daemon::Config& config, bool as_json) {
  auto reply = call_daemon(config.control.unix_path, {core::ControlCommand::stats, ""}, kQuickCallDeadline);
  if (!reply) return call_failed(reply.error());
  if (!reply->ok) {
    std::cerr << "mtastsctl: mtastsd: " << reply->error << "\n";
    return kExitError;
  }
  auto samples = core::parse_samples(reply->body);
  if (!samples) {
    std::cerr << "mtastsctl: malformed stats reply: " << samples.error() << "\n";
    return kExitError;
  }
  if (as_json) {
    std::cout << core::samples_json(*samples).dump(2) << "\n";
    return kExitOk;
  }
  for (const core::MetricSample& s : *samples) std::cout << core::sample_line(s) << "\n";
  return kExitOk;
}

int cache_refresh(const daemon::Config& config, const std::string& key, bool as_json) {
  const core::NextHop hop = core::normalize_next_hop(key);
  if (hop.kind != core::NextHopKind::domain) {
    std::cerr << "mtastsctl: '" << key << "' is not a domain name\n";
    return kExitError;
  }
  // The daemon waits for its resolution at most refresh_wait_limit; a little more here.
  const auto deadline = daemon::refresh_wait_limit(config) + kQuickCallDeadline;
  auto reply = call_daemon(config.control.unix_path, {core::ControlCommand::refresh, hop.domain},
                           std::chrono::duration_cast<std::chrono::milliseconds>(deadline));
  if (!reply) return call_failed(reply.error());
  if (!reply->ok) {
    std::cerr << "mtastsctl: " << reply->error << "\n";
    return kExitNoResult;
  }
  const auto record = reply->body.find("record");
  if (record == reply->body.end() || !record->is_object()) {
    std::cerr << "mtastsctl: malformed refresh reply: no \"record\" object\n";
    return kExitError;
  }
  if (as_json) {
    std::cout << record->dump(2) << "\n";
    return kExitOk;
  }
  std::cout << "domain\t" << text(*record, "domain") << "\nstate\t" << text(*record, "state") << "\npolicy id\t"
            << text(*record, "policy_id") << "\nmode\t" << text(*record, "mode") << "\nmax_age\t"
            << text(*record, "max_age") << "\nmx\t"
            << joined(record->value("mx", json()))
            << "\nfetched at\t" << utc(record->value("fetched_at", json())) << "\nvalid until\t"
            << utc(record->value("valid_until", json())) << "\nnext refresh\t"
            << utc(record->value("next_refresh", json())) << "\n";
  return kExitOk;
}

}  // namespace mtastsd::ctl

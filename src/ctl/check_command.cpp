// The network steps of `mtastsctl check`; see check_command.hpp. Steps run one after
// another (each bounded by the configured DNS or fetch timeout), then the MX probes
// all at once (each bounded by io::MxProbeSettings' deadlines); io.run() returns when
// the last one ends.
#include "ctl/check_command.hpp"

#include <iostream>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <fmt/format.h>
#include "core/host_name.hpp"
#include "core/next_hop.hpp"
#include "core/setup_check.hpp"
#include "core/sts_record.hpp"
#include "ctl/check_view.hpp"
#include "daemon/dane_discovery.hpp"
#include "daemon/mx_validator.hpp"
#include "io/dns_rdata.hpp"
#include "io/mx_probe.hpp"
#include "io/policy_fetcher.hpp"
#include "io/policy_store.hpp"

namespace mtastsd::ctl {
namespace {

namespace asio = boost::asio;
using core::CheckArea;
using DnsResult = std::expected<io::DnsAnswer, io::DnsError>;

// The bound core/dane puts on the MX hosts whose TLSA records it checks, for the same
// reason: Postfix's smtp_mx_address_limit (5) keeps senders from going further down.
constexpr std::size_t kMaxProbedHosts = core::kMaxDaneHosts;
constexpr std::size_t kMaxAddressesPerHost = 5;  // Postfix's smtp_mx_address_limit default

std::string dns_error_text(const io::DnsError& e) { return fmt::format("{}: {}", io::to_string(e.kind), e.detail); }

core::TxtLookup txt_lookup(const DnsResult& answer) {
  using Status = core::TxtLookup::Status;
  if (!answer) return {Status::dns_error, {}, dns_error_text(answer.error())};
  if (answer->rcode == io::DnsRcode::nxdomain) return {Status::absent, {}, "NXDOMAIN"};
  if (answer->records.empty()) return {Status::absent, {}, "no TXT records"};
  return {Status::records, answer->records, ""};
}

core::MxLookup mx_lookup(const DnsResult& answer) {
  using Status = core::MxLookup::Status;
  if (!answer) return {Status::dns_error, {}, dns_error_text(answer.error())};
  if (answer->rcode == io::DnsRcode::nxdomain) return {Status::nxdomain, {}, "NXDOMAIN"};
  if (answer->records.empty()) return {Status::absent, {}, "no MX records"};
  return {Status::records, answer->records, ""};
}

core::CacheLookup read_cache(const daemon::Config& config, const std::string& domain) {
  auto store = io::PolicyStore::open({config.state_dir + "/cache", config.cache_map_size, true});
  if (!store) return {store.error().detail, std::nullopt};  // names the path
  auto record = (*store)->get(domain);
  if (!record) return {record.error().detail, std::nullopt};
  return {"", std::move(*record)};
}

// Everything the check learns, in the order of core::CheckArea.
class Check {
 public:
  Check(asio::io_context& io, const daemon::Config& config, std::string domain, io::MxProbeSettings probe)
      : io_(io),
        config_(config),
        domain_(std::move(domain)),
        dns_(io.get_executor(), config.dns),
        fetcher_(io.get_executor(), dns_, config.fetch),
        // As the daemon's MX validation probes (mx_validation: EHLO name, CA file, deadlines).
        probe_(io.get_executor(), std::move(probe)) {}

  // The steps up to the MX probes, which it starts and leaves running on the executor.
  asio::awaitable<void> run() {
    const auto txt = txt_lookup(co_await dns_.query("_mta-sts." + domain_, io::rrtype::txt));
    add(core::judge_sts_record(domain_, txt));
    if (has_sts_record(txt))
      co_await check_policy(txt);
    else
      add(core::not_checked(CheckArea::policy_fetch, "There is no MTA-STS record, so senders fetch no policy."));

    const auto mx = mx_lookup(co_await dns_.query(domain_, io::rrtype::mx));
    add(core::judge_mx(domain_, mx, policy_));
    if (policy_ && policy_->mode != core::StsMode::none)
      start_probes(core::mail_hosts(domain_, mx));
    else
      add(core::not_checked(CheckArea::mx_tls, "Without a policy in mode enforce or testing, senders do not "
                                               "validate the MX hosts' certificates (RFC 8461 sec. 4)."));

    add(core::judge_dane(co_await daemon::discover_dane(dns_, domain_, &steps_)));
    add(core::judge_tlsrpt_record(domain_, txt_lookup(co_await dns_.query("_smtp._tls." + domain_, io::rrtype::txt))));
  }

  // After io.run(): the findings in area order.
  std::vector<core::Finding> findings() const {
    std::vector<core::Finding> all = findings_;
    for (const auto& host : hosts_) {
      auto judged = core::judge_mx_host(host);
      all.insert(all.end(), judged.begin(), judged.end());
    }
    std::ranges::stable_sort(all, {}, &core::Finding::area);
    return all;
  }
  const std::optional<core::StsPolicy>& policy() const { return policy_; }
  const std::string& policy_text() const { return policy_text_; }
  const std::vector<std::string>& steps() const { return steps_; }

 private:
  void add(core::Finding f) { findings_.push_back(std::move(f)); }
  void add(std::vector<core::Finding> fs) {
    for (auto& f : fs) add(std::move(f));
  }

  static bool has_sts_record(const core::TxtLookup& txt) {
    const auto selected = core::select_sts_record(txt.records);
    return txt.status == core::TxtLookup::Status::records &&
           (selected || selected.error().error != core::StsDiscoveryError::no_record);
  }

  // Fetch, parse (policy_ when it parses), compare with the cache.
  asio::awaitable<void> check_policy(const core::TxtLookup& txt) {
    io::FetchTrace trace;
    auto fetched = co_await fetcher_.fetch(domain_, &trace);
    steps_.insert(steps_.end(), trace.steps.begin(), trace.steps.end());
    core::PolicyFetchFacts facts{.host = "mta-sts." + domain_,
                                 .body = fetched ? std::expected<std::string, core::FetchFailed>(fetched->body)
                                                 : std::unexpected(fetched.error()),
                                 .certificate = trace.certificate,
                                 .tls_version = trace.tls_version,
                                 .http_status = trace.http_status,
                                 .content_type = trace.content_type,
                                 .location = trace.location};
    add(core::judge_policy_fetch(facts, util::system_now()));
    if (!fetched) {
      add(core::not_checked(CheckArea::policy, "The policy could not be fetched."));
      co_return;
    }
    policy_text_ = fetched->body;
    auto judged = core::judge_policy(fetched->body);
    add(std::move(judged.findings));
    policy_ = std::move(judged.policy);
    if (!policy_) co_return;
    if (const auto record = core::select_sts_record(txt.records))
      add(core::judge_cached_policy(read_cache(config_, domain_), record->id, fetched->body, *policy_));
    else
      add(core::not_checked(CheckArea::cache, "The MTA-STS record has no usable id to compare the cache by."));
  }

  void start_probes(std::vector<std::string> hosts) {
    if (hosts.size() > kMaxProbedHosts) {
      add(core::not_checked(CheckArea::mx_tls, fmt::format("Only the first {} of {} MX hosts were checked.",
                                                           kMaxProbedHosts, hosts.size())));
      hosts.resize(kMaxProbedHosts);
    }
    hosts_.resize(hosts.size());  // sized once: the probes write into their own slots
    for (std::size_t i = 0; i < hosts.size(); ++i) {
      hosts_[i].host = hosts[i];
      asio::co_spawn(io_, probe_host(i), [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);  // a bug: ends io.run() with the exception
      });
    }
  }

  asio::awaitable<void> probe_host(std::size_t slot) {
    core::MxHostFacts& facts = hosts_[slot];
    auto addresses = co_await dns_.query_addresses(facts.host);
    if (!addresses) {
      facts.address_error = dns_error_text(addresses.error());
      co_return;
    }
    if (addresses->empty()) {
      facts.address_error = "no A or AAAA record";
      co_return;
    }
    if (addresses->size() > kMaxAddressesPerHost) addresses->resize(kMaxAddressesPerHost);
    facts.probes.resize(addresses->size());
    for (std::size_t i = 0; i < addresses->size(); ++i) {
      boost::system::error_code ec;
      const auto address = asio::ip::make_address((*addresses)[i], ec);
      facts.probes[i].address = (*addresses)[i];
      if (ec) {  // cannot happen: the resolver writes inet_ntop text
        facts.probes[i].unreachable = true;
        facts.probes[i].detail = ec.message();
        continue;
      }
      asio::co_spawn(io_, probe_address(slot, i, address), [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
    }
  }

  asio::awaitable<void> probe_address(std::size_t slot, std::size_t index, asio::ip::address address) {
    core::MxHostFacts& facts = hosts_[slot];
    const io::MxProbeResult result = co_await probe_.probe(facts.host, address);
    core::MxProbeFacts& probe = facts.probes[index];
    probe.unreachable = result.unreachable;
    probe.failure = result.failure;
    probe.detail = result.detail;
  }

  asio::io_context& io_;
  const daemon::Config& config_;
  std::string domain_;
  io::DnsResolver dns_;
  io::PolicyFetcher fetcher_;
  io::MxProbe probe_;
  std::vector<core::Finding> findings_;
  std::vector<core::MxHostFacts> hosts_;
  std::optional<core::StsPolicy> policy_;
  std::string policy_text_;
  std::vector<std::string> steps_;
};

}  // namespace

int check(const daemon::Config& config, const CheckOptions& options) {
  const auto hop = core::normalize_next_hop(options.domain);
  if (hop.kind != core::NextHopKind::domain) {
    std::cerr << "mtastsctl: '" << options.domain << "' is not a domain name\n";
    return kCheckUnknown;
  }
  daemon::MxValidationSettings validation = config.mx_validation;
  if (!options.helo_name.empty()) validation.probe.helo_name = options.helo_name;
  auto probe = daemon::probe_settings(validation);
  if (!probe || !core::is_host_name(probe->helo_name)) {
    std::cerr << "mtastsctl: " << (probe ? "\"" + probe->helo_name + "\" is not a host name" : probe.error())
              << ": give --helo NAME or mx_validation.helo_name\n";
    return kCheckUnknown;
  }
  asio::io_context io(1);
  std::vector<core::Finding> findings;
  try {
    Check check(io, config, hop.domain, std::move(*probe));
    auto done = asio::co_spawn(io, check.run(), asio::use_future);
    io.run();  // also runs the probes run() started, to their end
    done.get();
    findings = check.findings();
    if (options.as_json)
      std::cout << check_json(hop.domain, findings, check.policy(), check.policy_text(), check.steps()).dump(2)
                << "\n";
    else
      std::cout << check_text(hop.domain, findings);
  } catch (const std::exception& e) {  // unusable settings (CA file), or a bug
    std::cerr << "mtastsctl: check failed: " << e.what() << "\n";
    return kCheckUnknown;
  }
  switch (core::worst(findings)) {
    case core::Severity::ok:
    case core::Severity::skipped: return kCheckOk;
    case core::Severity::warning: return kCheckWarnings;
    case core::Severity::failure: return kCheckFailures;
  }
  return kCheckUnknown;
}

}  // namespace mtastsd::ctl

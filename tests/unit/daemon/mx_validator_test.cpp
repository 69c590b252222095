// The MX validator with DNS and SMTP stood in for (MxValidatorNetwork) on a real LMDB
// table in a temporary directory and a fixed clock: which lookups start a validation,
// what a run stores (patterns, implicit MX, address choice, MX lookup failure), single
// flight per domain, the global probe limit, one probe per host and address per
// interval across domains, validations counted as sessions, and the checks counted in
// the metrics (mtastsd_mx_validations_total) once, when made.
#include "daemon/mx_validator.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include "core/cache_rules.hpp"
#include "io/dns_rdata.hpp"

namespace mtastsd::daemon {
namespace mx_validator_test {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using core::MxOutcome;

const util::TimePoint kNow = util::from_unix(1'711'972'800);

core::CacheRecord policy(const std::string& domain, core::StsMode mode, std::string id = "pol1") {
  core::FetchSuccess f;
  f.policy.mode = mode;
  f.policy.max_age = 86400;
  f.policy.mx = {"mail." + domain, "*.mx." + domain};
  f.policy.lines = {"version: STSv1", "mode: " + std::string(core::to_string(mode))};
  f.text = "(body)";
  const core::TxtOutcome txt{core::TxtStatus::found, std::move(id), util::Seconds(300), ""};
  return core::apply_fetch_success(nullptr, txt, std::move(f), kNow, core::CacheSettings{});
}

io::DnsAnswer answer(std::vector<std::string> records) {
  io::DnsAnswer a;
  a.records = std::move(records);
  if (a.records.empty()) a.rcode = io::DnsRcode::nxdomain;
  return a;
}

// DNS and SMTP as tables; every probe yields to the loop a few times, so that probes
// of several domains overlap as real ones do.
struct FakeNetwork {
  std::map<std::string, MxValidatorNetwork::DnsResult> mx;        // domain -> MX answer
  std::map<std::string, std::vector<std::string>> addresses;     // host -> A/AAAA
  std::map<std::string, std::string> tlsrpt;                     // domain -> TXT at _smtp._tls
  std::map<std::string, io::MxProbeResult> results;              // "host address" -> result (default ok)
  std::vector<std::string> mx_queries, probes;
  std::size_t running = 0, most_running = 0;

  MxValidatorNetwork network(asio::any_io_executor ex) {
    return MxValidatorNetwork{
        .query = [this](std::string name, int rrtype) -> asio::awaitable<MxValidatorNetwork::DnsResult> {
          if (rrtype == io::rrtype::mx) {
            mx_queries.push_back(name);
            auto it = mx.find(name);
            co_return it != mx.end() ? it->second : answer({});
          }
          const std::string domain = name.substr(std::string("_smtp._tls.").size());
          auto it = tlsrpt.find(domain);
          co_return answer(it != tlsrpt.end() ? std::vector{it->second} : std::vector<std::string>{});
        },
        .query_addresses = [this](std::string host) -> asio::awaitable<MxValidatorNetwork::AddressResult> {
          auto it = addresses.find(host);
          co_return it != addresses.end() ? it->second : std::vector<std::string>{};
        },
        .probe = [this, ex](std::string host, asio::ip::address address) -> asio::awaitable<io::MxProbeResult> {
          const std::string key = host + " " + address.to_string();
          probes.push_back(key);
          most_running = std::max(most_running, ++running);
          for (int i = 0; i < 3; ++i) co_await asio::post(ex, asio::use_awaitable);
          --running;
          auto it = results.find(key);
          co_return it != results.end() ? it->second : io::MxProbeResult{.helo = host};
        },
    };
  }
};

class MxValidatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "mx_validator_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    auto env = io::StoreEnv::open({(root_ / "state").string(), 8u << 20, false});
    ASSERT_TRUE(env.has_value()) << env.error().detail;
    env_ = *env;
    store_ = std::move(io::MxValidationStore::open(env_).value());
  }
  void TearDown() override {
    validator_.reset();
    store_.reset();
    env_.reset();
    fs::remove_all(root_);
  }

  MxValidator& validator(MxValidator::SessionSink sink = {}) {
    validator_ = std::make_unique<MxValidator>(io_.get_executor(), settings_, *store_, net_.network(io_.get_executor()),
                                               metrics_, std::move(sink), [this] { return now_; });
    return *validator_;
  }
  // Runs the loop until every validation has finished.
  void run() {
    io_.restart();
    io_.run();
    EXPECT_EQ(validator_->in_flight(), 0u);
  }
  core::MxValidations stored(const std::string& domain) {
    auto got = store_->get(domain);
    EXPECT_TRUE(got.has_value() && got->has_value()) << domain;
    return got && *got ? **got : core::MxValidations{};
  }
  // mtastsd_mx_validations_total{outcome}.
  double counted(const std::string& outcome) const {
    for (const nlohmann::json& s : metrics_.samples())
      if (s["name"] == "mtastsd_mx_validations_total" && s["labels"]["outcome"] == outcome) return s["value"];
    return 0;
  }
  // A domain with one host in the policy (mail.<domain>, one IPv4 address).
  void one_host(const std::string& domain, const std::string& address) {
    net_.mx[domain] = answer({"mail." + domain});
    net_.addresses["mail." + domain] = {address};
  }

  asio::io_context io_;
  fs::path root_;
  std::shared_ptr<io::StoreEnv> env_;
  std::unique_ptr<io::MxValidationStore> store_;
  MxValidationSettings settings_;
  FakeNetwork net_;
  Metrics metrics_{"test", kNow};
  std::unique_ptr<MxValidator> validator_;
  util::TimePoint now_ = kNow;
  Profile profile_{.name = "default"};
};

TEST_F(MxValidatorTest, ARunStoresEveryHostInMxOrder) {
  net_.mx["example.com"] = answer({"mail.example.com", "rogue.example.net", "b.mx.example.com", "c.mx.example.com"});
  net_.addresses["mail.example.com"] = {"192.0.2.1", "192.0.2.2", "2001:db8::1"};  // one per family probed
  net_.addresses["b.mx.example.com"] = {"192.0.2.3"};
  // c.mx.example.com has no address.
  net_.results["b.mx.example.com 192.0.2.3"] = {.failure = core::FailureType::certificate_expired,
                                                .detail = "certificate expired",
                                                .helo = "b.greeting.example"};
  validator().note_answer("example.com", policy("example.com", core::StsMode::testing), profile_);
  EXPECT_EQ(validator_->in_flight(), 1u);
  EXPECT_FALSE(store_->get("example.com").value().has_value());  // nothing before the loop runs
  run();

  const core::MxValidations v = stored("example.com");
  EXPECT_EQ(v.checked_at, kNow);
  EXPECT_EQ(v.policy_id, "pol1");
  EXPECT_EQ(v.mx_error, "");
  ASSERT_EQ(v.hosts.size(), 4u);
  EXPECT_EQ(v.hosts[0].host, "mail.example.com");
  ASSERT_EQ(v.hosts[0].checks.size(), 2u);
  EXPECT_EQ(v.hosts[0].checks[0].address, "192.0.2.1");
  EXPECT_EQ(v.hosts[0].checks[0].outcome, MxOutcome::ok);
  EXPECT_EQ(v.hosts[0].checks[0].helo, "mail.example.com");
  EXPECT_EQ(v.hosts[0].checks[1].address, "2001:db8::1");
  EXPECT_EQ(v.hosts[1].host, "rogue.example.net");  // not in the policy: not resolved, not probed
  ASSERT_EQ(v.hosts[1].checks.size(), 1u);
  EXPECT_EQ(v.hosts[1].checks[0], core::not_in_policy_check(kNow));
  EXPECT_EQ(v.hosts[2].checks.at(0).outcome, MxOutcome::failed);
  EXPECT_EQ(v.hosts[2].checks.at(0).failure, core::FailureType::certificate_expired);
  EXPECT_EQ(v.hosts[2].checks.at(0).detail, "certificate expired");
  EXPECT_EQ(v.hosts[2].checks.at(0).helo, "b.greeting.example");
  EXPECT_EQ(v.hosts[3].checks.at(0), core::no_address_check(kNow, "no A/AAAA records"));
  EXPECT_EQ(net_.probes, (std::vector<std::string>{"mail.example.com 192.0.2.1", "mail.example.com 2001:db8::1",
                                                   "b.mx.example.com 192.0.2.3"}));
  EXPECT_EQ(counted("ok"), 2);
  EXPECT_EQ(counted("validation-failure"), 1);   // rogue.example.net
  EXPECT_EQ(counted("certificate-expired"), 1);
  EXPECT_EQ(counted("unreachable"), 1);          // c.mx.example.com, no address
}

TEST_F(MxValidatorTest, OnlyTestingPoliciesUnlessTheProfileValidatesEnforce) {
  one_host("example.com", "192.0.2.1");
  validator().note_answer("example.com", policy("example.com", core::StsMode::enforce), profile_);
  validator_->note_answer("example.com", policy("example.com", core::StsMode::none), profile_);
  run();
  EXPECT_TRUE(net_.mx_queries.empty());
  EXPECT_FALSE(store_->get("example.com").value().has_value());

  profile_.validate_enforce = true;
  validator_->note_answer("example.com", policy("example.com", core::StsMode::enforce), profile_);
  run();
  EXPECT_EQ(stored("example.com").hosts.at(0).checks.at(0).outcome, MxOutcome::ok);
}

TEST_F(MxValidatorTest, DueOncePerIntervalAndAtOnceForANewPolicy) {
  one_host("example.com", "192.0.2.1");
  validator().note_answer("example.com", policy("example.com", core::StsMode::testing), profile_);
  run();
  now_ = kNow + settings_.interval - std::chrono::seconds(1);
  validator_->note_answer("example.com", policy("example.com", core::StsMode::testing), profile_);
  run();
  EXPECT_EQ(net_.mx_queries.size(), 1u);

  // A new policy id: its patterns apply at once, the host's check is reused.
  validator_->note_answer("example.com", policy("example.com", core::StsMode::testing, "pol2"), profile_);
  run();
  EXPECT_EQ(net_.mx_queries.size(), 2u);
  EXPECT_EQ(net_.probes.size(), 1u);
  EXPECT_EQ(stored("example.com").policy_id, "pol2");
  EXPECT_EQ(stored("example.com").hosts.at(0).checks.at(0).checked_at, kNow);

  now_ += settings_.interval;  // an interval after the pol2 run
  validator_->note_answer("example.com", policy("example.com", core::StsMode::testing, "pol2"), profile_);
  run();
  EXPECT_EQ(net_.mx_queries.size(), 3u);
  EXPECT_EQ(net_.probes.size(), 2u);
  EXPECT_EQ(stored("example.com").hosts.at(0).checks.at(0).checked_at, now_);
}

TEST_F(MxValidatorTest, OneValidationPerDomainAtATime) {
  one_host("example.com", "192.0.2.1");
  MxValidator& v = validator();
  for (int i = 0; i < 5; ++i) v.note_answer("example.com", policy("example.com", core::StsMode::testing), profile_);
  EXPECT_EQ(v.in_flight(), 1u);
  run();
  EXPECT_EQ(net_.mx_queries.size(), 1u);
  EXPECT_EQ(net_.probes.size(), 1u);
}

TEST_F(MxValidatorTest, ProbesRunAtMostConcurrencyAtOnce) {
  settings_.concurrency = 2;
  MxValidator& v = validator();
  for (int d = 1; d <= 3; ++d) {
    const std::string domain = "d" + std::to_string(d) + ".example";
    net_.mx[domain] = answer({"a.mx." + domain, "b.mx." + domain});
    net_.addresses["a.mx." + domain] = {"192.0.2." + std::to_string(d)};
    net_.addresses["b.mx." + domain] = {"198.51.100." + std::to_string(d)};
    v.note_answer(domain, policy(domain, core::StsMode::testing), profile_);
  }
  run();
  EXPECT_EQ(net_.probes.size(), 6u);
  EXPECT_EQ(net_.most_running, 2u);
  for (int d = 1; d <= 3; ++d) EXPECT_EQ(stored("d" + std::to_string(d) + ".example").hosts.size(), 2u);
}

// Hosted mail: many domains, one MX host. It is probed once per interval, not once per domain.
TEST_F(MxValidatorTest, AHostSharedByDomainsIsProbedOnce) {
  MxValidator& v = validator();
  for (const std::string domain : {"a.example", "b.example", "c.example"}) {
    net_.mx[domain] = answer({"mx.hoster.example"});
    core::CacheRecord record = policy(domain, core::StsMode::testing);
    record.policy.mx = {"mx.hoster.example"};
    v.note_answer(domain, record, profile_);
  }
  net_.addresses["mx.hoster.example"] = {"192.0.2.7"};
  net_.results["mx.hoster.example 192.0.2.7"] = {.failure = core::FailureType::certificate_not_trusted};
  run();
  EXPECT_EQ(net_.probes.size(), 1u);
  for (const std::string domain : {"a.example", "b.example", "c.example"})
    EXPECT_EQ(stored(domain).hosts.at(0).checks.at(0).failure, core::FailureType::certificate_not_trusted) << domain;
  EXPECT_EQ(counted("certificate-not-trusted"), 1);  // one check made, shared
}

TEST_F(MxValidatorTest, NoMxRecordsMeansTheDomainItself) {
  net_.addresses["example.com"] = {"192.0.2.9"};
  core::CacheRecord record = policy("example.com", core::StsMode::testing);
  record.policy.mx = {"example.com"};
  validator().note_answer("example.com", record, profile_);
  run();
  const core::MxValidations v = stored("example.com");
  ASSERT_EQ(v.hosts.size(), 1u);
  EXPECT_EQ(v.hosts[0].host, "example.com");
  EXPECT_EQ(net_.probes, std::vector<std::string>{"example.com 192.0.2.9"});
}

TEST_F(MxValidatorTest, AFailedMxLookupKeepsTheLastHostsAndRetriesSooner) {
  one_host("example.com", "192.0.2.1");
  validator().note_answer("example.com", policy("example.com", core::StsMode::testing), profile_);
  run();
  net_.mx["example.com"] = std::unexpected(io::DnsError{io::DnsErrorKind::servfail, "SERVFAIL"});
  now_ = kNow + settings_.interval;
  validator_->note_answer("example.com", policy("example.com", core::StsMode::testing), profile_);
  run();
  core::MxValidations v = stored("example.com");
  EXPECT_EQ(v.mx_error, "MX lookup failed: servfail (SERVFAIL)");
  EXPECT_EQ(v.hosts.at(0).checks.at(0).checked_at, kNow);
  EXPECT_EQ(v.checked_at, now_);
  EXPECT_EQ(counted("mx-lookup-failed"), 1);
  EXPECT_EQ(counted("ok"), 1);  // the first run's; the stored check is not counted again

  one_host("example.com", "192.0.2.1");
  now_ += core::kMxLookupRetry;
  validator_->note_answer("example.com", policy("example.com", core::StsMode::testing), profile_);
  run();
  EXPECT_EQ(stored("example.com").mx_error, "");
  EXPECT_EQ(net_.mx_queries.size(), 3u);
}

TEST_F(MxValidatorTest, CountedAsSessionsWithTheTlsrptRecord) {
  settings_.count_as_sessions = true;
  std::vector<core::SessionEvent> sessions;
  MxValidator& v = validator([&](core::SessionEvent e) { sessions.push_back(std::move(e)); });
  net_.mx["example.com"] = answer({"mail.example.com", "rogue.example.net"});
  net_.addresses["mail.example.com"] = {"192.0.2.1", "2001:db8::1"};
  net_.results["mail.example.com 2001:db8::1"] = {.unreachable = true, .detail = "connection refused"};
  net_.tlsrpt["example.com"] = "v=TLSRPTv1; rua=mailto:tlsrpt@example.com";
  v.note_answer("example.com", policy("example.com", core::StsMode::testing), profile_);
  // No TLSRPT record: nobody to report to.
  one_host("norpt.example", "192.0.2.2");
  v.note_answer("norpt.example", policy("norpt.example", core::StsMode::testing), profile_);
  run();
  ASSERT_EQ(sessions.size(), 2u);  // the unreachable address is no session
  EXPECT_EQ(sessions[0].report_domain, "example.com");
  EXPECT_EQ(sessions[0].tlsrpt_record, "v=TLSRPTv1; rua=mailto:tlsrpt@example.com");
  EXPECT_EQ(sessions[0].policy.type, core::PolicyType::sts);
  EXPECT_FALSE(sessions[0].failed);
  EXPECT_TRUE(sessions[1].failed);
  EXPECT_EQ(sessions[1].failure_details.at(0).receiving_mx_hostname, "rogue.example.net");

  // The next run reuses nothing (all due again): counted again; a run that reuses is not.
  now_ = kNow + settings_.interval;
  v.note_answer("example.com", policy("example.com", core::StsMode::testing, "pol2"), profile_);
  run();
  EXPECT_EQ(sessions.size(), 4u);
  now_ += std::chrono::minutes(1);
  v.note_answer("example.com", policy("example.com", core::StsMode::testing, "pol3"), profile_);
  run();
  EXPECT_EQ(sessions.size(), 5u);  // only the host-level check is new
}

}  // namespace mx_validator_test
}  // namespace mtastsd::daemon

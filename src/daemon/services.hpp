// One generation of mtastsd's services, all built from one Config on one
// io_context: DNS resolver, policy fetcher, lookup service and socketmap server,
// refresher, TLS-RPT collection and report sending, MX validation of
// testing-mode domains, and the timers that commit TLS-RPT counts and prune old
// state. The process (daemon.cpp) keeps what must outlive a generation: the
// LMDB environment and its tables, the listening sockets, the log. A reload
// (SIGHUP) drains the running generation and starts a new one from the new file;
// the generation owns its copy of the Config, so every part of it sees one
// consistent configuration.
#pragma once
#include <chrono>
#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <boost/asio/io_context.hpp>
#include "daemon/config.hpp"
#include "daemon/listeners.hpp"
#include "io/mx_validation_store.hpp"
#include "io/policy_store.hpp"
#include "io/store_env.hpp"
#include "io/tlsrpt_store.hpp"
#include "util/clock.hpp"

namespace mtastsd::daemon {

class LookupService;
class Metrics;

// What the process lends every generation.
struct ProcessResources {
  std::shared_ptr<io::StoreEnv> env;
  io::PolicyStore& policies;
  io::TlsrptStore& tlsrpt;
  io::MxValidationStore& validations;
  const ListenerSet& listeners;
  Metrics& metrics;         // counters survive reloads (Prometheus expects them monotonic)
  util::TimePoint started;  // when the process started (mtastsctl status)
  // The same moment on the steady clock: the uptime, right whatever the wall clock does.
  std::chrono::steady_clock::time_point started_steady;
};

class Services {
 public:
  // Builds and starts every service. Errors (an unusable trust anchor, CA file,
  // DKIM key or Postfix log) are values: at start-up fatal, at a reload a reason to
  // go back to the previous configuration.
  static std::expected<std::unique_ptr<Services>, std::string> start(boost::asio::io_context& io, Config config,
                                                                     ProcessResources process);
  ~Services();  // commits what the TLS-RPT aggregator still holds

  // Stop accepting and all background work; `done` runs (on the io_context) once the
  // replies being computed and the report deliveries in flight have finished, or at
  // the drain deadline (lookup.reply_deadline), whichever comes first.
  void drain(std::function<void()> done);

  const Config& config() const;
  // The lookup service (mtastsctl cache refresh goes through it).
  LookupService& lookups();
  // Counts since this generation started, logged when it ends.
  void log_summary() const;

 private:
  struct Impl;
  explicit Services(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mtastsd::daemon

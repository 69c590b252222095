// Background cache maintenance (RFC 8461 sec. 3.3 "proactively refresh"): every
// scan interval (jittered), re-fetch policies of recently used domains that are
// due within the refresh margin, and delete entries unused for long that hold
// nothing valid. Concurrency is bounded by refresh_concurrency resolutions.
// A scan walks the cache in slices (io::PolicyStore::for_each_slice), each in its
// own read transaction, and gives the event loop back between them, so lookups
// wait for at most one slice, not a walk of the whole cache (100k records: about
// 50 ms of decoding, bench/README.md).
#pragma once
#include <memory>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include "daemon/config.hpp"
#include "daemon/lookup_service.hpp"
#include "io/policy_store.hpp"

namespace mtastsd::daemon {

class Refresher {
 public:
  Refresher(boost::asio::any_io_executor ex, const Config& config, io::PolicyStore& store, LookupService& service,
            util::NowFn now = util::system_now);
  void start();
  void stop();

  struct ScanResult {
    std::size_t refreshed = 0, dropped = 0, deferred = 0;
  };
  boost::asio::awaitable<ScanResult> scan();

 private:
  boost::asio::awaitable<void> loop();
  // Records per slice: about 0.5 ms of decoding on the benchmark machine.
  static constexpr std::size_t kScanSlice = 1000;
  boost::asio::any_io_executor ex_;
  const Config& config_;
  io::PolicyStore& store_;
  LookupService& service_;
  util::NowFn now_;
  boost::asio::steady_timer timer_;
  bool stopped_ = false;
};

}  // namespace mtastsd::daemon

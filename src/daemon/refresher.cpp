// Periodic refresh and expiry of cache entries; see the header.
#include "daemon/refresher.hpp"

#include <random>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

namespace asio = boost::asio;

namespace mtastsd::daemon {

Refresher::Refresher(asio::any_io_executor ex, const Config& config, io::PolicyStore& store, LookupService& service,
                     util::NowFn now)
    : ex_(ex), config_(config), store_(store), service_(service), now_(std::move(now)), timer_(ex) {}

void Refresher::start() { asio::co_spawn(ex_, loop(), asio::detached); }

void Refresher::stop() {
  stopped_ = true;
  timer_.cancel();
}

asio::awaitable<Refresher::ScanResult> Refresher::scan() {
  ScanResult result;
  const auto now = now_();
  std::vector<std::string> due, drop;
  std::string after;
  for (;;) {
    auto slice = store_.for_each_slice(after, kScanSlice, [&](std::string_view domain, const auto& record) {
      if (!record) return;  // corrupt: the lookup path logs and replaces it
      if (core::should_drop(*record, now, config_.cache))
        drop.emplace_back(domain);
      else if (core::needs_refresh(*record, now, config_.cache))
        due.emplace_back(domain);
    });
    if (!slice) {
      spdlog::warn("cache scan failed: {}", slice.error().detail);
      co_return result;
    }
    if (!*slice) break;
    after = std::move(**slice);
    co_await asio::post(ex_, asio::use_awaitable);
    if (stopped_) co_return result;
  }
  for (const auto& domain : drop) {
    if (store_.erase(domain)) ++result.dropped;
  }
  // Shuffle so that a persistent backlog does not always starve the same domains.
  std::shuffle(due.begin(), due.end(), std::mt19937{std::random_device{}()});
  for (const auto& domain : due) {
    if (service_.in_flight() >= config_.refresh_concurrency) {
      ++result.deferred;
      continue;
    }
    service_.resolve_in_background(domain, true);
    ++result.refreshed;
  }
  if (result.refreshed || result.dropped || result.deferred)
    spdlog::info("cache maintenance: {} refreshing, {} dropped, {} deferred", result.refreshed, result.dropped,
                 result.deferred);
  co_return result;
}

asio::awaitable<void> Refresher::loop() {
  std::mt19937 rng{std::random_device{}()};
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  while (!stopped_) {
    const auto period = std::chrono::duration_cast<std::chrono::milliseconds>(config_.refresh_scan_interval * jitter(rng));
    timer_.expires_after(period);
    boost::system::error_code ec;
    co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (stopped_) break;
    co_await scan();
  }
}

}  // namespace mtastsd::daemon

// libtlsrpt datagrams in; see the header.
#include "daemon/tlsrpt_collector.hpp"

#include <vector>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/local/datagram_protocol.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include "core/tlsrpt_datagram.hpp"
#include "daemon/throttled_warning.hpp"

namespace asio = boost::asio;
using boost::system::error_code;

namespace mtastsd::daemon {

struct TlsrptCollector::Impl : std::enable_shared_from_this<Impl> {
  asio::any_io_executor ex;
  const TlsRptSettings& settings;
  TlsrptAggregator& aggregator;
  Metrics& metrics;
  asio::local::datagram_protocol::socket socket;
  ThrottledWarning malformed;
  std::uint64_t received = 0;
  bool stopping = false;

  Impl(asio::any_io_executor e, const TlsRptSettings& s, TlsrptAggregator& a, Metrics& m)
      : ex(e), settings(s), aggregator(a), metrics(m), socket(e), malformed(e, "malformed TLS-RPT datagram") {}

  asio::awaitable<void> receive_loop() {
    auto self = shared_from_this();
    // One more byte than the cap, so that a datagram above it shows as too long.
    std::vector<char> buffer(core::kMaxDatagramSize + 1);
    while (!stopping) {
      error_code ec;
      const std::size_t n =
          co_await socket.async_receive(asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
      if (ec == asio::error::operation_aborted || stopping) break;
      if (ec) {
        // Datagram sockets report no peer errors; anything here is local and transient.
        spdlog::warn("TLS-RPT socket {}: receive failed: {}", settings.socket.unix_path, ec.message());
        continue;
      }
      ++received;
      auto sessions = core::parse_tlsrpt_datagram(std::string_view(buffer.data(), n));
      if (!sessions) {
        metrics.tlsrpt_datagram_rejected();
        malformed.note(fmt::format("{}: {}", core::to_string(sessions.error().error), sessions.error().detail));
        continue;
      }
      metrics.tlsrpt_datagram_accepted();
      for (core::SessionEvent& session : *sessions) aggregator.add(std::move(session));
    }
  }
};

TlsrptCollector::TlsrptCollector(asio::any_io_executor ex, const TlsRptSettings& settings,
                                 TlsrptAggregator& aggregator, Metrics& metrics, int socket_fd)
    : impl_(std::make_shared<Impl>(std::move(ex), settings, aggregator, metrics)) {
  impl_->socket.assign(asio::local::datagram_protocol(), socket_fd);
}

TlsrptCollector::~TlsrptCollector() { stop(); }

void TlsrptCollector::start() { asio::co_spawn(impl_->ex, impl_->receive_loop(), asio::detached); }

void TlsrptCollector::stop() {
  impl_->stopping = true;
  error_code ignored;
  impl_->socket.close(ignored);
}

std::uint64_t TlsrptCollector::received() const { return impl_->received; }
std::uint64_t TlsrptCollector::malformed() const { return impl_->malformed.total(); }

}  // namespace mtastsd::daemon

// The Prometheus scrape endpoint; see the header.
#include "daemon/metrics_server.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <list>
#include <optional>
#include <system_error>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include "daemon/accept_next.hpp"
#include "daemon/throttled_warning.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using boost::system::error_code;

namespace mtastsd::daemon {
namespace {

constexpr std::string_view kMetricsPath = "/metrics";
// The text exposition format's media type (Prometheus "Exposition formats", 0.0.4).
constexpr std::string_view kTextFormat = "text/plain; version=0.0.4";

// Takes over a listening TCP socket; closes it and throws when it is none.
tcp::acceptor adopt_listener(const asio::any_io_executor& ex, int fd) {
  const auto fail = [fd](int error, const char* what) {
    ::close(fd);
    throw std::system_error(error, std::generic_category(), std::string("metrics listener: ") + what);
  };
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) fail(errno, "getsockname");
  if (address.ss_family != AF_INET && address.ss_family != AF_INET6) fail(EAFNOSUPPORT, "not a TCP socket");
  int listening = 0;
  socklen_t size = sizeof listening;
  if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) != 0) fail(errno, "getsockopt");
  if (!listening) fail(EINVAL, "the socket is not listening");
  tcp::acceptor acceptor(ex);
  error_code ec;
  acceptor.assign(address.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), fd, ec);
  if (ec) fail(ec.value(), "assign");
  return acceptor;
}

http::response<http::string_body> plain_reply(http::status status, std::string body) {
  http::response<http::string_body> reply{status, 11};
  reply.set(http::field::content_type, "text/plain; charset=utf-8");
  reply.body() = std::move(body);
  reply.prepare_payload();
  return reply;
}

// The status a failed request read is answered with; nullopt: nothing to answer
// (deadline, the client left or reset, stop()).
std::optional<http::status> refusal(const error_code& ec) {
  if (ec == http::error::header_limit) return http::status::request_header_fields_too_large;
  if (ec == http::error::body_limit) return http::status::payload_too_large;
  if (ec == http::error::end_of_stream) return std::nullopt;
  if (ec.category() == http::make_error_code(http::error::bad_method).category()) return http::status::bad_request;
  return std::nullopt;
}

}  // namespace

struct MetricsServer::Impl : std::enable_shared_from_this<Impl> {
  asio::any_io_executor ex;
  const Metrics& metrics;
  const MetricsServerLimits limits;
  tcp::acceptor acceptor;
  std::list<beast::tcp_stream*> open;  // live connections, for stop()
  bool stopping = false;
  ThrottledWarning full;

  Impl(asio::any_io_executor e, int fd, const Metrics& m, MetricsServerLimits l)
      : ex(e),
        metrics(m),
        limits(l),
        acceptor(adopt_listener(e, fd)),
        full(e, fmt::format("metrics connection refused, {} already open", l.max_connections)) {}

  asio::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    while (!stopping) {
      auto accepted = co_await accept_next(acceptor, "metrics");
      if (!accepted || stopping) break;
      tcp::socket& socket = *accepted;
      error_code ec;
      if (open.size() >= limits.max_connections) {
        full.note("closed on accept");
        socket.close(ec);
        continue;
      }
      asio::co_spawn(ex, serve(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> serve(tcp::socket socket) {
    auto self = shared_from_this();
    beast::tcp_stream stream(std::move(socket));
    // Listed for stop() while this frame lives, however it ends.
    struct Listed {
      std::list<beast::tcp_stream*>& list;
      std::list<beast::tcp_stream*>::iterator at;
      ~Listed() { list.erase(at); }
    } listed{open, open.insert(open.end(), &stream)};
    stream.expires_after(limits.deadline);  // the one deadline: every step below ends by then
    error_code ec;
    auto capture = asio::redirect_error(asio::use_awaitable, ec);  // an lvalue: Boost 1.74 Beast needs one
    beast::flat_buffer buffer;
    http::request_parser<http::empty_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
    parser.body_limit(0);  // a scrape has no body; a request with one is refused
    co_await http::async_read(stream, buffer, parser, capture);
    if (!ec) {
      auto reply = answer(parser.get());
      co_await http::async_write(stream, reply, capture);
    } else if (const auto status = refusal(ec)) {
      spdlog::debug("metrics: request refused ({}): {}", static_cast<unsigned>(*status), ec.message());
      auto reply = plain_reply(*status, std::string(http::obsolete_reason(*status)) + "\n");
      reply.keep_alive(false);
      co_await http::async_write(stream, reply, capture);
    } else if (ec == beast::error::timeout) {
      spdlog::debug("metrics: connection closed at its deadline of {} ms", limits.deadline.count());
    }
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream.close();
  }

  http::response<http::string_body> answer(const http::request<http::empty_body>& request) const {
    const std::string_view target = request.target();
    const std::string_view path = target.substr(0, target.find('?'));
    http::response<http::string_body> reply;
    if (path != kMetricsPath) {
      reply = plain_reply(http::status::not_found, "only /metrics is served here\n");
    } else if (request.method() != http::verb::get && request.method() != http::verb::head) {
      reply = plain_reply(http::status::method_not_allowed, "GET or HEAD\n");
      reply.set(http::field::allow, "GET, HEAD");
    } else {
      reply = http::response<http::string_body>{http::status::ok, 11};
      reply.set(http::field::content_type, kTextFormat);
      reply.body() = metrics.text();
      reply.prepare_payload();
      if (request.method() == http::verb::head) reply.body().clear();  // Content-Length stays the GET's
    }
    reply.keep_alive(false);
    return reply;
  }
};

MetricsServer::MetricsServer(asio::any_io_executor ex, int listening_fd, const Metrics& metrics,
                             MetricsServerLimits limits)
    : impl_(std::make_shared<Impl>(std::move(ex), listening_fd, metrics, limits)) {}

MetricsServer::~MetricsServer() { stop(); }

void MetricsServer::start() {
  error_code ec;
  const tcp::endpoint where = impl_->acceptor.local_endpoint(ec);
  const std::string host = where.address().is_v6() ? "[" + where.address().to_string() + "]" : where.address().to_string();
  spdlog::info("metrics: serving http://{}:{}{}", host, where.port(), kMetricsPath);
  asio::co_spawn(impl_->ex, impl_->accept_loop(), asio::detached);
}

void MetricsServer::stop() {
  impl_->stopping = true;
  error_code ignored;
  impl_->acceptor.close(ignored);
  for (beast::tcp_stream* stream : impl_->open) stream->socket().close(ignored);
}

std::size_t MetricsServer::connections() const { return impl_->open.size(); }

}  // namespace mtastsd::daemon

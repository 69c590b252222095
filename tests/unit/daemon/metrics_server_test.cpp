// The metrics HTTP server on a loopback listener with raw TCP clients on the same
// io_context: GET/HEAD /metrics, 404 and 405, a request body refused (413), the
// header cap (431), the per-connection deadline (a slow client is cut off while
// others are served), the connection limit, stop() ending every connection, and
// descriptors that are no listening TCP socket.
#include "daemon/metrics_server.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <list>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace mtastsd::daemon {
namespace metrics_server_test {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

// What one client saw: everything the server sent until it closed the connection.
struct Exchange {
  bool done = false;
  bool connected = false;
  std::string response;
  std::chrono::steady_clock::duration took{};

  std::string status_line() const { return response.substr(0, response.find("\r\n")); }
  std::string head() const { return response.substr(0, response.find("\r\n\r\n") + 2); }
  std::string body() const {
    const auto at = response.find("\r\n\r\n");
    return at == std::string::npos ? "" : response.substr(at + 4);
  }
};

// Connects, sends `request` (maybe only part of one), reads until the server closes.
asio::awaitable<void> exchange(tcp::endpoint where, std::string request, Exchange& out) {
  tcp::socket socket(co_await asio::this_coro::executor);
  boost::system::error_code ec;
  co_await socket.async_connect(where, asio::redirect_error(asio::use_awaitable, ec));
  const auto started = std::chrono::steady_clock::now();
  out.connected = !ec;
  if (!ec && !request.empty())
    co_await asio::async_write(socket, asio::buffer(request), asio::redirect_error(asio::use_awaitable, ec));
  std::array<char, 4096> buffer;
  while (!ec) {
    const std::size_t n = co_await socket.async_read_some(asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
    out.response.append(buffer.data(), n);
  }
  out.took = std::chrono::steady_clock::now() - started;
  out.done = true;
}

class MetricsServerTest : public ::testing::Test {
 protected:
  void start(MetricsServerLimits limits = {}) {
    tcp::acceptor acceptor(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    where_ = acceptor.local_endpoint();
    server_ = std::make_unique<MetricsServer>(io_.get_executor(), acceptor.release(), metrics_, limits);
    server_->start();
  }
  Exchange& send(std::string request) {
    Exchange& out = exchanges_.emplace_back();
    asio::co_spawn(io_, exchange(where_, std::move(request), out), asio::detached);
    return out;
  }
  // Runs the loop until `condition` holds (at most 10 s, so that a bug fails instead of hanging).
  bool run_until(const std::function<bool()>& condition) {
    const auto limit = std::chrono::steady_clock::now() + 10s;
    while (!condition() && std::chrono::steady_clock::now() < limit) io_.run_one_for(100ms);
    return condition();
  }
  Exchange& request(std::string request) {
    Exchange& out = send(std::move(request));
    EXPECT_TRUE(run_until([&] { return out.done; }));
    return out;
  }

  asio::io_context io_;  // first: outlives the server and the clients' coroutines
  Metrics metrics_{"1.2.3", util::from_unix(1'711'972'800)};
  tcp::endpoint where_;
  std::unique_ptr<MetricsServer> server_;
  std::list<Exchange> exchanges_;
};

constexpr const char* kGet = "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n";
constexpr const char* kHalfHeader = "GET /metrics HTTP/1.1\r\nHost: loc";

TEST_F(MetricsServerTest, GetAnswersTheTextFormat) {
  start();
  metrics_.cache_hit();
  const Exchange& got = request(kGet);
  EXPECT_EQ(got.status_line(), "HTTP/1.1 200 OK");
  EXPECT_NE(got.head().find("Content-Type: text/plain; version=0.0.4\r\n"), std::string::npos) << got.head();
  EXPECT_NE(got.head().find("Connection: close\r\n"), std::string::npos) << got.head();
  EXPECT_EQ(got.body(), metrics_.text());
  EXPECT_NE(got.body().find("mtastsd_cache_hits_total 1\n"), std::string::npos);
}

TEST_F(MetricsServerTest, QueryStringIsIgnored) {
  start();
  EXPECT_EQ(request("GET /metrics?format=text HTTP/1.1\r\nHost: localhost\r\n\r\n").status_line(), "HTTP/1.1 200 OK");
}

TEST_F(MetricsServerTest, HeadHasTheLengthOfGetAndNoBody) {
  start();
  const Exchange& got = request("HEAD /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");
  EXPECT_EQ(got.status_line(), "HTTP/1.1 200 OK");
  EXPECT_NE(got.head().find("Content-Length: " + std::to_string(metrics_.text().size()) + "\r\n"), std::string::npos)
      << got.head();
  EXPECT_EQ(got.body(), "");
}

TEST_F(MetricsServerTest, OtherPathsAre404) {
  start();
  for (const char* path : {"/", "/metrics/", "/metricsx", "/other"}) {
    const Exchange& got = request(std::string("GET ") + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n");
    EXPECT_EQ(got.status_line(), "HTTP/1.1 404 Not Found") << path;
  }
}

TEST_F(MetricsServerTest, OtherMethodsAre405) {
  start();
  for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS"}) {
    const Exchange& got = request(std::string(method) + " /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");
    EXPECT_EQ(got.status_line(), "HTTP/1.1 405 Method Not Allowed") << method;
    EXPECT_NE(got.head().find("Allow: GET, HEAD\r\n"), std::string::npos) << got.head();
  }
}

TEST_F(MetricsServerTest, ARequestBodyIsRefused) {
  start();
  EXPECT_EQ(request("POST /metrics HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello").status_line(),
            "HTTP/1.1 413 Payload Too Large");
  EXPECT_EQ(request("GET /metrics HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
                .status_line(),
            "HTTP/1.1 413 Payload Too Large");
  // An empty body is none.
  EXPECT_EQ(request("GET /metrics HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n").status_line(),
            "HTTP/1.1 200 OK");
}

TEST_F(MetricsServerTest, HeaderCap) {
  start({.max_header_bytes = 1024});
  const auto with_fields_of = [](std::size_t bytes) {  // after the request line, the empty line included
    std::string fields = "Host: localhost\r\nX-Padding: ";
    fields += std::string(bytes - fields.size() - 4, 'x') + "\r\n\r\n";
    EXPECT_EQ(fields.size(), bytes);
    return "GET /metrics HTTP/1.1\r\n" + fields;
  };
  EXPECT_EQ(request(with_fields_of(1024)).status_line(), "HTTP/1.1 200 OK");
  // Beast looks a few bytes ahead for the header's end (see MetricsServerLimits).
  EXPECT_EQ(request(with_fields_of(1100)).status_line(), "HTTP/1.1 431 Request Header Fields Too Large");
  EXPECT_EQ(request(with_fields_of(5000)).status_line(), "HTTP/1.1 431 Request Header Fields Too Large");
  EXPECT_EQ(request("GET /metrics?" + std::string(1100, 'q') + " HTTP/1.1\r\nHost: localhost\r\n\r\n").status_line(),
            "HTTP/1.1 431 Request Header Fields Too Large");
}

TEST_F(MetricsServerTest, MalformedRequestIs400) {
  start();
  EXPECT_EQ(request("GET /metrics HTTP/9\r\n\r\n").status_line(), "HTTP/1.1 400 Bad Request");
}

TEST_F(MetricsServerTest, ASlowClientIsCutOffAtTheDeadlineWhileOthersAreServed) {
  start({.deadline = 500ms});
  const Exchange& slow = send(kHalfHeader);
  ASSERT_TRUE(run_until([&] { return server_->connections() == 1; }));
  const Exchange& other = request(kGet);
  EXPECT_EQ(other.status_line(), "HTTP/1.1 200 OK");
  EXPECT_FALSE(slow.done);
  ASSERT_TRUE(run_until([&] { return slow.done; }));
  EXPECT_EQ(slow.response, "");  // closed without an answer
  EXPECT_GE(slow.took, 500ms);
  EXPECT_LT(slow.took, 3s);
  EXPECT_EQ(server_->connections(), 0u);
}

TEST_F(MetricsServerTest, TheDeadlineCoversTheWholeConnection) {
  // A client trickling its header does not get a fresh deadline per read.
  start({.deadline = 500ms});
  Exchange out;
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        tcp::socket socket(io_);
        co_await socket.async_connect(where_, asio::use_awaitable);
        const auto started = std::chrono::steady_clock::now();
        asio::steady_timer pause(io_);
        boost::system::error_code ec;
        for (char c : std::string(kHalfHeader)) {
          co_await asio::async_write(socket, asio::buffer(&c, 1), asio::redirect_error(asio::use_awaitable, ec));
          if (ec) break;
          pause.expires_after(50ms);
          co_await pause.async_wait(asio::use_awaitable);
        }
        out.took = std::chrono::steady_clock::now() - started;
        out.done = true;
      },
      asio::detached);
  ASSERT_TRUE(run_until([&] { return out.done; }));
  EXPECT_GE(out.took, 500ms);
  EXPECT_LT(out.took, 1500ms);  // cut off, not after the whole header (about 2 s at this pace)
}

TEST_F(MetricsServerTest, ConnectionsAboveTheLimitAreClosedOnAccept) {
  start({.max_connections = 2, .deadline = 5s});
  const Exchange& a = send(kHalfHeader);
  const Exchange& b = send(kHalfHeader);
  ASSERT_TRUE(run_until([&] { return server_->connections() == 2; }));
  const Exchange& refused = request(kGet);
  EXPECT_TRUE(refused.connected);
  EXPECT_EQ(refused.response, "");
  EXPECT_LT(refused.took, 1s);
  EXPECT_FALSE(a.done || b.done);
}

TEST_F(MetricsServerTest, StopEndsTheListenerAndEveryConnection) {
  start({.deadline = 5s});
  const Exchange& open = send(kHalfHeader);
  ASSERT_TRUE(run_until([&] { return server_->connections() == 1; }));
  server_->stop();
  ASSERT_TRUE(run_until([&] { return open.done && server_->connections() == 0; }));
  EXPECT_EQ(open.response, "");
  EXPECT_LT(open.took, 1s);
  const Exchange& later = request(kGet);
  EXPECT_FALSE(later.connected);  // the listening socket is closed
}

TEST(MetricsServerListener, RefusesDescriptorsThatAreNoListeningTcpSocket) {
  asio::io_context io;
  Metrics metrics("1.2.3", util::from_unix(0));
  tcp::socket bound(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));  // bound, not listening
  EXPECT_THROW(MetricsServer(io.get_executor(), bound.release(), metrics), std::system_error);
  EXPECT_THROW(MetricsServer(io.get_executor(), ::socket(AF_UNIX, SOCK_STREAM, 0), metrics), std::system_error);
  EXPECT_THROW(MetricsServer(io.get_executor(), ::socket(AF_INET, SOCK_DGRAM, 0), metrics), std::system_error);
}

}  // namespace metrics_server_test
}  // namespace mtastsd::daemon

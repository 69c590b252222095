// The control server on a real unix socket in a temporary directory, its handlers
// stood in for, clients as coroutines on the same io_context: one request and one
// reply per connection, the domain handed over normalised, handler errors and
// exceptions as error replies, the connection cap, and stop() ending a connection
// whose refresh is still running.
#include "daemon/control_server.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include "core/control_protocol.hpp"
#include "util/netstring.hpp"

namespace mtastsd::daemon {
namespace control_server_test {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using boost::system::error_code;
using nlohmann::json;
using stream = asio::local::stream_protocol;

class ControlServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("control-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    path_ = (dir_ / "control.sock").string();
    fs::remove(path_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A bound, listening socket at path_, as the daemon hands it over.
  int listening_fd() {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path_.c_str(), path_.size() + 1);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)), 0) << std::strerror(errno);
    EXPECT_EQ(::listen(fd, 64), 0);
    return fd;
  }

  // Connects, sends `bytes`, reads until the server closes: everything it sent.
  asio::awaitable<std::string> exchange(std::string bytes) {
    stream::socket socket(io_);
    co_await socket.async_connect(stream::endpoint(path_), asio::use_awaitable);
    if (!bytes.empty()) co_await asio::async_write(socket, asio::buffer(bytes), asio::use_awaitable);
    std::string received;
    error_code ec;
    co_await asio::async_read(socket, asio::dynamic_buffer(received), asio::redirect_error(asio::use_awaitable, ec));
    co_return received;  // ec: eof (or reset) once the server has closed
  }

  // The reply to one request payload, parsed; the loop runs until the exchange is over.
  core::ControlReply call(ControlServer& server, const std::string& payload) {
    std::optional<std::string> raw;
    asio::co_spawn(io_, exchange(util::encode_netstring(payload)), [&](std::exception_ptr e, std::string got) {
      if (e) std::rethrow_exception(e);
      raw = std::move(got);
    });
    while (!raw) io_.run_one();
    util::NetstringDecoder decoder(core::kMaxControlReplyBytes);
    decoder.feed(*raw);
    auto framed = decoder.next();
    EXPECT_TRUE(framed && *framed) << "not one netstring: " << *raw;
    EXPECT_EQ(decoder.buffered(), 0u) << "more than one reply";
    auto reply = core::parse_control_reply(framed && *framed ? **framed : std::string());
    EXPECT_TRUE(reply) << *raw;
    // The server's side of the connection unwinds on the loop.
    while (server.connections() > 0) io_.run_one();
    return reply ? *reply : core::ControlReply{};
  }

  asio::io_context io_{1};
  fs::path dir_;
  std::string path_;
};

ControlHandlers fixed_handlers() {
  return ControlHandlers{
      .status = [] { return json{{"pid", 42}}; },
      .stats = [] { return core::samples_json({{"mtastsd_cache_hits_total", {}, 3}}); },
      .refresh = [](std::string domain) -> asio::awaitable<std::expected<json, std::string>> {
        if (domain == "nopolicy.example") co_return std::unexpected("no MTA-STS policy");
        co_return json{{"record", {{"domain", domain}}}};
      },
  };
}

TEST_F(ControlServerTest, AnswersStatusAndStats) {
  ControlServer server(io_.get_executor(), listening_fd(), fixed_handlers());
  server.start();
  const auto status = call(server, R"({"command":"status"})");
  EXPECT_TRUE(status.ok);
  EXPECT_EQ(status.body["pid"], 42);
  const auto stats = call(server, R"({"command":"stats"})");
  ASSERT_TRUE(stats.ok);
  const auto samples = core::parse_samples(stats.body);
  ASSERT_TRUE(samples) << samples.error();
  EXPECT_EQ(samples->at(0).name, "mtastsd_cache_hits_total");
}

TEST_F(ControlServerTest, RefreshGetsTheNormalisedDomain) {
  std::string seen;
  ControlHandlers handlers = fixed_handlers();
  handlers.refresh = [&seen](std::string domain) -> asio::awaitable<std::expected<json, std::string>> {
    seen = domain;
    co_return json{{"record", {{"domain", domain}}}};
  };
  ControlServer server(io_.get_executor(), listening_fd(), std::move(handlers));
  server.start();
  const auto reply = call(server, R"({"command":"refresh","domain":"Example.ORG."})");
  EXPECT_TRUE(reply.ok);
  EXPECT_EQ(seen, "example.org");
  EXPECT_EQ(reply.body["record"]["domain"], "example.org");
}

TEST_F(ControlServerTest, RefreshErrorNamesTheDomain) {
  ControlServer server(io_.get_executor(), listening_fd(), fixed_handlers());
  server.start();
  const auto reply = call(server, R"({"command":"refresh","domain":"nopolicy.example"})");
  EXPECT_FALSE(reply.ok);
  EXPECT_EQ(reply.error, "nopolicy.example: no MTA-STS policy");
}

TEST_F(ControlServerTest, MalformedRequestGetsTheParseError) {
  ControlServer server(io_.get_executor(), listening_fd(), fixed_handlers());
  server.start();
  const auto reply = call(server, R"({"command":"reload"})");
  EXPECT_FALSE(reply.ok);
  EXPECT_EQ(reply.error, core::to_string(core::ControlRequestError::bad_command));
}

TEST_F(ControlServerTest, HandlerExceptionsAreInternalErrors) {
  ControlHandlers handlers = fixed_handlers();
  handlers.status = []() -> json { throw std::runtime_error("boom"); };
  handlers.refresh = [](std::string) -> asio::awaitable<std::expected<json, std::string>> {
    throw std::runtime_error("boom");
    co_return json::object();
  };
  ControlServer server(io_.get_executor(), listening_fd(), std::move(handlers));
  server.start();
  EXPECT_EQ(call(server, R"({"command":"status"})").error, "internal error");
  EXPECT_EQ(call(server, R"({"command":"refresh","domain":"example.org"})").error, "internal error");
  EXPECT_TRUE(call(server, R"({"command":"stats"})").ok);  // still serving
}

TEST_F(ControlServerTest, StopEndsAConnectionWhoseRefreshIsRunning) {
  asio::steady_timer never(io_, asio::steady_timer::time_point::max());
  bool refresh_started = false;
  ControlHandlers handlers = fixed_handlers();
  handlers.refresh = [&](std::string) -> asio::awaitable<std::expected<json, std::string>> {
    refresh_started = true;
    error_code ec;
    co_await never.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    co_return json::object();
  };
  ControlServer server(io_.get_executor(), listening_fd(), std::move(handlers));
  server.start();
  std::optional<std::string> raw;
  asio::co_spawn(io_, exchange(util::encode_netstring(R"({"command":"refresh","domain":"example.org"})")),
                 [&](std::exception_ptr e, std::string got) {
                   if (e) std::rethrow_exception(e);
                   raw = std::move(got);
                 });
  while (!refresh_started) io_.run_one();
  EXPECT_EQ(server.connections(), 1u);
  server.stop();
  while (!raw || server.connections() > 0) io_.run_one();
  EXPECT_EQ(*raw, "");  // closed without a reply
  never.cancel();       // the refresh itself goes on until it ends; let it
  io_.run();
}

TEST_F(ControlServerTest, ConnectionsAboveTheCapAreClosedAtOnce) {
  asio::steady_timer never(io_, asio::steady_timer::time_point::max());
  std::size_t refreshing = 0;
  ControlHandlers handlers = fixed_handlers();
  handlers.refresh = [&](std::string) -> asio::awaitable<std::expected<json, std::string>> {
    ++refreshing;
    error_code ec;
    co_await never.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    co_return json{{"record", json::object()}};
  };
  ControlServer server(io_.get_executor(), listening_fd(), std::move(handlers));
  server.start();
  std::size_t finished = 0;
  std::vector<std::string> replies;
  const auto spawn_refresh = [&] {
    asio::co_spawn(io_, exchange(util::encode_netstring(R"({"command":"refresh","domain":"example.org"})")),
                   [&](std::exception_ptr e, std::string got) {
                     if (e) std::rethrow_exception(e);
                     replies.push_back(std::move(got));
                     ++finished;
                   });
  };
  for (std::size_t i = 0; i < kMaxControlConnections; ++i) spawn_refresh();
  while (refreshing < kMaxControlConnections) io_.run_one();
  spawn_refresh();  // one too many: closed without a reply
  while (finished < 1) io_.run_one();
  EXPECT_EQ(replies.at(0), "");
  EXPECT_EQ(server.connections(), kMaxControlConnections);
  never.cancel();  // every refresh ends: each waiting client gets its reply
  while (finished < kMaxControlConnections + 1) io_.run_one();
  for (std::size_t i = 1; i < replies.size(); ++i) EXPECT_NE(replies[i], "") << i;
  server.stop();
  io_.run();
}

}  // namespace control_server_test
}  // namespace mtastsd::daemon

// netstring_echo: the floor of the socketmap benchmarks. The cheapest correct
// socketmap server: it answers every netstring request with one fixed netstring
// reply (by default the size of mtastsd's answer for a typical enforce policy),
// so what a load generator measures against it is the cost of the round trip
// itself: the system calls, the loopback or unix socket, the wake-ups.
// Same I/O model as mtastsd's SocketmapServer, so the comparison is fair: one
// thread runs one io_context, one coroutine per connection, async_read_some then
// async_write, requests decoded by the same util::NetstringDecoder with the same
// 10000-byte cap. What it leaves out is what mtastsd's answer costs: no request
// parsing, no lookup, no per-request idle timer, no metrics, no log. Accepting
// is mtastsd's own step (daemon/accept_next).
// Pipelined requests (one read holding several) get their replies in one write.
// A malformed netstring closes the connection, as in mtastsd.
// Limits: loopback or unix sockets only; no idle timeout and no connection limit
// (a benchmark tool, run by hand or by bench/run, never exposed); stops on SIGINT
// or SIGTERM and removes its unix socket.
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <cstring>
#include <expected>
#include <iostream>
#include <string>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <CLI/CLI.hpp>
#include "bench_records.hpp"
#include "daemon/accept_next.hpp"
#include "daemon/socketmap_server.hpp"
#include "endpoint.hpp"
#include "open_files.hpp"
#include "util/netstring.hpp"

namespace asio = boost::asio;
using boost::system::error_code;
using Acceptor = asio::basic_socket_acceptor<asio::generic::stream_protocol>;
using Socket = asio::generic::stream_protocol::socket;

namespace mtastsd::bench {
namespace {

// Answers each complete request with `reply` (already a netstring), in order.
asio::awaitable<void> serve(Socket socket, const std::string& reply) {
  util::NetstringDecoder decoder(daemon::kMaxQueryBytes);
  std::array<char, 4096> buffer;
  std::string replies;  // for a read that held several requests
  error_code ec;
  for (;;) {
    const std::size_t n =
        co_await socket.async_read_some(asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;  // EOF or reset: the client is done
    decoder.feed(std::string_view(buffer.data(), n));
    std::size_t complete = 0;
    for (;;) {
      auto next = decoder.next();
      if (!next) co_return;  // framing lost: close, as mtastsd does
      if (!*next) break;
      ++complete;
    }
    if (complete == 0) continue;
    asio::const_buffer out = asio::buffer(reply);
    if (complete > 1) {
      replies.clear();
      for (std::size_t i = 0; i < complete; ++i) replies += reply;
      out = asio::buffer(replies);
    }
    co_await asio::async_write(socket, out, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
  }
}

// mtastsd's accept step (daemon/accept_next.hpp: retried after EMFILE).
asio::awaitable<void> accept_loop(Acceptor& acceptor, const Endpoint& endpoint, const std::string& reply) {
  while (auto socket = co_await daemon::accept_next(acceptor, "netstring_echo")) {
    error_code ec;
    if (endpoint.tcp) socket->set_option(asio::ip::tcp::no_delay(true), ec);
    asio::co_spawn(acceptor.get_executor(), serve(std::move(*socket), reply), asio::detached);
  }
}

// A listening socket on `endpoint`; a stale unix socket file is replaced (anything
// else at that path is left alone and is an error).
std::expected<Acceptor, std::string> listen_on(asio::io_context& io, const Endpoint& endpoint) {
  if (!endpoint.tcp) {
    struct stat st {};
    if (::lstat(endpoint.unix_path.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode)) return std::unexpected(endpoint.unix_path + " exists and is not a socket");
      ::unlink(endpoint.unix_path.c_str());
    }
  }
  Acceptor acceptor(io);
  error_code ec;
  acceptor.open(endpoint.address.protocol(), ec);
  if (!ec && endpoint.tcp) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint.address, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);  // as mtastsd's ListenerSet
  if (ec) return std::unexpected("listen: " + ec.message());
  return acceptor;
}

// What to tell a client (bench/run) that waits for the server: the address really bound
// (an inet port 0 becomes the port the kernel chose).
std::string bound_address(const Acceptor& acceptor, const Endpoint& endpoint) {
  if (!endpoint.tcp) return "unix:" + endpoint.unix_path;
  const auto local = acceptor.local_endpoint();
  asio::ip::tcp::endpoint tcp;
  tcp.resize(local.size());
  std::memcpy(tcp.data(), local.data(), local.size());
  const std::string host = tcp.address().is_v6() ? "[" + tcp.address().to_string() + "]" : tcp.address().to_string();
  return "inet:" + host + ":" + std::to_string(tcp.port());
}

}  // namespace
}  // namespace mtastsd::bench

int main(int argc, char** argv) {
  using namespace mtastsd::bench;
  std::string listen;
  // A mid-sized domain of bench_fill_cache's default pattern: the length of mtastsd's replies.
  std::string reply_text = typical_reply("d50000.bench.example");
  CLI::App app{"netstring_echo: the socketmap benchmarks' floor; one fixed reply to every request"};
  app.add_option("--listen", listen, "unix:/path or inet:127.0.0.1:PORT (loopback only; PORT 0: any)")->required();
  app.add_option("--reply", reply_text, "reply payload (default: a typical mtastsd answer)");
  CLI11_PARSE(app, argc, argv);

  auto endpoint = parse_endpoint(listen);
  if (!endpoint) {
    std::cerr << "netstring_echo: " << endpoint.error() << "\n";
    return 2;
  }
  const std::string reply = mtastsd::util::encode_netstring(reply_text);
  raise_open_files_limit();
  // As mtastsd: one thread runs the loop (concurrency hint 1).
  asio::io_context io(1);
  auto acceptor = listen_on(io, *endpoint);
  if (!acceptor) {
    std::cerr << "netstring_echo: " << acceptor.error() << "\n";
    return 1;
  }
  asio::signal_set stop_signals(io, SIGINT, SIGTERM);
  stop_signals.async_wait([&](const error_code& ec, int) {
    if (!ec) io.stop();
  });
  asio::co_spawn(io, accept_loop(*acceptor, *endpoint, reply), asio::detached);
  // Ready: the socket accepts connections from now on.
  std::cout << "listening on " << bound_address(*acceptor, *endpoint) << std::endl;
  io.run();
  if (!endpoint->tcp) ::unlink(endpoint->unix_path.c_str());
  return 0;
}

// socketmap_load: a socketmap load generator (socketmap_table(5)) that talks to a
// server the way Postfix's smtp(8) processes do: N connections, each with exactly
// one request in flight, keys taken round-robin from a list. It prints requests,
// errors, requests/s and exact latency percentiles (every request's latency is
// kept and sorted; nearest rank) as one JSON object (--json) or as text.
//
// Method:
//  - All connections are opened first; they start sending together once every
//    one is connected or has failed, so no connection gets a head start.
//  - Requests sent during --warmup are not counted; the measurement window is the
//    --duration after it. A request counts if it was sent and answered inside the
//    window; one still unanswered when the window closes is awaited and dropped.
//  - Every socket step (connect, write, read of a reply) has the --timeout deadline.
//    One sweep timer checks all deadlines every kSweepInterval and closes a
//    connection that overran, so a dead or stuck server ends the run with errors
//    instead of a hang, and no timer is armed per request (that would add a timerfd
//    update to each request's cost).
//  - A connection that fails (refused, reset, closed by the server, deadline, a
//    malformed or unexpected reply) counts one error and is not reopened: a
//    reconnecting client would measure connects, not lookups. The run ends when
//    the window closes or no connection is left.
//
// One thread. The machine this runs on has 2 cores, and the servers measured
// (mtastsd and netstring_echo) each run one io_context thread: one core for the
// server, one for this client. The client's work per request (one write, one
// read, a clock read and a netstring decode) is no more than the floor server's,
// so one client thread keeps up with any one-thread server; a second client
// thread would only compete with the server for its core and make the server
// look slower than it is.
//
// Limits: loopback targets only (endpoint.hpp); replies are capped at Postfix's
// 100000 bytes (core::kMaxSocketmapReply); the requests made are the same for
// every run, so the server's cache sees the same keys each time.
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <deque>
#include <expected>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include "core/answer.hpp"
#include "endpoint.hpp"
#include "open_files.hpp"
#include "util/netstring.hpp"

namespace asio = boost::asio;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

namespace mtastsd::bench {
namespace {

// How often deadlines are checked: a step is given up between --timeout and
// --timeout + kSweepInterval after it started. Short next to any useful timeout.
constexpr std::chrono::milliseconds kSweepInterval{50};
// How many failures are described on stderr (the count is always complete).
constexpr std::size_t kErrorsShown = 5;

struct Options {
  std::string target;
  unsigned connections = 1;
  double duration_s = 10;
  double warmup_s = 1;
  double timeout_s = 10;  // ours: notices a stuck server long before Postfix's 100 s per step
  std::string map;
  std::vector<std::string> keys;
  std::string keys_file;
  bool json = false;
};

// The status words of socketmap_table(5), in the order of the JSON "replies" object.
enum class Status { ok, notfound, temp, perm, timeout };
constexpr std::array<std::string_view, 5> kStatusNames = {"OK", "NOTFOUND", "TEMP", "PERM", "TIMEOUT"};

// The status of a reply payload ("OK data", "NOTFOUND ", "TEMP reason", ...): the word
// before the first space, or the whole payload, as Postfix reads it (dict_sockmap.c,
// split_at); nullopt for anything else (a lowercase word too: the status is case-sensitive).
std::optional<Status> reply_status(std::string_view payload) {
  const std::string_view word = payload.substr(0, payload.find(' '));
  for (std::size_t i = 0; i < kStatusNames.size(); ++i)
    if (word == kStatusNames[i]) return static_cast<Status>(i);
  return std::nullopt;
}

// The value at quantile q of sorted values (nearest rank: the smallest value with at
// least q of all values at or below it).
std::int64_t nearest_rank(const std::deque<std::int64_t>& sorted, double q) {
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

struct Result {
  std::uint64_t errors = 0;
  std::array<std::uint64_t, kStatusNames.size()> replies{};
  // One per counted request. A deque: it grows without copying what it holds, so
  // appending never stalls the client inside the window.
  std::deque<std::int64_t> latencies_ns;
  double window_s = 0;                     // the measurement window as run
};

class LoadRun {
 public:
  LoadRun(asio::io_context& io, const Options& options, Endpoint endpoint, std::vector<std::string> requests)
      : io_(io),
        options_(options),
        endpoint_(std::move(endpoint)),
        requests_(std::move(requests)),
        timeout_(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.timeout_s))),
        start_gate_(io, Clock::time_point::max()),
        sweep_timer_(io) {}

  void start() {
    live_ = options_.connections;
    for (unsigned i = 0; i < options_.connections; ++i) {
      Connection& c = connections_.emplace_back(io_);
      asio::co_spawn(io_, run_connection(c), rethrow);
    }
    asio::co_spawn(io_, sweep_deadlines(), rethrow);
  }

  Result finish() {
    const Clock::time_point stopped = std::min(last_connection_ended_, window_end_);
    if (stopped > window_start_) result_.window_s = std::chrono::duration<double>(stopped - window_start_).count();
    std::sort(result_.latencies_ns.begin(), result_.latencies_ns.end());
    return std::move(result_);
  }

 private:
  struct Connection {
    explicit Connection(asio::io_context& io) : socket(io) {}
    asio::generic::stream_protocol::socket socket;
    Clock::time_point deadline = Clock::time_point::max();  // of the step in progress
    bool overran = false;                                    // closed by the sweep
  };

  // A bug in a coroutine ends the program instead of vanishing.
  static void rethrow(const std::exception_ptr& e) {
    if (e) std::rethrow_exception(e);
  }

  asio::awaitable<void> run_connection(Connection& c) {
    error_code ec;
    c.deadline = Clock::now() + timeout_;
    co_await c.socket.async_connect(endpoint_.address, asio::redirect_error(asio::use_awaitable, ec));
    c.deadline = Clock::time_point::max();
    if (ec) {
      fail(c, "connect", ec);
    } else if (endpoint_.tcp) {
      c.socket.set_option(asio::ip::tcp::no_delay(true), ec);
      if (ec) fail(c, "TCP_NODELAY", ec);
    }
    const bool connected = !ec;
    settle();
    if (connected) {
      if (!started_) co_await start_gate_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      co_await send_requests(c);
    }
    error_code ignored;
    c.socket.close(ignored);
    if (--live_ == 0) {
      last_connection_ended_ = Clock::now();
      sweep_timer_.cancel();
    }
  }

  // One connection more is connected or has failed; the last one opens the gate.
  void settle() {
    if (++settled_ < options_.connections) return;
    started_ = true;
    window_start_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                       std::chrono::duration<double>(options_.warmup_s));
    window_end_ = window_start_ + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(options_.duration_s));
    start_gate_.cancel();
  }

  // Requests one at a time until the window closes or the connection fails.
  asio::awaitable<void> send_requests(Connection& c) {
    util::NetstringDecoder decoder(core::kMaxSocketmapReply);
    std::array<char, 4096> buffer;
    error_code ec;
    for (;;) {
      const Clock::time_point sent_at = Clock::now();
      if (sent_at >= window_end_) co_return;
      const std::string& request = requests_[next_request_++ % requests_.size()];
      c.deadline = sent_at + timeout_;
      co_await asio::async_write(c.socket, asio::buffer(request), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return fail(c, "write", ec);
      std::optional<std::string> reply;
      while (!reply) {
        const std::size_t n =
            co_await c.socket.async_read_some(asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return fail(c, "read", ec);
        decoder.feed(std::string_view(buffer.data(), n));
        auto next = decoder.next();
        if (!next) co_return fail(fmt::format("reply: {}", util::to_string(next.error())));
        reply = std::move(*next);
      }
      const Clock::time_point received_at = Clock::now();
      c.deadline = Clock::time_point::max();
      // One request, one reply: anything more is a server bug.
      if (decoder.buffered() != 0) co_return fail("reply: bytes after the reply");
      const auto status = reply_status(*reply);
      if (!status) co_return fail("reply: not a socketmap reply: " + reply->substr(0, 40));
      if (sent_at >= window_start_ && received_at <= window_end_) {
        result_.latencies_ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(received_at - sent_at).count());
        ++result_.replies[static_cast<std::size_t>(*status)];
      }
    }
  }

  // A socket step of `c` failed: closed by the sweep, or an error of its own.
  void fail(const Connection& c, std::string_view step, const error_code& ec) {
    fail(c.overran ? fmt::format("{}: no progress within the {} s deadline", step, options_.timeout_s)
                   : fmt::format("{}: {}", step, ec.message()));
  }
  void fail(const std::string& what) {
    if (result_.errors++ < kErrorsShown) std::cerr << "socketmap_load: " << what << "\n";
  }

  // Closes connections whose step overran its deadline; ends with the last connection.
  asio::awaitable<void> sweep_deadlines() {
    error_code ec;
    while (live_ > 0) {
      sweep_timer_.expires_after(kSweepInterval);
      co_await sweep_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      const Clock::time_point now = Clock::now();
      for (Connection& c : connections_) {
        if (c.deadline > now || !c.socket.is_open()) continue;
        c.overran = true;
        c.socket.close(ec);  // the pending step completes with operation_aborted
      }
    }
  }

  asio::io_context& io_;
  const Options& options_;
  const Endpoint endpoint_;
  const std::vector<std::string> requests_;
  const Clock::duration timeout_;
  std::deque<Connection> connections_;  // a deque: coroutines hold references to its elements
  asio::steady_timer start_gate_;       // never expires; cancelled to release the connections
  asio::steady_timer sweep_timer_;
  bool started_ = false;
  unsigned settled_ = 0;
  unsigned live_ = 0;
  std::size_t next_request_ = 0;
  Clock::time_point window_start_ = Clock::time_point::max();
  Clock::time_point window_end_ = Clock::time_point::max();
  Clock::time_point last_connection_ended_ = Clock::time_point::max();
  Result result_;
};

std::expected<std::vector<std::string>, std::string> read_keys(const std::string& file) {
  std::ifstream in(file);
  if (!in) return std::unexpected("cannot open " + file);
  std::vector<std::string> keys;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) keys.push_back(line);
  return keys;
}

nlohmann::json to_json(const Options& options, const Result& r) {
  const std::size_t requests = r.latencies_ns.size();
  const auto microseconds = [&](double q) -> nlohmann::json {
    if (requests == 0) return nullptr;
    return static_cast<double>(nearest_rank(r.latencies_ns, q)) / 1000.0;
  };
  nlohmann::json replies = nlohmann::json::object();
  for (std::size_t i = 0; i < kStatusNames.size(); ++i) replies[std::string(kStatusNames[i])] = r.replies[i];
  return {{"target", options.target},
          {"connections", options.connections},
          {"duration_s", r.window_s},
          {"requests", requests},
          {"errors", r.errors},
          {"rps", r.window_s > 0 ? static_cast<double>(requests) / r.window_s : 0.0},
          {"p50_us", microseconds(0.5)},
          {"p99_us", microseconds(0.99)},
          {"p999_us", microseconds(0.999)},
          {"max_us", requests == 0 ? nlohmann::json(nullptr) : nlohmann::json(r.latencies_ns.back() / 1000.0)},
          {"replies", replies}};
}

void print_text(const nlohmann::json& j) {
  const auto us = [](const nlohmann::json& v) { return v.is_null() ? std::string("-") : fmt::format("{:.1f}", v.get<double>()); };
  fmt::print("{} with {} connections for {:.2f} s: {} requests ({:.0f}/s), {} errors\n",
             j["target"].get<std::string>(), j["connections"].get<unsigned>(), j["duration_s"].get<double>(),
             j["requests"].get<std::size_t>(), j["rps"].get<double>(), j["errors"].get<std::uint64_t>());
  fmt::print("latency us: p50 {} p99 {} p99.9 {} max {}\n", us(j["p50_us"]), us(j["p99_us"]), us(j["p999_us"]),
             us(j["max_us"]));
  std::string replies;
  for (const auto& [status, n] : j["replies"].items()) replies += fmt::format(" {} {}", status, n.get<std::uint64_t>());
  fmt::print("replies:{}\n", replies);
}

}  // namespace
}  // namespace mtastsd::bench

int main(int argc, char** argv) {
  using namespace mtastsd::bench;
  Options options;
  CLI::App app{"socketmap_load: socketmap load generator, one request in flight per connection (like Postfix)"};
  app.add_option("--target", options.target, "unix:/path or inet:127.0.0.1:PORT (loopback only)")->required();
  app.add_option("--connections", options.connections, "concurrent connections")->check(CLI::Range(1u, 100000u));
  app.add_option("--duration", options.duration_s, "measurement window, seconds")->check(CLI::PositiveNumber);
  app.add_option("--warmup", options.warmup_s, "seconds of requests before the window, not counted")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--timeout", options.timeout_s, "deadline of each connect, write and reply, seconds")
      ->check(CLI::PositiveNumber);
  app.add_option("--map", options.map, "socketmap NAME sent with every key")->required();
  auto* keys = app.add_option("--key", options.keys, "a key (next-hop domain); repeatable");
  auto* keys_file = app.add_option("--keys-file", options.keys_file, "file with one key per line");
  keys->excludes(keys_file);
  app.add_flag("--json", options.json, "print one JSON object");
  CLI11_PARSE(app, argc, argv);

  auto endpoint = parse_endpoint(options.target);
  if (!endpoint) {
    std::cerr << "socketmap_load: " << endpoint.error() << "\n";
    return 2;
  }
  if (!options.keys_file.empty()) {
    auto read = read_keys(options.keys_file);
    if (!read) {
      std::cerr << "socketmap_load: " << read.error() << "\n";
      return 2;
    }
    options.keys = std::move(*read);
  }
  if (options.keys.empty()) {
    std::cerr << "socketmap_load: no keys (--key or --keys-file)\n";
    return 2;
  }
  std::vector<std::string> requests;
  for (const std::string& key : options.keys)
    requests.push_back(mtastsd::util::encode_netstring(options.map + " " + key));

  raise_open_files_limit();
  // Concurrency hint 1: one thread runs the loop, Asio can skip its locking.
  asio::io_context io(1);
  LoadRun run(io, options, std::move(*endpoint), std::move(requests));
  run.start();
  io.run();
  const nlohmann::json result = to_json(options, run.finish());
  if (options.json)
    std::cout << result.dump() << "\n";
  else
    print_text(result);
  return 0;
}

// mx_probe: a test-only driver of io::MxProbe, for tests/integration/test_mx_probe.py. It
// runs one probe of one MX host at one address on an io_context of its own and prints the
// result as one JSON object on stdout:
//   {"result": "ok"|"unreachable"|<RFC 8460 result type>, "detail", "helo", "elapsed_ms"}
// elapsed_ms is the probe's own duration (from the first step to the verdict), so tests can
// check its deadlines without counting process start-up. Exit status 0 when a probe was made
// (whatever its result), 2 on bad arguments or settings (reason on stderr).
#include <chrono>
#include <iostream>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include "io/mx_probe.hpp"

namespace asio = boost::asio;
using namespace mtastsd;

namespace {

constexpr int kProbed = 0, kUsage = 2;

std::string result_name(const io::MxProbeResult& result) {
  if (result.unreachable) return "unreachable";
  return result.failure ? std::string(core::to_string(*result.failure)) : "ok";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Validate one MX host's STARTTLS and certificate with io::MxProbe (tests only)"};
  io::MxProbeSettings settings;
  std::string mx_host, address_text;
  long step_ms = settings.step_timeout.count(), session_ms = settings.session_timeout.count();
  app.add_option("--mx", mx_host, "MX host name: SNI and the name the certificate must cover")->required();
  app.add_option("--address", address_text, "address to connect to")->required();
  app.add_option("--port", settings.port, "SMTP port");
  app.add_option("--helo", settings.helo_name, "EHLO name")->required();
  app.add_option("--ca-file", settings.ca_file, "trusted CAs (default: the system store)");
  app.add_option("--step-timeout-ms", step_ms, "deadline of each step");
  app.add_option("--session-timeout-ms", session_ms, "deadline of the whole session");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::debug);
  spdlog::set_default_logger(spdlog::stderr_color_mt("mx_probe"));

  try {
    settings.step_timeout = std::chrono::milliseconds(step_ms);
    settings.session_timeout = std::chrono::milliseconds(session_ms);
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(address_text, ec);
    if (ec) throw std::runtime_error("--address: " + ec.message());

    asio::io_context io(1);
    io::MxProbe probe(io.get_executor(), settings);
    const auto start = std::chrono::steady_clock::now();
    auto probed = asio::co_spawn(io, probe.probe(mx_host, address), asio::use_future);
    io.run();
    const io::MxProbeResult result = probed.get();
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);

    const nlohmann::json out = {{"result", result_name(result)},
                                {"detail", result.detail},
                                {"helo", result.helo},
                                {"elapsed_ms", elapsed.count()}};
    std::cout << out.dump() << "\n";
    return kProbed;
  } catch (const std::exception& e) {
    std::cerr << "mx_probe: " << e.what() << "\n";
    return kUsage;
  }
}

// POST of a gzip report to an https rua (RFC 8460 sec. 5.4); see https_report_upload.hpp.
#include "io/https_report_upload.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "io/tcp_connect.hpp"
#include "io/tls_client.hpp"
#include "util/printable.hpp"

namespace mtastsd::io {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using core::DeliveryError;
using core::DeliveryFailure;
using core::DeliveryResult;

constexpr std::string_view kReportMediaType = "application/tlsrpt+gzip";  // RFC 8460 sec. 5.4
constexpr std::uint32_t kHeaderLimit = 8 * 1024;  // ours: a status line and a few fields is all we read

std::unexpected<DeliveryFailure> temporary(std::string detail) {
  return std::unexpected(DeliveryFailure{DeliveryError::temporary, std::move(detail)});
}

}  // namespace

struct HttpsReportUploader::Impl {
  Impl(asio::any_io_executor ex, DnsResolver& dns, HttpsUploadSettings settings)
      : executor(std::move(ex)),
        dns(dns),
        settings(std::move(settings)),
        tls(make_webpki_context(this->settings.ca_file, "report upload")) {
    if (this->settings.timeout <= std::chrono::milliseconds::zero())
      throw std::runtime_error("report upload: timeout must be positive");
  }

  asio::awaitable<DeliveryResult> upload(core::HttpsEndpoint target, std::string body);

  asio::any_io_executor executor;
  DnsResolver& dns;
  HttpsUploadSettings settings;
  ssl::context tls;
};

asio::awaitable<DeliveryResult> HttpsReportUploader::Impl::upload(core::HttpsEndpoint target, std::string body) {
  const auto deadline = std::chrono::steady_clock::now() + settings.timeout;
  const std::string& host = target.host;
  const auto timed_out = [&](std::string_view during) {
    return temporary(fmt::format("https://{}: no progress within {} ms {}", host, settings.timeout.count(), during));
  };
  boost::system::error_code ec;
  auto capture = asio::redirect_error(asio::use_awaitable, ec);  // non-const: Boost 1.74 needs an lvalue token

  beast::ssl_stream<beast::tcp_stream> stream(executor, tls);
  auto& tcp = beast::get_lowest_layer(stream);
  tcp.expires_at(deadline);  // one absolute deadline for every operation below
  const auto step = [&](std::string text) { spdlog::debug("report upload {}: {}", host, text); };
  auto connected = co_await connect_to_host(
      dns, tcp, host, target.port, deadline, step,
      {settings.refuse_special_addresses, "tlsrpt.https_refuse_special_addresses"});
  if (!connected) co_return connected.error().timed_out ? timed_out(connected.error().detail)
                                                        : temporary(connected.error().detail);
  const std::string& endpoint = connected->endpoint;

  SSL* ssl = stream.native_handle();
  if (!expect_host(ssl, host)) co_return temporary(fmt::format("TLS setup for {} failed", host));
  co_await stream.async_handshake(ssl::stream_base::client, capture);
  if (ec == beast::error::timeout) co_return timed_out(fmt::format("in the TLS handshake with {}", endpoint));
  if (ec) {
    const std::string unverified = verification_failure(ssl);
    co_return temporary(fmt::format("TLS handshake with {} at {}: {}", host, endpoint,
                                    unverified.empty() ? ec.message() : "certificate: " + unverified));
  }

  http::request<http::string_body> request{http::verb::post, target.target, 11};
  request.set(http::field::host, target.port == kHttpsPort ? host : fmt::format("{}:{}", host, target.port));
  request.set(http::field::user_agent, kUserAgent);
  request.set(http::field::content_type, kReportMediaType);
  request.set(http::field::connection, "close");
  request.body() = std::move(body);
  request.prepare_payload();  // Content-Length
  co_await http::async_write(stream, request, capture);
  if (ec == beast::error::timeout) co_return timed_out(fmt::format("sending the report to {}", endpoint));
  if (ec) co_return temporary(fmt::format("sending the report to {}: {}", endpoint, ec.message()));

  beast::flat_buffer buffer;
  http::response_parser<http::empty_body> parser;
  parser.header_limit(kHeaderLimit);
  co_await http::async_read_header(stream, buffer, parser, capture);
  if (ec == beast::error::timeout) co_return timed_out(fmt::format("waiting for the answer of {}", endpoint));
  if (ec) co_return temporary(fmt::format("reading the answer of {}: {}", endpoint, ec.message()));

  const auto& response = parser.get();
  const unsigned status = response.result_int();
  const std::string answer = fmt::format("https://{}{} at {} answered HTTP {} {}", host, target.target, endpoint,
                                         status, util::printable_excerpt(response.reason(), 80));
  if (status >= 200 && status <= 299) co_return core::Delivered{answer};
  co_return std::unexpected(DeliveryFailure{core::classify_http_status(status), answer});
}

HttpsReportUploader::HttpsReportUploader(asio::any_io_executor ex, DnsResolver& dns, HttpsUploadSettings settings)
    : impl_(std::make_unique<Impl>(std::move(ex), dns, std::move(settings))) {}

HttpsReportUploader::~HttpsReportUploader() = default;

asio::awaitable<DeliveryResult> HttpsReportUploader::upload(core::HttpsEndpoint endpoint, std::string gzip_report) {
  co_return co_await impl_->upload(std::move(endpoint), std::move(gzip_report));
}

}  // namespace mtastsd::io

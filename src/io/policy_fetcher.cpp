// HTTPS GET of https://mta-sts.<domain>/.well-known/mta-sts.txt (RFC 8461 sec. 3.3)
// with Boost.Beast over OpenSSL. One deadline (settings.timeout) bounds the whole
// fetch: DNS, each connect, the TLS handshake, the request and the response, so a
// server trickling bytes still ends at the deadline. Addresses come from our own
// DnsResolver, so the daemon's DNS settings apply, and are tried in order until one
// accepts the TCP connection; what happens on that connection is final. With
// settings.refuse_special_addresses, special-purpose addresses are never tried.
// Limits: settings.max_body for the body, kMaxPolicyHeaderBytes for the header, kReadBufferLimit
// for what must be buffered whole (chunk-size lines, trailers). The body is returned
// unparsed; redirects are never followed; a server's renegotiation is refused (io/tls_client).
#include "io/policy_fetcher.hpp"

#include <fmt/format.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>
#include "io/policy_response.hpp"
#include "io/tcp_connect.hpp"
#include "io/tls_client.hpp"

namespace mtastsd::io {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using core::FailureType;
using Result = std::expected<FetchedPolicy, core::FetchFailed>;

constexpr std::string_view kPolicyPath = "/.well-known/mta-sts.txt";  // RFC 8461 sec. 3.3
// Our own cap on unparsed bytes held at once. Beast's parser consumes body bytes as they
// come but keeps a chunk-size line with its extensions (RFC 9112 sec. 7.1.1) and the
// trailer section (sec. 7.1.2) whole in the read buffer, with no limit of its own: they
// get the header's allowance, which nothing a policy host sends needs to exceed.
constexpr std::size_t kReadBufferLimit = kMaxPolicyHeaderBytes;

std::unexpected<core::FetchFailed> failure(FailureType type, std::string detail) {
  return std::unexpected(core::FetchFailed{type, std::move(detail)});
}

// Handshake errors that mean the server offers no TLS 1.2 or later.
bool is_protocol_version_error(const boost::system::error_code& ec) {
  if (ec.category() != asio::error::get_ssl_category()) return false;
  const int reason = ERR_GET_REASON(static_cast<unsigned long>(ec.value()));
  return reason == SSL_R_UNSUPPORTED_PROTOCOL || reason == SSL_R_TLSV1_ALERT_PROTOCOL_VERSION;
}

}  // namespace

struct PolicyFetcher::Impl {
  Impl(asio::any_io_executor ex, DnsResolver& dns, FetchSettings settings)
      : executor(std::move(ex)),
        dns(dns),
        settings(std::move(settings)),
        tls(make_webpki_context(this->settings.ca_file, "policy fetcher")) {
    if (this->settings.timeout <= std::chrono::milliseconds::zero())
      throw std::runtime_error("policy fetcher: timeout must be positive");
  }

  asio::awaitable<Result> fetch(std::string policy_domain, FetchTrace* trace);

  asio::any_io_executor executor;
  DnsResolver& dns;
  FetchSettings settings;
  ssl::context tls;  // shared by all fetches: CA store loaded once
};

asio::awaitable<Result> PolicyFetcher::Impl::fetch(std::string policy_domain, FetchTrace* trace) {
  const auto deadline = std::chrono::steady_clock::now() + settings.timeout;
  const std::string host = "mta-sts." + policy_domain;
  const auto step = [&](std::string text) {
    spdlog::debug("policy fetch {}: {}", host, text);
    if (trace) trace->steps.push_back(std::move(text));
  };
  // Failures are logged by the caller (daemon/lookup_service), with their result type.
  const auto fetch_error = [&](std::string detail) {
    return failure(FailureType::sts_policy_fetch_error, std::move(detail));
  };
  const auto timed_out = [&](std::string_view during) {
    return fetch_error(fmt::format("timeout after {} ms {}", settings.timeout.count(), during));
  };
  boost::system::error_code ec;
  auto capture = asio::redirect_error(asio::use_awaitable, ec);  // non-const: Boost 1.74 needs an lvalue token

  // ---- DNS, then TCP to the first address that accepts ----
  beast::ssl_stream<beast::tcp_stream> stream(executor, tls);
  auto& tcp = beast::get_lowest_layer(stream);
  tcp.expires_at(deadline);  // one absolute deadline for every operation below
  auto connected = co_await connect_to_host(dns, tcp, host, settings.port, deadline, step,
                                            {settings.refuse_special_addresses, "fetch.refuse_special_addresses"});
  if (!connected)
    co_return connected.error().timed_out ? timed_out(connected.error().detail) : fetch_error(connected.error().detail);
  const std::string& endpoint = connected->endpoint;

  // ---- TLS: SNI and certificate name = the policy host (RFC 8461 sec. 3.3) ----
  SSL* ssl = stream.native_handle();
  if (!expect_host(ssl, host)) co_return fetch_error(fmt::format("TLS setup for {} failed", host));
  co_await stream.async_handshake(ssl::stream_base::client, capture);
  if (trace) trace->certificate = peer_certificate_facts(ssl);
  if (ec) {
    if (ec == beast::error::timeout) co_return timed_out(fmt::format("in the TLS handshake with {}", endpoint));
    if (const std::string unverified = verification_failure(ssl); !unverified.empty()) {
      co_return failure(FailureType::sts_webpki_invalid,
                        fmt::format("certificate of {} at {}: {}", host, endpoint, unverified));
    }
    if (is_protocol_version_error(ec)) {
      co_return failure(FailureType::sts_webpki_invalid,
                        fmt::format("{} at {} offers no TLS 1.2 or later: {}", host, endpoint, ec.message()));
    }
    co_return fetch_error(fmt::format("TLS handshake with {}: {}", endpoint, ec.message()));
  }
  step(fmt::format("{} handshake ok, certificate {}", tls_version_text(ssl), peer_certificate_text(ssl)));
  if (trace) trace->tls_version = tls_version_text(ssl);

  // ---- HTTP/1.1 GET ----
  http::request<http::empty_body> request{http::verb::get, kPolicyPath, 11};
  request.set(http::field::host, settings.port == kHttpsPort ? host : fmt::format("{}:{}", host, settings.port));
  request.set(http::field::user_agent, kUserAgent);
  request.set(http::field::connection, "close");
  co_await http::async_write(stream, request, capture);
  if (ec == beast::error::timeout) co_return timed_out(fmt::format("sending the request to {}", endpoint));
  if (ec) co_return fetch_error(fmt::format("sending the request to {}: {}", endpoint, ec.message()));

  // The header first: status and media type decide before any body is read.
  beast::flat_buffer buffer(kReadBufferLimit);
  http::response_parser<http::string_body> parser;
  parser.header_limit(kMaxPolicyHeaderBytes);
  parser.body_limit(settings.max_body);  // RFC 8461 sec. 3.3 suggests 64 KiB
  co_await http::async_read_header(stream, buffer, parser, capture);
  // A Content-Length over the limit fails here, after the header was parsed.
  const bool body_too_large = ec == http::error::body_limit;
  if (ec == beast::error::timeout) co_return timed_out(fmt::format("reading the response from {}", endpoint));
  if (ec && !body_too_large)
    co_return fetch_error(fmt::format("reading the response header from {}: {}", endpoint, ec.message()));

  const auto& response = parser.get();
  const std::string content_type(response[http::field::content_type]);
  if (trace) {
    trace->http_status = response.result_int();
    trace->content_type = printable(content_type);
    trace->location = printable(response[http::field::location]);
  }
  if (auto rejected = check_policy_response(response.result_int(), response[http::field::location], content_type))
    co_return std::unexpected(std::move(*rejected));
  const auto too_large = [&] { return fetch_error(fmt::format("body exceeds {} bytes", settings.max_body)); };
  if (body_too_large) co_return too_large();

  co_await http::async_read(stream, buffer, parser, capture);
  if (ec == http::error::body_limit) co_return too_large();
  if (ec == beast::error::timeout) co_return timed_out(fmt::format("reading the body from {}", endpoint));
  if (ec == http::error::buffer_overflow)
    co_return fetch_error(fmt::format("reading the body from {}: a chunk-size line or the trailer exceeds {} bytes",
                                      endpoint, kReadBufferLimit));
  if (ec) co_return fetch_error(fmt::format("reading the body from {}: {}", endpoint, ec.message()));

  FetchedPolicy fetched{parser.release().body(), content_type, connected->address};
  step(fmt::format("HTTP 200 {} {} bytes", printable(content_type), fetched.body.size()));
  // No TLS close_notify: the whole body is in (its length is known, or the server's
  // close_notify ended it), and "Connection: close" means no reuse.
  co_return fetched;
}

PolicyFetcher::PolicyFetcher(asio::any_io_executor ex, DnsResolver& dns, FetchSettings settings)
    : impl_(std::make_unique<Impl>(std::move(ex), dns, std::move(settings))) {}

PolicyFetcher::~PolicyFetcher() = default;

asio::awaitable<Result> PolicyFetcher::fetch(std::string policy_domain, FetchTrace* trace) {
  co_return co_await impl_->fetch(std::move(policy_domain), trace);
}

}  // namespace mtastsd::io

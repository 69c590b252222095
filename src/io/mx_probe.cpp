// One SMTP session that validates an MX host's STARTTLS and certificate; see mx_probe.hpp.
// An Asio coroutine on the caller's executor: it never blocks the loop.
//
// The TLS verdict: the connection's SSL object verifies with SSL_VERIFY_NONE, so the handshake
// completes whatever the certificate. OpenSSL still verifies the chain, the name (SSL_set1_host)
// and the dates, stops at the first failure and keeps it for SSL_get_verify_result, which
// core::certificate_failure turns into the result type. So the session can still end with
// QUIT (RFC 5321 sec. 4.1.1.10) instead of an alert. Over a connection whose certificate
// failed, nothing but QUIT is sent.
//
// Deadlines: the TCP stream's expiry is set before each step (command and whole reply, the
// connect, the handshake) to the step timeout, never past the session's end; when it passes,
// the stream closes the socket.
#include "io/mx_probe.hpp"

#include <algorithm>
#include <ctime>
#include <fmt/format.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>
#include "core/host_name.hpp"
#include "core/smtp_reply.hpp"
#include "core/tls_verdict.hpp"
#include "io/tcp_connect.hpp"
#include "io/tls_client.hpp"
#include "util/clock.hpp"

namespace mtastsd::io {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = asio::ssl;
using Clock = std::chrono::steady_clock;
using core::FailureType;

// Reply codes of RFC 5321 sec. 4.3.2: a greeting, an EHLO, and RFC 3207 sec. 4: STARTTLS.
constexpr int kServiceReady = 220;
constexpr int kOk = 250;
constexpr std::string_view kStarttlsKeyword = "STARTTLS";  // RFC 3207 sec. 4

// Why a step ended the dialogue before its verdict.
struct StepFailure {
  std::string detail;
  bool can_quit = false;  // the server answered (negatively): the connection can still take QUIT
};

// "2020-02-01T00:00:00Z", the way the rest of the project shows times.
std::string asn1_time_text(const ASN1_TIME* time) {
  std::tm tm{};
  if (!time || ASN1_TIME_to_tm(time, &tm) != 1) return "?";
  return util::format_utc(util::from_unix(timegm(&tm)));
}

// The certificate the server sent, for a failure detail; with its validity when that is
// what failed.
std::string certificate_text(SSL* ssl, FailureType failure) {
  std::string text = peer_certificate_text(ssl);
  const X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert && failure == FailureType::certificate_expired)
    text += fmt::format(", valid from {} to {}", asn1_time_text(X509_get0_notBefore(cert)),
                        asn1_time_text(X509_get0_notAfter(cert)));
  return text;
}

// One probe: a connection, its SMTP dialogue and its verdict.
class Session {
 public:
  Session(const asio::any_io_executor& ex, ssl::context& tls, const MxProbeSettings& settings, std::string mx_host,
          const asio::ip::address& address)
      : settings_(settings),
        mx_host_(std::move(mx_host)),
        endpoint_(address, settings.port),
        endpoint_text_(endpoint_text(endpoint_)),
        session_end_(Clock::now() + settings.session_timeout),
        stream_(ex, tls) {}

  asio::awaitable<MxProbeResult> run();

 private:
  // Sets the stream's expiry for one step: the step timeout, at most to the session's end.
  void start_step() { tcp().expires_at(std::min(Clock::now() + settings_.step_timeout, session_end_)); }

  beast::tcp_stream& tcp() { return beast::get_lowest_layer(stream_); }

  std::string failed(std::string_view during, const boost::system::error_code& ec) const {
    if (ec == beast::error::timeout) {
      if (Clock::now() >= session_end_)
        return fmt::format("session timeout ({} ms) during {}", settings_.session_timeout.count(), during);
      return fmt::format("timeout ({} ms) during {}", settings_.step_timeout.count(), during);
    }
    if (ec == asio::error::not_found) return fmt::format("{}: {}", during, to_string(core::SmtpReplyError::line_too_long));
    if (ec == asio::error::eof) return fmt::format("{}: connection closed by the server", during);
    return fmt::format("{}: {}", during, ec.message());
  }

  // Reads one whole reply; the caller has started the step.
  asio::awaitable<std::expected<core::SmtpReply, StepFailure>> read_reply(std::string_view during) {
    core::SmtpReplyReader reader;
    boost::system::error_code ec;
    auto capture = asio::redirect_error(asio::use_awaitable, ec);  // non-const: Boost 1.74 needs an lvalue token
    // Capped at one reply line (RFC 5321 sec. 4.5.3.1.5): a longer one never finds its LF.
    auto buffer = asio::dynamic_buffer(input_, core::kMaxReplyLineOctets);
    for (;;) {
      const std::size_t length = tls_ ? co_await asio::async_read_until(stream_, buffer, '\n', capture)
                                      : co_await asio::async_read_until(tcp(), buffer, '\n', capture);
      if (ec) co_return std::unexpected(StepFailure{failed(during, ec)});
      auto added = reader.add_line(std::string_view(input_).substr(0, length));
      input_.erase(0, length);
      if (!added) co_return std::unexpected(StepFailure{fmt::format("{}: {}", during, to_string(added.error()))});
      if (*added) {
        spdlog::debug("mx probe {} at {}: {}", mx_host_, endpoint_text_, (*added)->summary());
        co_return std::move(**added);
      }
    }
  }

  // Sends one command and reads its reply, as one step.
  asio::awaitable<std::expected<core::SmtpReply, StepFailure>> exchange(std::string command, std::string_view during) {
    start_step();
    spdlog::debug("mx probe {} at {}: sending {}", mx_host_, endpoint_text_, command);
    command += "\r\n";
    boost::system::error_code ec;
    auto capture = asio::redirect_error(asio::use_awaitable, ec);
    if (tls_)
      co_await asio::async_write(stream_, asio::buffer(command), capture);
    else
      co_await asio::async_write(tcp(), asio::buffer(command), capture);
    if (ec) co_return std::unexpected(StepFailure{failed(fmt::format("sending {}", during), ec)});
    co_return co_await read_reply(during);
  }

  // A reply with another code than `expected`: the server is there, and can take QUIT.
  static StepFailure refused(std::string_view what, const core::SmtpReply& reply) {
    return {fmt::format("{}: {}", what, reply.summary()), true};
  }

  // RFC 5321 sec. 4.1.1.10: QUIT before closing and wait for its reply (sec. 3.8), also
  // after a refusal (sec. 3.1). Its outcome changes no verdict.
  asio::awaitable<void> quit() { co_await exchange("QUIT", "the QUIT reply"); }

  // The dialogue up to the verdict, written into `result`. True when the connection can
  // still take QUIT.
  asio::awaitable<bool> converse(MxProbeResult& result);

  // Enders of the dialogue: the verdict into `result`; whether QUIT can follow.
  static bool unreachable(MxProbeResult& result, StepFailure failure) {
    result.unreachable = true;
    result.detail = std::move(failure.detail);
    return failure.can_quit;
  }
  static bool tls_failure(MxProbeResult& result, FailureType type, StepFailure failure) {
    result.failure = type;
    result.detail = std::move(failure.detail);
    return failure.can_quit;
  }

  const MxProbeSettings& settings_;
  const std::string mx_host_;
  const asio::ip::tcp::endpoint endpoint_;
  const std::string endpoint_text_;
  const Clock::time_point session_end_;
  beast::ssl_stream<beast::tcp_stream> stream_;
  bool tls_ = false;   // after the handshake: commands go through TLS
  std::string input_;  // read from the server, not yet consumed
};

asio::awaitable<MxProbeResult> Session::run() {
  MxProbeResult result;
  const bool can_quit = co_await converse(result);
  if (can_quit) co_await quit();
  spdlog::debug("mx probe {} at {}: {}: {}", mx_host_, endpoint_text_,
                result.unreachable ? "unreachable" : result.failure ? to_string(*result.failure) : "validated",
                result.detail);
  co_return result;
}

asio::awaitable<bool> Session::converse(MxProbeResult& result) {
  SSL* ssl = stream_.native_handle();
  // SNI and the name checked = the MX host (RFC 8461 sec. 4.1; RFC 6125 wildcards).
  if (!expect_host(ssl, mx_host_))
    co_return unreachable(result, {fmt::format("{} is no name TLS can check", mx_host_)});
  SSL_set_verify(ssl, SSL_VERIFY_NONE, nullptr);  // see the top of this file

  boost::system::error_code ec;
  auto capture = asio::redirect_error(asio::use_awaitable, ec);  // non-const: Boost 1.74 needs an lvalue token
  start_step();
  co_await tcp().async_connect(endpoint_, capture);
  if (ec) co_return unreachable(result, {failed(fmt::format("connecting to {}", endpoint_text_), ec)});

  // RFC 5321 sec. 4.3.2: the greeting is 220, or 554 with QUIT the only way on (sec. 3.1).
  start_step();
  auto greeting = co_await read_reply("the greeting");
  if (!greeting) co_return unreachable(result, std::move(greeting.error()));
  result.helo = core::greeting_host(*greeting);
  if (greeting->code != kServiceReady) co_return unreachable(result, refused("greeting", *greeting));

  const std::string ehlo_command = "EHLO " + settings_.helo_name;
  auto ehlo = co_await exchange(ehlo_command, "the EHLO reply");
  if (!ehlo) co_return unreachable(result, std::move(ehlo.error()));
  if (ehlo->code != kOk) co_return unreachable(result, refused("EHLO", *ehlo));
  if (!core::ehlo_offers(*ehlo, kStarttlsKeyword))
    co_return tls_failure(result, FailureType::starttls_not_supported,
                          {fmt::format("the EHLO reply of {} does not offer STARTTLS", endpoint_text_), true});

  // RFC 3207 sec. 4: 220 to go ahead; 454 (or anything else) refuses TLS.
  auto starttls = co_await exchange(std::string(kStarttlsKeyword), "the STARTTLS reply");
  if (!starttls) co_return unreachable(result, std::move(starttls.error()));
  if (starttls->code != kServiceReady)
    co_return tls_failure(result, FailureType::starttls_not_supported, refused("STARTTLS refused", *starttls));
  // Bytes the server sent after its 220 came before TLS: never read them as if they were
  // protected (the STARTTLS injection of CVE-2011-0411, from the server's side).
  input_.clear();

  start_step();
  co_await stream_.async_handshake(ssl::stream_base::client, capture);
  if (ec)  // the connection is in no state for QUIT: plain text now would be a protocol error
    co_return tls_failure(result, FailureType::validation_failure, {failed("the TLS handshake", ec)});
  tls_ = true;

  if (!SSL_get0_peer_certificate(ssl))  // only anonymous cipher suites send none; OpenSSL offers none by default
    co_return tls_failure(result, FailureType::validation_failure, {"the server sent no certificate", true});
  const long verify_result = SSL_get_verify_result(ssl);
  if (const auto type = core::certificate_failure(verify_result))
    co_return tls_failure(result, *type,
                          {fmt::format("certificate of {} at {}: {} ({})", mx_host_, endpoint_text_,
                                       X509_verify_cert_error_string(verify_result), certificate_text(ssl, *type)),
                           true});

  result.detail = fmt::format("{} at {}: {}, certificate {}", mx_host_, endpoint_text_, tls_version_text(ssl),
                              peer_certificate_text(ssl));
  // RFC 3207 sec. 4.2: the client forgets what it learnt before TLS and says EHLO again. The
  // TLS verdict is in; a failure here only goes into the detail.
  auto second_ehlo = co_await exchange(ehlo_command, "the EHLO reply over TLS");
  if (!second_ehlo) {
    result.detail += "; then " + second_ehlo.error().detail;
    co_return false;
  }
  if (second_ehlo->code != kOk) result.detail += "; then " + refused("EHLO over TLS", *second_ehlo).detail;
  co_return true;
}

}  // namespace

struct MxProbe::Impl {
  Impl(asio::any_io_executor ex, MxProbeSettings settings)
      : executor(std::move(ex)), settings(std::move(settings)), tls(make_webpki_context(this->settings.ca_file, "MX probe")) {
    // The EHLO argument goes onto the wire as it is (RFC 5321 sec. 4.1.1.1: a Domain).
    if (!core::is_host_name(this->settings.helo_name))
      throw std::runtime_error(fmt::format("MX probe: \"{}\" is no host name for EHLO", this->settings.helo_name));
    if (this->settings.step_timeout <= std::chrono::milliseconds::zero() ||
        this->settings.session_timeout <= std::chrono::milliseconds::zero())
      throw std::runtime_error("MX probe: timeouts must be positive");
  }

  asio::any_io_executor executor;
  MxProbeSettings settings;
  ssl::context tls;  // shared by all probes: CA store loaded once
};

MxProbe::MxProbe(asio::any_io_executor ex, MxProbeSettings settings)
    : impl_(std::make_unique<Impl>(std::move(ex), std::move(settings))) {}

MxProbe::~MxProbe() = default;

asio::awaitable<MxProbeResult> MxProbe::probe(std::string mx_host, asio::ip::address address) {
  Session session(impl_->executor, impl_->tls, impl_->settings, std::move(mx_host), address);
  co_return co_await session.run();
}

}  // namespace mtastsd::io

// One delivery attempt of a report to one rua; see report_sender.hpp.
#include "io/report_sender.hpp"

#include <optional>
#include <stdexcept>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/report_message.hpp"
#include "util/printable.hpp"

namespace mtastsd::io {
namespace {

namespace asio = boost::asio;
using core::DeliveryError;
using core::DeliveryResult;

std::optional<DkimSigner> load_signer(const DkimSettings& settings) {
  if (settings.key_file.empty()) {
    spdlog::warn("report delivery: no DKIM key configured, report e-mails go out unsigned; RFC 8460 sec. 5.3 "
                 "requires a DKIM signature and receivers may discard unsigned reports");
    return std::nullopt;
  }
  auto signer = DkimSigner::load(settings);
  if (!signer) throw std::runtime_error(fmt::format("report delivery: {}", signer.error().detail));
  return std::move(*signer);
}

// The blocking part, run on the worker thread; its deadline starts when it starts.
struct Submission {
  MailTransport transport;
  SmtpRelaySettings smtp;
  std::string sendmail_command;
  std::chrono::milliseconds timeout;
  Envelope envelope;
  std::string message;

  DeliveryResult operator()() const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    return transport == MailTransport::smtp ? submit_smtp(smtp, envelope, message, deadline)
                                            : submit_sendmail(sendmail_command, envelope, message, deadline);
  }
};

// A plain coroutine, not a lambda: g++ 12 destroys a coroutine lambda's captures twice
// when co_spawn runs it.
asio::awaitable<DeliveryResult> run(Submission submission) { co_return submission(); }

ReportSenderSettings checked(ReportSenderSettings settings) {
  if (!core::is_plain_address(settings.mail_from))
    throw std::runtime_error(fmt::format("report delivery: sender address \"{}\" is not a plain address "
                                         "(local-part@lowercase.domain)",
                                         util::printable_excerpt(settings.mail_from, 80)));
  if (settings.mail_timeout <= std::chrono::milliseconds::zero())
    throw std::runtime_error("report delivery: mail timeout must be positive");
  return settings;
}

}  // namespace

struct ReportSender::Impl {
  Impl(asio::any_io_executor ex, DnsResolver& dns, ReportSenderSettings s)
      : settings(checked(std::move(s))),
        signer(load_signer(settings.dkim)),
        uploader(std::move(ex), dns, settings.https) {}

  asio::awaitable<DeliveryResult> send(OutgoingReport out, std::string rua, util::TimePoint now);
  asio::awaitable<DeliveryResult> send_mail(const OutgoingReport& out, const std::string& mailbox, util::TimePoint now);

  ReportSenderSettings settings;
  std::optional<DkimSigner> signer;
  HttpsReportUploader uploader;
  asio::thread_pool worker{1};  // last member: destroyed (joined) first
};

asio::awaitable<DeliveryResult> ReportSender::Impl::send(OutgoingReport out, std::string rua, util::TimePoint now) {
  const auto uri = core::parse_report_uri(rua);
  if (!uri)
    co_return core::delivery_failure(
        DeliveryError::permanent,
        fmt::format("rua {} is unusable: {}", util::printable_excerpt(rua, 120), uri.error()));
  // The caller logs the result (daemon/report_dispatch).
  if (auto endpoint = core::https_endpoint(*uri))
    co_return co_await uploader.upload(std::move(*endpoint), core::gzip_compress(out.report.json));
  co_return co_await send_mail(out, uri->mailbox, now);
}

asio::awaitable<DeliveryResult> ReportSender::Impl::send_mail(const OutgoingReport& out, const std::string& mailbox,
                                                              util::TimePoint now) {
  auto message = core::build_report_message(
      out.report, core::ReportMail{settings.mail_from, mailbox, out.report_domain, out.submitter, now});
  if (!message)
    co_return core::delivery_failure(DeliveryError::permanent,
                                     fmt::format("cannot build the report e-mail: {}: {}",
                                                 to_string(message.error().error), message.error().detail));
  if (signer) {
    auto signed_message = signer->sign(*message, now);
    if (!signed_message)
      co_return core::delivery_failure(DeliveryError::temporary,
                                       fmt::format("DKIM: {}", signed_message.error().detail));
    message = std::move(*signed_message);
  }
  Submission submission{settings.transport,    settings.smtp,
                        settings.sendmail_command, settings.mail_timeout,
                        Envelope{settings.mail_from, mailbox}, std::move(*message)};
  co_return co_await asio::co_spawn(worker, run(std::move(submission)), asio::use_awaitable);
}

ReportSender::ReportSender(asio::any_io_executor ex, DnsResolver& dns, ReportSenderSettings settings)
    : impl_(std::make_unique<Impl>(std::move(ex), dns, std::move(settings))) {}

ReportSender::~ReportSender() = default;

asio::awaitable<DeliveryResult> ReportSender::send(OutgoingReport report, std::string rua, util::TimePoint now) {
  co_return co_await impl_->send(std::move(report), std::move(rua), now);
}

}  // namespace mtastsd::io

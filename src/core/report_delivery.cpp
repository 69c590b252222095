// Classification of delivery attempts and the https rua endpoint; rules in report_delivery.hpp.
#include "core/report_delivery.hpp"

#include <charconv>

#include "core/host_name.hpp"

namespace mtastsd::core {
namespace {

constexpr std::uint16_t kHttpsPort = 443;

}  // namespace

std::string_view to_string(DeliveryError e) {
  switch (e) {
    case DeliveryError::temporary: return "temporary failure";
    case DeliveryError::permanent: return "permanent failure";
  }
  return "failure";
}

std::unexpected<DeliveryFailure> delivery_failure(DeliveryError error, std::string detail) {
  return std::unexpected(DeliveryFailure{error, std::move(detail)});
}

std::string_view to_string(SmtpStage s) {
  switch (s) {
    case SmtpStage::greeting: return "greeting";
    case SmtpStage::ehlo: return "EHLO";
    case SmtpStage::starttls: return "STARTTLS";
    case SmtpStage::mail_from: return "MAIL FROM";
    case SmtpStage::rcpt_to: return "RCPT TO";
    case SmtpStage::data: return "DATA";
    case SmtpStage::end_of_data: return "end of data";
  }
  return "SMTP";
}

DeliveryError classify_smtp_reply(SmtpStage stage, int code) {
  if (code < 500 || code > 599) return DeliveryError::temporary;
  switch (stage) {
    case SmtpStage::rcpt_to:
    case SmtpStage::data:
    case SmtpStage::end_of_data: return DeliveryError::permanent;
    case SmtpStage::greeting:
    case SmtpStage::ehlo:
    case SmtpStage::starttls:
    case SmtpStage::mail_from: return DeliveryError::temporary;
  }
  return DeliveryError::temporary;
}

DeliveryError classify_http_status(unsigned status) {
  if (status == 408 || status == 425 || status == 429) return DeliveryError::temporary;
  if (status >= 300 && status <= 499) return DeliveryError::permanent;
  return DeliveryError::temporary;
}

DeliveryError classify_sendmail_exit(int status) {
  constexpr int kDataError = 65;  // EX_DATAERR
  constexpr int kNoUser = 67;     // EX_NOUSER
  constexpr int kNoHost = 68;     // EX_NOHOST
  return status == kDataError || status == kNoUser || status == kNoHost ? DeliveryError::permanent
                                                                        : DeliveryError::temporary;
}

std::optional<HttpsEndpoint> https_endpoint(const ReportUri& uri) {
  if (uri.scheme != ReportUriScheme::https) return std::nullopt;
  // "https://" authority [path-abempty] ["?" query] ["#" fragment]; the scheme may be in any case.
  std::string_view rest = std::string_view(uri.uri).substr(uri.uri.find("//") + 2);
  rest = rest.substr(0, rest.find('#'));
  const std::size_t authority_end = rest.find_first_of("/?");
  const std::string_view authority = rest.substr(0, authority_end);
  HttpsEndpoint endpoint;
  endpoint.host = ascii_lowercase(authority.substr(0, authority.find(':')));
  if (const std::size_t colon = authority.find(':'); colon != std::string_view::npos) {
    const std::string_view port = authority.substr(colon + 1);
    std::from_chars(port.data(), port.data() + port.size(), endpoint.port);  // checked by parse_report_uri
  } else {
    endpoint.port = kHttpsPort;
  }
  endpoint.target = authority_end == std::string_view::npos ? "" : std::string(rest.substr(authority_end));
  if (endpoint.target.empty() || endpoint.target.front() == '?') endpoint.target.insert(0, "/");
  return endpoint;
}

}  // namespace mtastsd::core

// HTTPS delivery of one gzip report to an https: rua (RFC 8460 sec. 5.4): POST with
// Content-Type application/tlsrpt+gzip; a 2xx status means delivered. Boost.Beast over
// OpenSSL on the event loop, WebPKI verification like the policy fetcher (io/tls_client).
// One deadline (settings.timeout) bounds DNS, connecting, the handshake, the request and
// the response header; the response body is not read (the status decides). Addresses come
// from our DnsResolver and are tried in order until one accepts the connection; with
// settings.refuse_special_addresses, special-purpose addresses are never tried.
// Redirects are not followed (core::classify_http_status makes them permanent).
#pragma once
#include <chrono>
#include <memory>
#include <string>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include "core/report_delivery.hpp"
#include "io/dns_resolver.hpp"

namespace mtastsd::io {

struct HttpsUploadSettings {
  std::string ca_file;                          // "" = the system store
  std::chrono::milliseconds timeout{60000};     // ours, the same as a policy fetch's
  // A recipient domain names the rua host: without this, its DNS could make us POST to
  // services on our own host or network (as for policy hosts, io/policy_fetcher).
  bool refuse_special_addresses = true;
};

class HttpsReportUploader {
 public:
  // Throws std::runtime_error on unusable settings (missing CA file, timeout <= 0).
  // `dns` must outlive the uploader.
  HttpsReportUploader(boost::asio::any_io_executor ex, DnsResolver& dns, HttpsUploadSettings settings);
  ~HttpsReportUploader();

  boost::asio::awaitable<core::DeliveryResult> upload(core::HttpsEndpoint endpoint, std::string gzip_report);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mtastsd::io

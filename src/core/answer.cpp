// Socketmap replies (socketmap_table(5)) and smtp_tls_policy_maps results
// (postconf(5) "smtp_tls_policy_maps", Postfix TLSRPT_README for 3.10+).
// Postfix splits a result at spaces, tabs, commas and newlines; text between
// balanced "{ }" stays one token, and "{ name = value }" is one attribute whose
// name and value are stripped of surrounding blanks (mystrtokq, extpar).
#include "core/answer.hpp"

#include <stdexcept>
#include <utility>

#include "core/host_name.hpp"

namespace mtastsd::core {
namespace {

constexpr std::string_view kOkPrefix = "OK ";

bool fits_postfix_braces(std::string_view line) { return line.find_first_of("{}") == std::string_view::npos; }

std::string temp_reply(std::string_view reason) { return "TEMP " + std::string(reason); }

}  // namespace

std::string_view to_string(Dialect d) {
  switch (d) {
    case Dialect::postfix: return "postfix";
    case Dialect::postfix_tlsrpt: return "postfix_tlsrpt";
  }
  return "postfix";
}

std::string encode_reply(const SocketmapReply& reply) {
  switch (reply.status) {
    case ReplyStatus::ok:
      // Postfix takes "OK " with no data as an invalid empty policy and defers
      // with a misleading message; say what happened instead.
      if (reply.data.empty()) return temp_reply("internal error: empty policy");
      if (kOkPrefix.size() + reply.data.size() > kMaxSocketmapReply)
        return temp_reply("policy result longer than the socketmap reply limit");
      return std::string(kOkPrefix) + reply.data;
    case ReplyStatus::notfound: return "NOTFOUND ";
    case ReplyStatus::temp: return "TEMP " + reply.data;
    case ReplyStatus::timeout: return "TIMEOUT " + reply.data;
    case ReplyStatus::perm: return "PERM " + reply.data;
  }
  return temp_reply("internal error: unknown reply status");
}

std::string_view reply_kind(std::string_view encoded) {
  if (encoded.starts_with(kOkPrefix)) {
    const std::string_view data = encoded.substr(kOkPrefix.size());
    const std::string_view policy = data.substr(0, data.find(' '));
    for (std::string_view known : {"secure", "dane", "dane-only"})
      if (policy == known) return known;
    return "ok";
  }
  for (const auto& [prefix, kind] : {std::pair<std::string_view, std::string_view>{"NOTFOUND ", "notfound"},
                                     {"TEMP ", "temp"},
                                     {"TIMEOUT ", "timeout"},
                                     {"PERM ", "perm"}})
    if (encoded.starts_with(prefix)) return kind;
  return "invalid";
}

std::string build_sts_policy_result(const StsPolicy& policy, std::string_view policy_domain, Dialect dialect) {
  // testing is allowed: a profile may choose to enforce testing-mode policies.
  if (policy.mode == StsMode::none) throw std::invalid_argument("build_sts_policy_result: mode none enforces nothing");
  if (policy.mx.empty()) throw std::invalid_argument("build_sts_policy_result: policy without mx");
  if (!is_host_name(policy_domain)) throw std::invalid_argument("build_sts_policy_result: bad policy domain");

  // "secure": verify the chain and that the certificate names the MX host;
  // match= lists the policy's mx patterns (RFC 8461 sec. 4.1, 4.2), and the MX
  // host name goes out as SNI.
  std::string out = "secure match=";
  for (std::size_t i = 0; i < policy.mx.size(); ++i) {
    if (i > 0) out += ':';
    out += to_postfix_match(policy.mx[i]);
  }
  out += " servername=hostname";
  if (dialect == Dialect::postfix) return out;

  out += " policy_type=sts policy_domain=";
  out += policy_domain;
  for (const std::string& pattern : policy.mx) {
    out += " mx_host_pattern=";
    out += pattern;  // the RFC pattern: Postfix >= 3.10.5 matches "*." exactly as sec. 4.1
  }
  bool first = true;
  for (const std::string& line : policy.lines) {
    if (!fits_postfix_braces(line)) continue;
    std::string attribute = " { policy_string = " + line + " }";
    if (!first && kOkPrefix.size() + out.size() + attribute.size() > kMaxSocketmapReply) break;
    out += attribute;
    first = false;
  }
  return out;
}

}  // namespace mtastsd::core

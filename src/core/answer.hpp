// What mtastsd tells Postfix: socketmap replies (socketmap_table(5)) carrying
// smtp_tls_policy_maps results (postconf(5), TLSRPT_README for Postfix 3.10+).
#pragma once
#include <string>
#include <string_view>
#include "core/sts_policy.hpp"

namespace mtastsd::core {

// Output dialect, chosen per socketmap map NAME (profile).
enum class Dialect {
  postfix,         // Postfix <= 3.9: no TLSRPT attributes, no "{ }" (they make the policy invalid)
  postfix_tlsrpt,  // Postfix >= 3.10: policy_type, policy_domain, mx_host_pattern, { policy_string = ... }
};
std::string_view to_string(Dialect d);

enum class ReplyStatus { ok, notfound, temp, timeout, perm };

struct SocketmapReply {
  ReplyStatus status = ReplyStatus::notfound;
  std::string data;  // policy for ok (never empty), reason for temp/timeout/perm
};

// "OK secure ...", "NOTFOUND ", "TEMP reason" (before netstring framing).
std::string encode_reply(const SocketmapReply& reply);

// enforce policy -> "secure match=a:.b servername=hostname" plus, in postfix_tlsrpt,
// "policy_type=sts policy_domain=D mx_host_pattern=P... { policy_string = L }..."
// (always at least one of each: Postfix 3.10.0-3.10.5 crash without them).
std::string build_sts_policy_result(const StsPolicy& policy, std::string_view policy_domain, Dialect dialect);

}  // namespace mtastsd::core

// What mtastsd tells Postfix: socketmap replies (socketmap_table(5)) carrying
// smtp_tls_policy_maps results (postconf(5), TLSRPT_README for Postfix 3.10+).
#pragma once
#include <cstddef>
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

// Postfix reads at most this many bytes of reply payload (dict_sockmap.c,
// socketmap_table(5)); anything longer is a lookup error there.
inline constexpr std::size_t kMaxSocketmapReply = 100000;

struct SocketmapReply {
  ReplyStatus status = ReplyStatus::notfound;
  std::string data;  // policy for ok (never empty), reason for temp/timeout/perm
};

// "OK secure ...", "NOTFOUND ", "TEMP reason" (before netstring framing).
// An ok reply with empty data is a bug and one above kMaxSocketmapReply cannot be
// delivered: both are answered "TEMP ..." instead (Postfix defers the mail).
std::string encode_reply(const SocketmapReply& reply);

// What an encoded reply told Postfix, in one word (log lines): the policy of an OK reply
// ("secure", "dane", "dane-only"; "ok" for any other), else the status: "notfound",
// "temp", "timeout", "perm" ("invalid" for text that is no reply).
std::string_view reply_kind(std::string_view encoded);

// enforce policy -> "secure match=a:.b servername=hostname" plus, in postfix_tlsrpt,
// "policy_type=sts policy_domain=D mx_host_pattern=P... { policy_string = L }..."
// (always at least one of each: Postfix 3.10.0-3.10.5 crash without them).
// Policy lines containing "{" or "}" are left out of policy_string: Postfix's
// brace quoting cannot carry them. Further lines are left out when they would push
// the reply past kMaxSocketmapReply (they only feed reports; the first one stays).
// Preconditions (std::invalid_argument otherwise, a caller bug): mode enforce or
// testing (a profile may enforce testing-mode policies; policy_string keeps the
// real mode for reports), at
// least one mx, policy_domain a host name.
std::string build_sts_policy_result(const StsPolicy& policy, std::string_view policy_domain, Dialect dialect);

}  // namespace mtastsd::core

// Socketmap keys as Postfix sends them for smtp_tls_policy_maps, reduced to the
// domain whose MTA-STS policy applies (RFC 8461 sec. 3.4: a smarthost is its own
// policy domain; no parent-domain inheritance).
#pragma once
#include <string>
#include <string_view>

namespace mtastsd::core {

enum class NextHopKind {
  domain,        // look up `domain`
  parent_probe,  // ".example.com": Postfix's parent-domain retry; MTA-STS has none
  ip_literal,    // "[192.0.2.1]", "[ipv6:...]": no policy applies
  invalid,       // empty, bad characters, bad IDN, too long
};

struct NextHop {
  NextHopKind kind = NextHopKind::invalid;
  std::string domain;  // lowercase A-label form, no trailing dot (kind == domain only)
  // The key was the domain alone, as for mail routed by MX records to port 25; not
  // "[host]" (no MX lookup) nor "host:port". DANE (RFC 7672 sec. 2.2.1) is decided
  // for such keys only.
  bool bare = true;
};

// "Example.COM." -> example.com; "[mx.example.com]:587" / "mx.example.com:25" ->
// mx.example.com; UTF-8 labels -> A-labels (IDNA2008, libidn2).
NextHop normalize_next_hop(std::string_view key);

}  // namespace mtastsd::core

// Reduce a smtp_tls_policy_maps key to the MTA-STS policy domain. Postfix sends
// the next-hop as configured or derived: "example.com", "[mx.example.com]:587",
// "mx.example.com:25", "[192.0.2.1]", "[ipv6:2001:db8::1]", and after a NOTFOUND
// the parent-domain probes ".example.com", ".com" (smtp_tls_policy.c). Keys are
// not lowercased by Postfix for socketmap. U-labels become A-labels with libidn2
// (IDNA2008 non-transitional, falling back to transitional processing, which
// still maps symbols some domains were registered with under IDNA2003).
#include "core/next_hop.hpp"

#include <arpa/inet.h>
#include <idn2.h>
#include <netinet/in.h>

#include <algorithm>
#include <memory>
#include <optional>

#include "core/host_name.hpp"
#include "util/ascii.hpp"

namespace mtastsd::core {
namespace {

// A valid key names at most 253 A-label characters; its UTF-8 form can be a few
// times longer, but never this long. Bounds the work handed to libidn2.
constexpr std::size_t kMaxKeyLength = 1024;
constexpr std::string_view kIpv6Tag = "ipv6:";  // RFC 5321 sec. 4.1.3 "IPv6:" address literal tag

bool is_ipv4(std::string_view s) {
  in_addr addr{};
  return inet_pton(AF_INET, std::string(s).c_str(), &addr) == 1;
}
bool is_ipv6(std::string_view s) {
  in6_addr addr{};
  return inet_pton(AF_INET6, std::string(s).c_str(), &addr) == 1;
}
bool starts_with_ipv6_tag(std::string_view s) {
  return s.size() >= kIpv6Tag.size() && ascii_lowercase(s.substr(0, kIpv6Tag.size())) == kIpv6Tag;
}
// An address literal as Postfix may write it: IPv4, IPv6, or "IPv6:" + IPv6.
bool is_address_literal(std::string_view s) {
  if (starts_with_ipv6_tag(s)) return is_ipv6(s.substr(kIpv6Tag.size()));
  return is_ipv4(s) || is_ipv6(s);
}

// ":587" or ":submission": Postfix accepts a port number or a service name.
bool is_port_suffix(std::string_view s) {
  if (s.size() < 2 || s.front() != ':') return false;
  return std::ranges::all_of(s.substr(1), [](char c) { return util::is_alnum(c) || c == '-'; });
}

bool has_space_or_control(std::string_view s) {
  return std::ranges::any_of(s, [](char c) {
    const auto b = static_cast<unsigned char>(c);
    return b <= 0x20 || b == 0x7f;
  });
}
bool is_ascii(std::string_view s) {
  return std::ranges::all_of(s, [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

std::optional<std::string> to_a_labels(std::string_view utf8) {
  const std::string input(utf8);
  for (const int flags : {IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT, IDN2_TRANSITIONAL | IDN2_NFC_INPUT}) {
    char* out = nullptr;
    if (idn2_to_ascii_8z(input.c_str(), &out, flags) == IDN2_OK) {
      const std::unique_ptr<char, decltype(&idn2_free)> owned(out, &idn2_free);
      return std::string(out);
    }
  }
  return std::nullopt;
}

NextHop domain_or_invalid(std::string_view host) {
  if (host.ends_with('.')) host.remove_suffix(1);  // "example.com." is the same name
  if (host.empty()) return {};
  if (is_address_literal(host)) return {NextHopKind::ip_literal, {}};
  std::optional<std::string> name = is_ascii(host) ? std::optional(std::string(host)) : to_a_labels(host);
  if (!name) return {};
  *name = ascii_lowercase(*name);
  if (!is_host_name(*name)) return {};
  return {NextHopKind::domain, std::move(*name)};
}

}  // namespace

NextHop normalize_next_hop(std::string_view key) {
  if (key.empty() || key.size() > kMaxKeyLength || has_space_or_control(key)) return {};
  if (key.front() == '.') return {NextHopKind::parent_probe, {}};

  if (key.front() == '[') {  // "[host]" or "[host]:port": a relay named explicitly
    const std::size_t close = key.find(']');
    if (close == std::string_view::npos) return {};
    const std::string_view after = key.substr(close + 1);
    if (!after.empty() && !is_port_suffix(after)) return {};
    NextHop hop = domain_or_invalid(key.substr(1, close - 1));
    hop.bare = false;
    return hop;
  }
  if (is_address_literal(key)) return {NextHopKind::ip_literal, {}};  // bare IPv6 has colons of its own
  if (const std::size_t colon = key.rfind(':'); colon != std::string_view::npos) {
    if (!is_port_suffix(key.substr(colon))) return {};
    NextHop hop = domain_or_invalid(key.substr(0, colon));
    hop.bare = false;
    return hop;
  }
  return domain_or_invalid(key);
}

}  // namespace mtastsd::core

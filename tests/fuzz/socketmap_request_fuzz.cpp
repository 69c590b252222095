// A socketmap request payload "NAME KEY" (core/socketmap_request) and its key
// reduced to a policy domain (core/next_hop: brackets, ports, address literals,
// IDNA via libidn2), as the daemon does for every request Postfix sends.
// Properties: a parsed request puts back together into the payload, its name
// holds no space; a domain comes out lowercase, a valid host name, and
// normalises to itself (a bare key of the same domain).
#include "core/host_name.hpp"
#include "core/next_hop.hpp"
#include "core/socketmap_request.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mtastsd::core;
  const std::string_view payload = mtastsd::fuzz::as_text(data, size);
  const auto request = parse_socketmap_request(payload);
  if (!request) return 0;
  FUZZ_CHECK(!request->name.empty() && !request->key.empty());
  FUZZ_CHECK(request->name.find(' ') == std::string::npos);
  FUZZ_CHECK(request->name + ' ' + request->key == payload);

  const NextHop hop = normalize_next_hop(request->key);
  if (hop.kind != NextHopKind::domain) {
    FUZZ_CHECK(hop.domain.empty());
    return 0;
  }
  FUZZ_CHECK(is_host_name(hop.domain));
  FUZZ_CHECK(hop.domain == ascii_lowercase(hop.domain));
  const NextHop again = normalize_next_hop(hop.domain);
  FUZZ_CHECK(again.kind == NextHopKind::domain && again.domain == hop.domain && again.bare);
  return 0;
}

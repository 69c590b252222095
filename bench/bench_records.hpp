// The cache content the benchmarks share: one typical enforce policy per domain
// (two MX hosts, a week's max_age, as large sites publish), the cache records
// mtastsd would hold (built by core/cache_rules, the daemon's own rules), and
// the reply it gives Postfix. bench_fill_cache writes these records, micro_core
// reads them back, and netstring_echo answers with a reply of the same size, so
// the floor, the micro-benchmarks and the daemon all handle the same bytes.
// Limits: every domain gets the same policy shape; no DANE state (a DANE profile
// would resolve it on the first lookup).
#pragma once
#include <cstddef>
#include <expected>
#include <string>
#include <string_view>
#include "core/cache_record.hpp"
#include "util/clock.hpp"

namespace mtastsd::bench {

// The default key pattern: "%u" is replaced by the record's number (0..count-1).
inline constexpr std::string_view kDefaultPattern = "d%u.bench.example";

// `pattern` with its one "%u" replaced by `n`; an error text if it has none or several.
std::expected<std::string, std::string> domain_for(std::string_view pattern, std::size_t n);

// The policy file `domain` publishes (RFC 8461 sec. 3.2): enforce, mx1/mx2 under the domain.
std::string typical_policy_text(std::string_view domain);

// The record a successful fetch at `now` leaves (core::apply_fetch_success), last used
// at `now`: a lookup within cache.id_check_interval and cache.last_used_granularity
// is a pure cache hit (no background TXT check, no last_used write).
core::CacheRecord enforce_record(std::string_view domain, util::TimePoint now);
// The record a TXT lookup at `now` that found no _mta-sts record leaves (RFC 8461
// sec. 3.1; core::apply_txt): "no policy" cached for `ttl`, clamped to the default
// cache.negative_ttl_min/max (60 s .. 1 h).
core::CacheRecord negative_record(util::TimePoint now, util::Seconds ttl);

// The netstring payload mtastsd sends Postfix for `domain`'s typical policy (profile
// dialect postfix): "OK secure match=... servername=hostname".
std::string typical_reply(std::string_view domain);

}  // namespace mtastsd::bench

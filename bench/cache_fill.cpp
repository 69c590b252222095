// Filling a policy cache; see the header.
#include "cache_fill.hpp"

#include <fmt/format.h>
#include "bench_records.hpp"

namespace mtastsd::bench {

std::expected<void, std::string> fill_policy_store(io::PolicyStore& store, std::string_view pattern,
                                                   std::size_t count, RecordKind kind, util::TimePoint now) {
  // The negative TTL the daemon allows at most by default (cache.negative_ttl_max).
  const core::CacheRecord negative = negative_record(now, util::Seconds(3600));
  for (std::size_t n = 0; n < count; ++n) {
    auto domain = domain_for(pattern, n);
    if (!domain) return std::unexpected(domain.error());
    const core::CacheRecord record = kind == RecordKind::enforce ? enforce_record(*domain, now) : negative;
    if (auto put = store.put(*domain, record); !put)
      return std::unexpected(fmt::format("writing {}: {}: {}", *domain, io::to_string(put.error().kind),
                                         put.error().detail));
  }
  return {};
}

}  // namespace mtastsd::bench

// Filling a policy cache with bench_records' records through io::PolicyStore, as
// bench_fill_cache does for the 100k-policy run and micro_core for its lookups.
#pragma once
#include <cstddef>
#include <expected>
#include <string>
#include <string_view>
#include "io/policy_store.hpp"
#include "util/clock.hpp"

namespace mtastsd::bench {

enum class RecordKind {
  enforce,   // a valid enforce policy (bench_records: enforce_record)
  negative,  // a cached "no policy" (bench_records: negative_record)
};

// Writes records for the domains `pattern` gives for 0..count-1, as written at `now`.
// An error text names the record that could not be written (a full map, say).
std::expected<void, std::string> fill_policy_store(io::PolicyStore& store, std::string_view pattern,
                                                   std::size_t count, RecordKind kind, util::TimePoint now);

}  // namespace mtastsd::bench

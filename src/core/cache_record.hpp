// One domain's entry in the policy cache (LMDB is the single source of truth:
// the daemon keeps no second copy in memory, so mtastsctl sees what it sees).
// Encoded with a format version; a record of an unknown version or a corrupt
// one decodes to an error and is treated as absent. Format 3 is binary (a hit
// decodes it on every lookup); formats 1 and 2, JSON, are still read.
#pragma once
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include "core/dane.hpp"
#include "core/failure_type.hpp"
#include "core/sts_policy.hpp"
#include "util/clock.hpp"

namespace mtastsd::core {

inline constexpr int kCacheRecordFormat = 3;
// Times are stored as unix seconds up to this; the cap keeps TimePoint arithmetic
// (nanoseconds since 1970 in 64 bits) from overflowing.
inline constexpr std::int64_t kMaxRecordUnixTime = std::int64_t{1} << 33;  // year 2242

struct CacheRecord {
  // --- the cached policy (has_policy() == !policy_text.empty()) ---
  std::string policy_id;           // TXT id the policy was fetched (or last confirmed) under
  std::string policy_text;         // body exactly as fetched
  StsPolicy policy;                // parsed form of policy_text
  util::TimePoint fetched_at{};
  util::TimePoint valid_until{};   // last fetch or id confirmation + max_age (RFC 8461 sec. 3.3)

  // --- discovery ---
  util::TimePoint last_id_check{}; // last completed TXT lookup, whatever its outcome
  std::string last_txt_id;         // id seen then ("" = no usable record)
  util::TimePoint last_used{};     // last socketmap lookup (coarse: written at most hourly)
  util::TimePoint negative_until{};// while no valid policy: "no policy" is cached until then

  // --- failures (RFC 8461 sec. 3.3: do not refetch a failing id too often) ---
  std::optional<FailureType> failure;  // last fetch failure class, cleared on success
  std::string failure_detail;
  std::string failed_id;           // TXT id whose fetch failed
  util::TimePoint failed_at{};
  util::TimePoint next_retry{};    // no fetch for failed_id before this
  std::uint32_t consecutive_failures = 0;

  // --- DANE (RFC 7672), for profiles with dane = true; nullopt: never resolved ---
  std::optional<DaneState> dane;

  bool has_policy() const { return !policy_text.empty(); }
  bool policy_valid_at(util::TimePoint now) const { return has_policy() && now < valid_until; }
};

struct CacheRecordCorrupt {
  std::string detail;
};

std::string encode_cache_record(const CacheRecord& r);
std::expected<CacheRecord, CacheRecordCorrupt> decode_cache_record(std::string_view bytes);

}  // namespace mtastsd::core

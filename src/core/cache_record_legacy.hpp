// Decoding of the JSON cache records of formats 1 and 2, which older versions
// wrote; see cache_record_legacy.cpp. Used only by core/cache_record.cpp.
#pragma once
#include <expected>
#include <string_view>
#include "core/cache_record.hpp"

namespace mtastsd::core {

std::expected<CacheRecord, CacheRecordCorrupt> decode_legacy_cache_record(std::string_view bytes);

}  // namespace mtastsd::core

// The policy cache's record decoder (core/cache_record decode_cache_record):
// binary format 3 and the JSON of formats 1 and 2, as read back from LMDB (a
// cache file can be damaged, or written by another version). Properties: no
// input throws; any record that decodes encodes to format 3 and decodes again to
// a record that encodes to the very same bytes (nothing is lost or changed by a
// round trip, whatever the input's format).
#include <string>
#include "core/cache_record.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mtastsd::core;
  const auto record = decode_cache_record(mtastsd::fuzz::as_text(data, size));
  if (!record) {
    FUZZ_CHECK(!record.error().detail.empty());
    return 0;
  }
  const std::string encoded = encode_cache_record(*record);
  FUZZ_CHECK(!encoded.empty() && static_cast<unsigned char>(encoded.front()) == kCacheRecordFormat);
  const auto again = decode_cache_record(encoded);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(encode_cache_record(*again) == encoded);
  FUZZ_CHECK(again->policy_text == record->policy_text && again->policy.lines == record->policy.lines);
  return 0;
}

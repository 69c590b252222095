// Checked reads of JSON object members (nlohmann-json) for decoders of stored
// data: a member must exist and have the expected type and range, else the
// error says which field and why. Never throws.
#pragma once
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <utility>
#include <vector>
#include <nlohmann/json.hpp>

namespace mtastsd::util {

using JsonFieldError = std::string;  // "missing field \"x\"", "field \"x\" is not a string", ...

std::expected<const nlohmann::json*, JsonFieldError> json_member(const nlohmann::json& obj, const char* key);
std::expected<std::string, JsonFieldError> json_string(const nlohmann::json& obj, const char* key);
std::expected<bool, JsonFieldError> json_bool(const nlohmann::json& obj, const char* key);
// A signed integer within [min, max].
std::expected<std::int64_t, JsonFieldError> json_int(const nlohmann::json& obj, const char* key, std::int64_t min,
                                                     std::int64_t max);
// A non-negative integer.
std::expected<std::uint64_t, JsonFieldError> json_count(const nlohmann::json& obj, const char* key);
std::expected<std::vector<std::string>, JsonFieldError> json_string_array(const nlohmann::json& obj, const char* key);

// A reader's result with its error as the decoder's own error type E, an aggregate
// holding the detail text (e.g. core::CacheRecordCorrupt{detail}).
template <typename E, typename T>
std::expected<T, E> json_field_as(std::expected<T, JsonFieldError> result) {
  if (!result) return std::unexpected(E{std::move(result.error())});
  return std::move(*result);
}

// Moves one field's value into `out`, or keeps the first error in `first_error`: a
// decoder reads field after field and looks at the errors once.
template <typename R, typename T, typename E>
void take_field(R&& result, T& out, std::optional<E>& first_error) {
  if (first_error) return;
  if (!result)
    first_error = std::move(result.error());
  else
    out = std::move(*result);
}

}  // namespace mtastsd::util

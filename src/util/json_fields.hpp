// Checked reads of JSON object members (nlohmann-json) for decoders of stored
// data: a member must exist and have the expected type and range, else the
// error says which field and why. Never throws.
#pragma once
#include <cstdint>
#include <expected>
#include <string>
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

}  // namespace mtastsd::util

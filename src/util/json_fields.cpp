// Checked JSON member reads; see the header.
#include "util/json_fields.hpp"

#include <limits>

namespace mtastsd::util {
namespace {
using Json = nlohmann::json;
std::unexpected<JsonFieldError> problem(const char* key, const char* what) {
  return std::unexpected(std::string("field \"") + key + "\" " + what);
}
}  // namespace

std::expected<const Json*, JsonFieldError> json_member(const Json& obj, const char* key) {
  const auto it = obj.find(key);
  if (it == obj.end()) return std::unexpected(std::string("missing field \"") + key + "\"");
  return &*it;
}

std::expected<std::string, JsonFieldError> json_string(const Json& obj, const char* key) {
  auto m = json_member(obj, key);
  if (!m) return std::unexpected(m.error());
  if (!(*m)->is_string()) return problem(key, "is not a string");
  return (*m)->get_ref<const std::string&>();
}

std::expected<bool, JsonFieldError> json_bool(const Json& obj, const char* key) {
  auto m = json_member(obj, key);
  if (!m) return std::unexpected(m.error());
  if (!(*m)->is_boolean()) return problem(key, "is not a boolean");
  return (*m)->get<bool>();
}

std::expected<std::int64_t, JsonFieldError> json_int(const Json& obj, const char* key, std::int64_t min,
                                                     std::int64_t max) {
  auto m = json_member(obj, key);
  if (!m) return std::unexpected(m.error());
  const Json& v = **m;
  std::int64_t n = 0;
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return problem(key, "out of range");
    n = static_cast<std::int64_t>(u);
  } else if (v.is_number_integer()) {
    n = v.get<std::int64_t>();
  } else {
    return problem(key, "is not an integer");
  }
  if (n < min || n > max) return problem(key, "out of range");
  return n;
}

std::expected<std::uint64_t, JsonFieldError> json_count(const Json& obj, const char* key) {
  auto m = json_member(obj, key);
  if (!m) return std::unexpected(m.error());
  if ((*m)->is_number_unsigned()) return (*m)->get<std::uint64_t>();
  if ((*m)->is_number_integer() && (*m)->get<std::int64_t>() >= 0)
    return static_cast<std::uint64_t>((*m)->get<std::int64_t>());
  return problem(key, "is not a count");
}

std::expected<std::vector<std::string>, JsonFieldError> json_string_array(const Json& obj, const char* key) {
  auto m = json_member(obj, key);
  if (!m) return std::unexpected(m.error());
  if (!(*m)->is_array()) return problem(key, "is not an array");
  std::vector<std::string> out;
  out.reserve((*m)->size());
  for (const Json& item : **m) {
    if (!item.is_string()) return problem(key, "holds a non-string");
    out.push_back(item.get_ref<const std::string&>());
  }
  return out;
}

}  // namespace mtastsd::util

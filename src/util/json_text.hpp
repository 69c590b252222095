// Compact JSON text (nlohmann-json) that never throws: invalid UTF-8 in a string,
// text taken from outside, is written as U+FFFD instead of throwing type_error 316.
#pragma once
#include <string>

namespace mtastsd::util {

// For nlohmann::json and nlohmann::ordered_json.
template <typename BasicJson>
std::string json_text(const BasicJson& j) {
  return j.dump(-1, ' ', false, BasicJson::error_handler_t::replace);
}

}  // namespace mtastsd::util

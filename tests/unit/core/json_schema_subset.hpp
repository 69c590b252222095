// Test helper: checks a JSON document against a JSON Schema (draft 2020-12) that
// uses only the keywords below, so unit tests can validate reports against
// tests/data/tlsrpt-report.schema.json without a schema library (python3's
// jsonschema can use the same file from the integration tests).
// Supported: type, required, properties, additionalProperties (false only), items,
// enum, minimum, minItems, minLength, pattern (ECMAScript std::regex); annotations
// ($schema, $id, $comment, title, description) are ignored. Any other keyword is
// reported as an error, so the schema cannot outgrow the checker unnoticed.
#pragma once
#include <nlohmann/json.hpp>

#include <algorithm>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace mtastsd::test {

class JsonSchemaSubset {
 public:
  using Json = nlohmann::json;

  // Every violation as "JSON-pointer: what"; empty when the document is valid.
  static std::vector<std::string> check(const Json& schema, const Json& document) {
    std::vector<std::string> errors;
    check_at(schema, document, "", errors);
    return errors;
  }

 private:
  static bool has_type(const Json& value, const std::string& type) {
    if (type == "object") return value.is_object();
    if (type == "array") return value.is_array();
    if (type == "string") return value.is_string();
    if (type == "integer") return value.is_number_integer();
    if (type == "number") return value.is_number();
    if (type == "boolean") return value.is_boolean();
    if (type == "null") return value.is_null();
    return false;
  }

  static void check_at(const Json& schema, const Json& value, const std::string& path,
                       std::vector<std::string>& errors) {
    static const std::set<std::string> kAnnotations = {"$schema", "$id", "$comment", "title", "description"};
    static const std::set<std::string> kKeywords = {"type",      "required", "properties", "additionalProperties",
                                                    "items",     "enum",     "minimum",    "minItems",
                                                    "minLength", "pattern"};
    const std::string where = path.empty() ? "/" : path;
    for (const auto& [keyword, argument] : schema.items()) {
      if (kAnnotations.contains(keyword)) continue;
      if (!kKeywords.contains(keyword)) {
        errors.push_back(where + ": schema keyword \"" + keyword + "\" is not supported by the checker");
        continue;
      }
      if (keyword == "additionalProperties" && argument != false) {
        errors.push_back(where + ": the checker supports only \"additionalProperties\": false");
        continue;
      }
      if (keyword == "type" && !has_type(value, argument.get<std::string>())) {
        errors.push_back(where + ": not of type " + argument.get<std::string>());
        return;  // the other keywords would only repeat the complaint
      }
    }
    if (schema.contains("enum") &&
        std::find(schema["enum"].begin(), schema["enum"].end(), value) == schema["enum"].end())
      errors.push_back(where + ": " + value.dump() + " is not one of " + schema["enum"].dump());
    if (value.is_object()) check_object(schema, value, path, errors);
    if (value.is_array()) {
      if (schema.contains("minItems") && value.size() < schema["minItems"].get<std::size_t>())
        errors.push_back(where + ": fewer than " + schema["minItems"].dump() + " items");
      if (schema.contains("items"))
        for (std::size_t i = 0; i < value.size(); ++i)
          check_at(schema["items"], value[i], path + "/" + std::to_string(i), errors);
    }
    if (value.is_string()) {
      const auto& text = value.get_ref<const std::string&>();
      if (schema.contains("minLength") && text.size() < schema["minLength"].get<std::size_t>())
        errors.push_back(where + ": shorter than " + schema["minLength"].dump());
      if (schema.contains("pattern") && !std::regex_search(text, std::regex(schema["pattern"].get<std::string>())))
        errors.push_back(where + ": \"" + text + "\" does not match " + schema["pattern"].dump());
    }
    if (value.is_number() && schema.contains("minimum") && value.get<double>() < schema["minimum"].get<double>())
      errors.push_back(where + ": below " + schema["minimum"].dump());
  }

  static void check_object(const Json& schema, const Json& value, const std::string& path,
                           std::vector<std::string>& errors) {
    const std::string where = path.empty() ? "/" : path;
    if (schema.contains("required"))
      for (const Json& name : schema["required"])
        if (!value.contains(name.get<std::string>()))
          errors.push_back(where + ": missing required member \"" + name.get<std::string>() + "\"");
    const Json properties = schema.value("properties", Json::object());
    for (const auto& [name, member] : value.items()) {
      if (properties.contains(name))
        check_at(properties[name], member, path + "/" + name, errors);
      else if (schema.contains("additionalProperties") && schema["additionalProperties"] == false)
        errors.push_back(where + ": member \"" + name + "\" is not allowed");
    }
  }
};

}  // namespace mtastsd::test

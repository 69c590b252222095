// The configuration keys a man page documents, read from its man(7) source by the
// convention of mtastsd.conf(5) (stated in its header comment too):
//   - a key is documented only by a .TP entry whose tag line (the line after .TP) is
//       .BR key " (type, default ...)"   or   .BR key1 ", " key2 " (types, defaults ...)"
//     i.e. bold key names separated by roman ", ", then a roman part that opens with " (";
//   - its table is named by the heading above it: .SH "TOP-LEVEL KEYS" (top level),
//     .SH [table], .SH [[table]] or .SH [profiles.NAME]; such a heading also documents
//     the top-level key "table" ("profiles"); an .SS below it keeps the table; any other
//     .SH ends the keys;
//   - in a table's section every .TP at the outer level must be a key entry (a list
//     inside a key's description sits between .RS and .RE).
// So a key named in prose, in an example or under another heading does not count.
// Names come out as config_key_names() spells them: "key", "table.key",
// "profiles.NAME.key". Limits: reads only the requests named here; key names hold no
// roff escapes; a quoted macro argument ends at the first lone '"'.
#pragma once
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

namespace mtastsd::test {

struct ManPageKeys {
  std::set<std::string> keys;
  std::vector<std::string> problems;  // "line N: ...": entries that break the convention
};

// The arguments of a roff request line ("BR a \" b\"" -> {"a", " b"}): separated by
// spaces, a double-quoted argument may hold spaces and "" stands for one '"'.
inline std::vector<std::string> roff_arguments(std::string_view text) {
  std::vector<std::string> args;
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] == ' ') {
      ++i;
      continue;
    }
    std::string arg;
    if (text[i] == '"') {
      for (++i; i < text.size(); ++i) {
        if (text[i] != '"') {
          arg += text[i];
        } else if (i + 1 < text.size() && text[i + 1] == '"') {
          arg += '"';
          ++i;
        } else {
          ++i;
          break;
        }
      }
    } else {
      while (i < text.size() && text[i] != ' ') arg += text[i++];
    }
    args.push_back(std::move(arg));
  }
  return args;
}

// A request line split into its macro ("TP") and the rest; nullopt for text lines.
struct Request {
  std::string macro;
  std::string rest;
};
inline std::optional<Request> request_of(const std::string& line) {
  if (!line.starts_with('.') || line.starts_with(".\\\"")) return std::nullopt;
  const auto space = line.find(' ');
  if (space == std::string::npos) return Request{line.substr(1), ""};
  return Request{line.substr(1, space - 1), line.substr(space + 1)};
}

// The table a heading names (see above), or nullopt when it names none.
inline std::optional<std::string> heading_table(const std::string& heading) {
  static const std::regex table(R"(\[\[?([a-z_]+(\.NAME)?)\]\]?)");
  if (heading == "TOP-LEVEL KEYS") return std::string();
  std::smatch m;
  if (std::regex_match(heading, m, table)) return m[1].str();
  return std::nullopt;
}

// The keys of one .TP tag line, or nullopt when it is no key entry.
inline std::optional<std::vector<std::string>> tag_keys(const std::string& tag_line) {
  static const std::regex key(R"([a-z][a-z0-9_]*)");
  const auto request = request_of(tag_line);
  if (!request || request->macro != "BR") return std::nullopt;
  const std::vector<std::string> args = roff_arguments(request->rest);
  std::vector<std::string> keys;
  // Bold arguments at even positions, roman at odd ones.
  for (std::size_t i = 0; i < args.size(); i += 2) {
    if (!std::regex_match(args[i], key)) return std::nullopt;
    keys.push_back(args[i]);
    if (i + 1 >= args.size()) return std::nullopt;  // no " (type ...)"
    if (args[i + 1] == ", ") continue;
    if (args[i + 1].starts_with(" (")) return keys;
    return std::nullopt;
  }
  return std::nullopt;
}

inline ManPageKeys documented_config_keys(std::string_view page) {
  ManPageKeys found;
  std::vector<std::string> lines;
  std::istringstream in{std::string(page)};
  for (std::string line; std::getline(in, line);) lines.push_back(line);

  std::optional<std::string> table;  // nullopt: not in a table's section
  int depth = 0;                     // .RS nesting
  auto add = [&found](const std::string& name, std::size_t index) {
    if (!found.keys.insert(name).second)
      found.problems.push_back(fmt::format("line {}: {} is documented twice", index + 1, name));
  };
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto request = request_of(lines[i]);
    if (!request) continue;
    if (request->macro == "SH") {
      std::string heading;
      for (const std::string& word : roff_arguments(request->rest)) heading += (heading.empty() ? "" : " ") + word;
      table = heading_table(heading);
      depth = 0;
      if (table && !table->empty()) add(table->substr(0, table->find('.')), i);
    } else if (request->macro == "RS") {
      ++depth;
    } else if (request->macro == "RE") {
      depth = depth > 0 ? depth - 1 : 0;
    } else if (request->macro == "TP" && table && depth == 0) {
      const std::string tag = i + 1 < lines.size() ? lines[i + 1] : "";
      const auto keys = tag_keys(tag);
      if (!keys) {
        found.problems.push_back(fmt::format("line {}: the .TP tag in [{}] is no key entry: {}", i + 2,
                                             table->empty() ? "TOP-LEVEL KEYS" : *table, tag));
        continue;
      }
      for (const std::string& key : *keys) add(table->empty() ? key : *table + "." + key, i + 1);
    }
  }
  return found;
}

}  // namespace mtastsd::test

// Host-name syntax checks (RFC 5321 sec. 4.1.2, RFC 1035 sec. 2.3.4, RFC 3696 sec. 2).
#include "core/host_name.hpp"

#include <algorithm>

#include "util/ascii.hpp"

namespace mtastsd::core {
namespace {

bool is_label(std::string_view label) {
  if (label.empty() || label.size() > kMaxLabelLength) return false;
  if (!util::is_alnum(label.front()) || !util::is_alnum(label.back())) return false;
  return std::ranges::all_of(label, [](char c) { return util::is_alnum(c) || c == '-'; });
}

}  // namespace

bool is_host_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxHostNameLength) return false;
  std::string_view last_label;
  for (std::string_view rest = name;;) {
    const std::size_t dot = rest.find('.');
    last_label = rest.substr(0, dot);
    if (!is_label(last_label)) return false;
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  return !std::ranges::all_of(last_label, util::is_digit);
}

std::string ascii_lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

}  // namespace mtastsd::core

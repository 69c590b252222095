// Socketmap request payloads "NAME KEY" (socketmap_table(5)).
#include "core/socketmap_request.hpp"

namespace mtastsd::core {

std::string_view to_string(SocketmapRequestError e) {
  switch (e) {
    case SocketmapRequestError::no_space: return "request has no space between name and key";
    case SocketmapRequestError::empty_name: return "request has an empty map name";
    case SocketmapRequestError::empty_key: return "request has an empty key";
  }
  return "malformed request";
}

std::expected<SocketmapRequest, SocketmapRequestError> parse_socketmap_request(std::string_view payload) {
  const std::size_t space = payload.find(' ');
  if (space == std::string_view::npos) return std::unexpected(SocketmapRequestError::no_space);
  if (space == 0) return std::unexpected(SocketmapRequestError::empty_name);
  if (space + 1 == payload.size()) return std::unexpected(SocketmapRequestError::empty_key);
  return SocketmapRequest{std::string(payload.substr(0, space)), std::string(payload.substr(space + 1))};
}

}  // namespace mtastsd::core

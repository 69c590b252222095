// A socketmap request payload "NAME KEY" (socketmap_table(5)). The key is not
// escaped and may itself contain spaces; NAME ends at the first space.
#pragma once
#include <expected>
#include <string>
#include <string_view>

namespace mtastsd::core {

struct SocketmapRequest {
  std::string name;  // map name = profile
  std::string key;
};

enum class SocketmapRequestError { no_space, empty_name, empty_key };
std::string_view to_string(SocketmapRequestError e);

std::expected<SocketmapRequest, SocketmapRequestError> parse_socketmap_request(std::string_view payload);

}  // namespace mtastsd::core

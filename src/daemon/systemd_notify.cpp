// sd_notify(3) messages; see the header.
#include "daemon/systemd_notify.hpp"

#include <systemd/sd-daemon.h>

#include <string>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace mtastsd::daemon::systemd {
namespace {

void send(const std::string& message) {
  // unset_environment = 0: a reload sends again from the same process.
  if (const int rc = ::sd_notify(0, message.c_str()); rc < 0)
    spdlog::warn("sd_notify failed: {}", std::strerror(-rc));
}

}  // namespace

void ready(std::string_view text) { send(fmt::format("READY=1\nSTATUS={}", text)); }
void reloading(std::string_view text) { send(fmt::format("RELOADING=1\nSTATUS={}", text)); }
void stopping(std::string_view text) { send(fmt::format("STOPPING=1\nSTATUS={}", text)); }
void status(std::string_view text) { send(fmt::format("STATUS={}", text)); }
void watchdog() { send("WATCHDOG=1"); }

std::optional<std::chrono::microseconds> watchdog_period() {
  std::uint64_t usec = 0;
  if (::sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  return std::chrono::microseconds(usec / 2);
}

}  // namespace mtastsd::daemon::systemd

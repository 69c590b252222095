// Telling the service manager how mtastsd is doing (sd_notify(3), for a
// Type=notify unit): READY=1 once the sockets are bound and the services run,
// RELOADING=1 ... READY=1 around a SIGHUP reload, STOPPING=1 on a stop signal,
// STATUS= lines for `systemctl status`, and WATCHDOG=1 keep-alives when the unit
// sets WatchdogSec. Every call is a no-op when not started by systemd (no
// NOTIFY_SOCKET), so the daemon runs the same in a terminal or a test.
#pragma once
#include <chrono>
#include <optional>
#include <string_view>

namespace mtastsd::daemon::systemd {

void ready(std::string_view status);
void reloading(std::string_view status);
void stopping(std::string_view status);
void status(std::string_view status);
void watchdog();

// Half the watchdog interval systemd expects keep-alives in (sd_watchdog_enabled(3):
// "send ... before half the time has elapsed"); nullopt when the watchdog is off.
std::optional<std::chrono::microseconds> watchdog_period();

}  // namespace mtastsd::daemon::systemd

// mtastsctl's exit statuses (mtastsctl(8), EXIT STATUS) shared by its commands;
// status 3 is daemon_commands' (kDaemonNotRunning), check has statuses of its own.
#pragma once

namespace mtastsd::ctl {

inline constexpr int kExitOk = 0;
// No result: not cached, no usable policy, nothing to send, no policy fetched.
inline constexpr int kExitNoResult = 1;
// A bad command line or configuration, or a failure of the command itself.
inline constexpr int kExitError = 2;

}  // namespace mtastsd::ctl

// A warning that can repeat without bound (malformed datagrams or log lines,
// sessions that cannot be counted) logged at most once per window: the first
// occurrence at once, later ones counted and summed up in one line when the
// window ends ("N more ..., latest: ..."). Never more than one line per window.
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <boost/asio/any_io_executor.hpp>

namespace mtastsd::daemon {

// Our choice: a flood of bad input costs one log line per 10 seconds.
inline constexpr std::chrono::seconds kWarningWindow{10};

class ThrottledWarning {
 public:
  // `what` names the problem in the log: "malformed TLS-RPT datagram".
  ThrottledWarning(boost::asio::any_io_executor ex, std::string what,
                   std::chrono::steady_clock::duration window = kWarningWindow);
  ~ThrottledWarning();
  ThrottledWarning(const ThrottledWarning&) = delete;
  ThrottledWarning& operator=(const ThrottledWarning&) = delete;

  // One occurrence; `detail` is printable and short (what was wrong).
  void note(std::string detail);
  std::uint64_t total() const;

 private:
  struct State;
  std::shared_ptr<State> state_;  // shared with the window timer's handler
};

}  // namespace mtastsd::daemon

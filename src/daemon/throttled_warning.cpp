// Rate-limited warnings; see the header.
#include "daemon/throttled_warning.hpp"

#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

namespace mtastsd::daemon {

struct ThrottledWarning::State : std::enable_shared_from_this<State> {
  std::string what;
  std::chrono::steady_clock::duration window;
  boost::asio::steady_timer timer;
  bool window_open = false;
  std::uint64_t suppressed = 0;
  std::uint64_t total = 0;
  std::string latest;

  State(boost::asio::any_io_executor ex, std::string w, std::chrono::steady_clock::duration d)
      : what(std::move(w)), window(d), timer(std::move(ex)) {}

  void open_window() {
    window_open = true;
    timer.expires_after(window);
    timer.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      if (auto self = weak.lock(); self && !ec) self->close_window();
    });
  }

  void close_window() {
    if (suppressed == 0) {
      window_open = false;
      return;
    }
    spdlog::warn("{}: {} more in the last {} s, latest: {} ({} in total)", what, suppressed,
                 std::chrono::duration_cast<std::chrono::seconds>(window).count(), latest, total);
    suppressed = 0;
    latest.clear();
    open_window();  // the line just written starts the next window
  }
};

ThrottledWarning::ThrottledWarning(boost::asio::any_io_executor ex, std::string what,
                                   std::chrono::steady_clock::duration window)
    : state_(std::make_shared<State>(std::move(ex), std::move(what), window)) {}

ThrottledWarning::~ThrottledWarning() {
  // What the last window held must not vanish silently.
  if (state_->suppressed > 0)
    spdlog::warn("{}: {} more, latest: {} ({} in total)", state_->what, state_->suppressed, state_->latest,
                 state_->total);
}

void ThrottledWarning::note(std::string detail) {
  State& s = *state_;
  ++s.total;
  if (s.window_open) {
    ++s.suppressed;
    s.latest = std::move(detail);
    return;
  }
  spdlog::warn("{}: {} ({} in total)", s.what, detail, s.total);
  s.open_window();
}

std::uint64_t ThrottledWarning::total() const { return state_->total; }

}  // namespace mtastsd::daemon

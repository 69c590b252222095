// Follows Postfix's mail log for Postfix <= 3.9 (no libtlsrpt): a file that
// logrotate renames or truncates, or a stream on standard input ("-", e.g.
// `journalctl -f -o short-iso -u postfix@- | mtastsd ...`). Hands out complete
// lines, without the line end.
//
// A file is read every kPollInterval (Asio timer; Linux offers no readiness for
// regular files): everything new up to its end, then a stat() of the path tells
// whether it was rotated (another inode: the old file is read to its end once
// more, then the new one from its start) or truncated (smaller than what was
// read: from the start). On the very first start it begins at the file's end
// (old lines were never seen by this mtastsd and may not be today's); after a
// restart it continues at the position stored with the last counted batch (see
// TlsrptAggregator), or from the start of a file that is not the one it was in;
// a file that does not exist at start is waited for and read from its start.
// Limits: lines a rotated-away file got after mtastsd stopped are not read; a
// line longer than core::kMaxLogLineLength is handed out cut to that length + 1
// (the correlator rejects it) and its rest is skipped; at most kMaxReadPerTick
// bytes are read per tick, so a huge backlog does not stall the event loop.
// Standard input is read as it arrives (posix::stream_descriptor); it must be a
// pipe or socket, and has no position to resume from.
#pragma once
#include <chrono>
#include <cstddef>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <boost/asio/any_io_executor.hpp>
#include "io/tlsrpt_store.hpp"

namespace mtastsd::daemon {

inline constexpr std::chrono::milliseconds kPollInterval{250};
inline constexpr std::size_t kMaxReadPerTick = 4u << 20;

class LogFollower {
 public:
  struct Handlers {
    std::function<void(std::string_view line)> line;
    // Files: the position after the last complete line handed out, after each read.
    std::function<void(const io::LogPosition&)> position;
  };

  // source: an absolute path, or "-" for standard input. resume: the stored position.
  LogFollower(boost::asio::any_io_executor ex, std::string source, std::optional<io::LogPosition> resume,
              Handlers handlers);
  ~LogFollower();

  // Standard input must be a pipe or socket (an error otherwise). A file that does
  // not exist yet is no error: it is waited for.
  std::expected<void, std::string> open();
  void start();
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mtastsd::daemon

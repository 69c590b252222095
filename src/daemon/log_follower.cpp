// Following a log file across rotation, or standard input; see the header.
#include "daemon/log_follower.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <utility>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>
#include "core/postfix_tls_log.hpp"

namespace asio = boost::asio;
using boost::system::error_code;

namespace mtastsd::daemon {
namespace {

constexpr std::size_t kReadChunk = 64 * 1024;

}  // namespace

struct LogFollower::Impl : std::enable_shared_from_this<Impl> {
  asio::any_io_executor ex;
  std::string source;
  std::optional<io::LogPosition> resume;
  Handlers handlers;
  asio::steady_timer timer;
  std::optional<asio::posix::stream_descriptor> input;  // standard input
  bool stopping = false;
  std::string partial;  // the line being read, at most kMaxLogLineLength + 1 bytes

  // The file being followed.
  int fd = -1;
  bool first_attempt_done = false;  // later opens find a new file: read it whole
  io::LogPosition at;  // device, inode, and the offset after the last complete line
  std::uint64_t read_offset = 0;
  bool file_missing_logged = false;

  Impl(asio::any_io_executor e, std::string s, std::optional<io::LogPosition> r, Handlers h)
      : ex(e), source(std::move(s)), resume(r), handlers(std::move(h)), timer(e) {}

  ~Impl() { close_file(); }

  // Splits data into lines; returns the offset just after its last line end, if any.
  std::optional<std::size_t> consume(std::string_view data) {
    std::optional<std::size_t> last_end;
    std::size_t start = 0;
    for (;;) {
      const std::size_t nl = data.find('\n', start);
      append(data.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start));
      if (nl == std::string_view::npos) return last_end;
      handlers.line(partial);
      partial.clear();
      start = nl + 1;
      last_end = start;
    }
  }

  void append(std::string_view bytes) {
    // One byte beyond the cap marks an overlong line; the rest of it is dropped.
    const std::size_t room = core::kMaxLogLineLength + 1 - std::min(partial.size(), core::kMaxLogLineLength + 1);
    partial.append(bytes.substr(0, room));
  }

  void end_of_stream() {
    if (!partial.empty()) handlers.line(partial);  // a last line without its line end
    partial.clear();
  }

  // ---- files ----

  void close_file() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }

  // Opens the path; false if it is not there (yet).
  bool open_file() {
    const int opened = ::open(source.c_str(), O_RDONLY | O_CLOEXEC);
    const bool first_attempt = !std::exchange(first_attempt_done, true);
    if (opened < 0) {
      if (!file_missing_logged)
        spdlog::warn("Postfix log {}: {}; waiting for it", source, std::strerror(errno));
      file_missing_logged = true;
      return false;
    }
    struct stat st {};
    ::fstat(opened, &st);
    fd = opened;
    file_missing_logged = false;
    const io::LogPosition identity{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino), 0};
    std::uint64_t offset = 0;  // a new file (rotated, or created after we started): all of it is new
    if (first_attempt) {
      if (!resume) {
        offset = static_cast<std::uint64_t>(st.st_size);  // first start: only what comes from now on
      } else if (resume->device == identity.device && resume->inode == identity.inode &&
                 resume->offset <= static_cast<std::uint64_t>(st.st_size)) {
        offset = resume->offset;
      }
    }
    ::lseek(fd, static_cast<off_t>(offset), SEEK_SET);
    at = identity;
    at.offset = read_offset = offset;
    partial.clear();
    spdlog::info("Postfix log {}: reading from offset {} (inode {})", source, offset, at.inode);
    handlers.position(at);
    return true;
  }

  // Reads up to `budget` bytes; true when it reached the end of the file.
  bool read_available(std::size_t budget) {
    std::array<char, kReadChunk> buffer;
    while (budget > 0) {
      const ssize_t n = ::read(fd, buffer.data(), std::min(buffer.size(), budget));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        spdlog::warn("Postfix log {}: read: {}", source, std::strerror(errno));
        return true;
      }
      if (n == 0) return true;
      const auto last_end = consume(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
      if (last_end) at.offset = read_offset + *last_end;
      read_offset += static_cast<std::uint64_t>(n);
      budget -= static_cast<std::size_t>(n);
    }
    return false;
  }

  // After reaching the end: has the path moved on to another file, or been truncated?
  void check_rotation() {
    struct stat path_st {};
    if (::stat(source.c_str(), &path_st) != 0) return;  // renamed, not recreated yet: keep the old one
    if (static_cast<std::uint64_t>(path_st.st_ino) != at.inode ||
        static_cast<std::uint64_t>(path_st.st_dev) != at.device) {
      read_available(static_cast<std::size_t>(-1));  // what was written to the old file until the switch
      end_of_stream();
      spdlog::info("Postfix log {}: rotated", source);
      close_file();
      open_file();
      return;
    }
    struct stat fd_st {};
    if (::fstat(fd, &fd_st) == 0 && static_cast<std::uint64_t>(fd_st.st_size) < read_offset) {
      spdlog::info("Postfix log {}: truncated; reading from its start", source);
      ::lseek(fd, 0, SEEK_SET);
      at.offset = read_offset = 0;
      partial.clear();
    }
  }

  void tick() {
    if (stopping) return;
    bool at_end = true;
    const io::LogPosition before = at;
    if (fd >= 0 || open_file()) {
      at_end = read_available(kMaxReadPerTick);
      if (at_end) check_rotation();
    }
    if (fd >= 0 && at != before) handlers.position(at);
    // A backlog is read on at once, in slices; otherwise wait for more.
    timer.expires_after(at_end ? std::chrono::steady_clock::duration(kPollInterval)
                               : std::chrono::steady_clock::duration::zero());
    timer.async_wait([weak = weak_from_this()](error_code ec) {
      if (auto self = weak.lock(); self && !ec) self->tick();
    });
  }

  // ---- standard input ----

  asio::awaitable<void> read_stream() {
    auto self = shared_from_this();
    std::array<char, kReadChunk> buffer;
    while (!stopping) {
      error_code ec;
      const std::size_t n =
          co_await input->async_read_some(asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
      if (n > 0) consume(std::string_view(buffer.data(), n));
      if (ec == asio::error::operation_aborted || stopping) break;
      if (ec == asio::error::eof) {
        end_of_stream();
        spdlog::warn("Postfix log on standard input ended; no more sessions are read from it");
        break;
      }
      if (ec) {
        spdlog::error("Postfix log on standard input: {}", ec.message());
        break;
      }
    }
  }
};

LogFollower::LogFollower(asio::any_io_executor ex, std::string source, std::optional<io::LogPosition> resume,
                         Handlers handlers)
    : impl_(std::make_shared<Impl>(std::move(ex), std::move(source), resume, std::move(handlers))) {}

LogFollower::~LogFollower() { stop(); }

std::expected<void, std::string> LogFollower::open() {
  if (impl_->source != "-") return {};  // a file is opened (or waited for) by the first tick
  struct stat st {};
  if (::fstat(STDIN_FILENO, &st) != 0) return std::unexpected(std::string("standard input: ") + std::strerror(errno));
  if (!S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode))
    return std::unexpected(std::string("tlsrpt.postfix_log = \"-\" needs a pipe or socket on standard input "
                                       "(for a file, name it in tlsrpt.postfix_log)"));
  const int fd = ::dup(STDIN_FILENO);
  if (fd < 0) return std::unexpected(std::string("standard input: dup: ") + std::strerror(errno));
  error_code ec;
  impl_->input.emplace(impl_->ex);
  impl_->input->assign(fd, ec);
  if (ec) {
    ::close(fd);
    return std::unexpected("standard input: " + ec.message());
  }
  return {};
}

void LogFollower::start() {
  if (impl_->input) {
    spdlog::info("Postfix log: reading standard input");
    asio::co_spawn(impl_->ex, impl_->read_stream(), asio::detached);
  } else {
    impl_->tick();
  }
}

void LogFollower::stop() {
  impl_->stopping = true;
  impl_->timer.cancel();
  if (impl_->input) {
    error_code ignored;
    impl_->input->close(ignored);
  }
}

}  // namespace mtastsd::daemon

// A reopenable log file; see the header.
#include "daemon/reopenable_file_sink.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>

namespace mtastsd::daemon {
namespace {
std::expected<int, std::string> open_for_append(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
  if (fd < 0) return std::unexpected(fmt::format("cannot open log file {}: {}", path, std::strerror(errno)));
  return fd;
}
}  // namespace

std::expected<std::shared_ptr<ReopenableFileSink>, std::string> ReopenableFileSink::open(const std::string& path) {
  auto fd = open_for_append(path);
  if (!fd) return std::unexpected(fd.error());
  return std::shared_ptr<ReopenableFileSink>(new ReopenableFileSink(path, *fd));
}

ReopenableFileSink::~ReopenableFileSink() { ::close(fd_); }

std::expected<void, std::string> ReopenableFileSink::reopen() {
  auto fd = open_for_append(path_);  // before taking the lock: loggers wait only for the swap
  if (!fd) return std::unexpected(fd.error());
  std::lock_guard lock(mutex_);
  ::close(fd_);
  fd_ = *fd;
  return {};
}

void ReopenableFileSink::sink_it_(const spdlog::details::log_msg& msg) {
  spdlog::memory_buf_t line;
  formatter_->format(msg, line);
  const char* at = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    const ssize_t written = ::write(fd_, at, left);
    if (written < 0 && errno == EINTR) continue;
    // spdlog reports a sink's exception on stderr (rate-limited) and goes on logging.
    if (written <= 0) spdlog::throw_spdlog_ex("cannot write to log file " + path_, written < 0 ? errno : EIO);
    at += written;
    left -= static_cast<std::size_t>(written);
  }
}

}  // namespace mtastsd::daemon

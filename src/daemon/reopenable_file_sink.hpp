// An spdlog sink writing to a file that can be reopened at its path: after logrotate
// has renamed the file, SIGUSR1 makes mtastsd write to a new file of the old name.
// Every line is one write(2) on an O_APPEND descriptor, nothing is buffered: a line
// logged before the reopen is in the old file, one logged after it in the new file,
// none is lost in between or at a crash. Thread-safe (the report sender's worker
// thread logs too). Limits: no rotation of its own; the new file is created by the
// daemon's (unprivileged) user, so its directory must be writable by that user, or
// logrotate must create the file ("create" directive) before sending the signal.
#pragma once
#include <expected>
#include <memory>
#include <mutex>
#include <string>
#include <spdlog/sinks/base_sink.h>

namespace mtastsd::daemon {

class ReopenableFileSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  // Opens `path` for appending, creating it (mode 0640 before the umask) if missing.
  // The error names the path and the reason.
  static std::expected<std::shared_ptr<ReopenableFileSink>, std::string> open(const std::string& path);
  ~ReopenableFileSink() override;
  ReopenableFileSink(const ReopenableFileSink&) = delete;
  ReopenableFileSink& operator=(const ReopenableFileSink&) = delete;

  // Opens the path anew and writes there from now on; on failure the old file stays in use.
  std::expected<void, std::string> reopen();
  const std::string& path() const { return path_; }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override {}  // nothing is buffered

 private:
  ReopenableFileSink(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::string path_;
  int fd_;
};

}  // namespace mtastsd::daemon

// The signals mtastsd acts on (SIGTERM, SIGINT, SIGHUP, SIGUSR1), blocked in
// every thread from the start and read from a signalfd(2): one that arrives
// while a reload rebuilds the services waits in the kernel instead of being lost
// or killing the process with its default action. Programs the daemon starts
// (the sendmail command) must unblock them again (io/mail_submission does).
#pragma once
#include <expected>
#include <functional>
#include <string>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

namespace mtastsd::daemon {

class ProcessSignals {
 public:
  // Blocks the signals and opens the signalfd; call before any thread starts.
  static std::expected<ProcessSignals, std::string> block();
  ProcessSignals(ProcessSignals&& other) noexcept;
  ProcessSignals& operator=(ProcessSignals&&) = delete;
  ~ProcessSignals();

  // Reads the signals on one io_context (a generation's); the signals stay blocked.
  class Reader {
   public:
    Reader(boost::asio::io_context& io, const ProcessSignals& signals);
    // `handler(signo)` for the next signal; one wait at a time.
    void async_wait(std::function<void(int)> handler);
    void cancel();

   private:
    boost::asio::posix::stream_descriptor fd_;
  };

 private:
  explicit ProcessSignals(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace mtastsd::daemon

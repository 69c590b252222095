// Blocked signals read from a signalfd; see the header.
#include "daemon/process_signals.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace mtastsd::daemon {
namespace {

sigset_t handled_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int signo : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) sigaddset(&set, signo);
  return set;
}

}  // namespace

std::expected<ProcessSignals, std::string> ProcessSignals::block() {
  const sigset_t set = handled_signals();
  if (const int rc = ::pthread_sigmask(SIG_BLOCK, &set, nullptr); rc != 0)
    return std::unexpected(std::string("pthread_sigmask: ") + std::strerror(rc));
  const int fd = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (fd < 0) return std::unexpected(std::string("signalfd: ") + std::strerror(errno));
  return ProcessSignals(fd);
}

ProcessSignals::ProcessSignals(ProcessSignals&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }

ProcessSignals::~ProcessSignals() {
  if (fd_ >= 0) ::close(fd_);
}

ProcessSignals::Reader::Reader(boost::asio::io_context& io, const ProcessSignals& signals) : fd_(io) {
  const int fd = ::fcntl(signals.fd_, F_DUPFD_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "dup of the signalfd");
  fd_.assign(fd);
}

void ProcessSignals::Reader::async_wait(std::function<void(int)> handler) {
  fd_.async_wait(boost::asio::posix::descriptor_base::wait_read,
                 [this, handler = std::move(handler)](boost::system::error_code ec) mutable {
                   if (ec) return;
                   signalfd_siginfo info{};
                   const ssize_t n = ::read(fd_.native_handle(), &info, sizeof info);
                   if (n != static_cast<ssize_t>(sizeof info)) {  // EAGAIN: another reader took it
                     async_wait(std::move(handler));
                     return;
                   }
                   handler(static_cast<int>(info.ssi_signo));
                 });
}

void ProcessSignals::Reader::cancel() { fd_.cancel(); }

}  // namespace mtastsd::daemon

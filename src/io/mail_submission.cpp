// SMTP submission with libcurl and the sendmail command; see mail_submission.hpp.
#include "io/mail_submission.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <utility>
#include <vector>
#include <curl/curl.h>
#include <fmt/format.h>

#include "util/printable.hpp"

extern char** environ;

namespace mtastsd::io {
namespace {

using core::DeliveryError;
using core::DeliveryResult;
using core::SmtpStage;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxReplyText = 300;  // ours: what of a server reply goes into a log line

std::chrono::milliseconds remaining(SubmissionDeadline deadline) {
  return std::max(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()),
                  std::chrono::milliseconds(1));
}

// ---------------------------------------------------------------- SMTP (libcurl)

// What libcurl's protocol trace tells: the command the server answered last, and that answer.
struct SmtpTrace {
  SmtpStage stage = SmtpStage::greeting;
  std::string last_reply;
  bool quitting = false;  // QUIT's reply must not replace the one that decided

  void command_sent(std::string_view line) {
    const auto is = [&](std::string_view verb) {
      return line.size() >= verb.size() &&
             std::ranges::equal(line.substr(0, verb.size()), verb,
                                [](char a, char b) { return std::toupper(static_cast<unsigned char>(a)) == b; });
    };
    if (is("EHLO") || is("HELO")) stage = SmtpStage::ehlo;
    else if (is("STARTTLS")) stage = SmtpStage::starttls;
    else if (is("MAIL FROM")) stage = SmtpStage::mail_from;
    else if (is("RCPT TO")) stage = SmtpStage::rcpt_to;
    else if (is("DATA")) stage = SmtpStage::data;
    else if (is("QUIT")) quitting = true;
  }

  void reply_received(std::string_view line) {
    if (quitting) return;
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    last_reply = util::printable_excerpt(line, kMaxReplyText);
  }
};

int on_curl_debug(CURL*, curl_infotype type, char* data, std::size_t size, void* user) {
  auto& trace = *static_cast<SmtpTrace*>(user);
  const std::string_view text(data, size);
  if (type == CURLINFO_HEADER_OUT) trace.command_sent(text);
  if (type == CURLINFO_DATA_OUT) trace.stage = SmtpStage::end_of_data;  // the reply now judges the message
  if (type == CURLINFO_HEADER_IN) trace.reply_received(text);
  return 0;
}

struct MessageReader {
  std::string_view rest;
};

std::size_t on_curl_read(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto& reader = *static_cast<MessageReader*>(user);
  const std::size_t n = std::min(size * count, reader.rest.size());
  std::memcpy(buffer, reader.rest.data(), n);
  reader.rest.remove_prefix(n);
  return n;
}

struct CurlCleanup {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct SlistFree {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
struct UrlFree {
  void operator()(CURLU* url) const { curl_url_cleanup(url); }
};

// smtp://host:port/helo-name (the URL path is libcurl's EHLO argument), IPv6 in brackets;
// nullopt when libcurl refuses a part (a host name with spaces, say).
std::optional<std::string> relay_url(const SmtpRelaySettings& relay) {
  std::unique_ptr<CURLU, UrlFree> url(curl_url());
  if (!url) throw std::bad_alloc();
  const std::string host = relay.host.find(':') != std::string::npos ? fmt::format("[{}]", relay.host) : relay.host;
  const std::string port = std::to_string(relay.port);
  const std::string path = "/" + relay.helo_name;
  if (curl_url_set(url.get(), CURLUPART_SCHEME, "smtp", 0) != CURLUE_OK ||
      curl_url_set(url.get(), CURLUPART_HOST, host.c_str(), 0) != CURLUE_OK ||
      curl_url_set(url.get(), CURLUPART_PORT, port.c_str(), 0) != CURLUE_OK ||
      curl_url_set(url.get(), CURLUPART_PATH, path.c_str(), CURLU_URLENCODE) != CURLUE_OK)
    return std::nullopt;
  char* text = nullptr;
  if (curl_url_get(url.get(), CURLUPART_URL, &text, 0) != CURLUE_OK) return std::nullopt;
  std::string out(text);
  curl_free(text);
  return out;
}

}  // namespace

DeliveryResult submit_smtp(const SmtpRelaySettings& relay, const Envelope& envelope, std::string_view message,
                           SubmissionDeadline deadline) {
  // Thread-safe since libcurl 7.84; Debian 12 has 7.88.
  static const CURLcode global_init = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (global_init != CURLE_OK)
    return core::delivery_failure(DeliveryError::temporary,
                                  fmt::format("libcurl: {}", curl_easy_strerror(global_init)));

  const std::string where = fmt::format("relay {}:{}", relay.host, relay.port);
  const auto url = relay_url(relay);
  if (!url)
    return core::delivery_failure(DeliveryError::temporary, fmt::format("{}: not a usable relay address", where));
  std::unique_ptr<CURL, CurlCleanup> curl(curl_easy_init());
  if (!curl) throw std::bad_alloc();
  const std::string rcpt_to = fmt::format("<{}>", envelope.to);
  std::unique_ptr<curl_slist, SlistFree> recipients(curl_slist_append(nullptr, rcpt_to.c_str()));
  if (!recipients) throw std::bad_alloc();
  const std::string mail_from = fmt::format("<{}>", envelope.from);
  std::array<char, CURL_ERROR_SIZE> error_text{};
  SmtpTrace trace;
  MessageReader reader{message};
  const long timeout_ms = static_cast<long>(remaining(deadline).count());

  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url->c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);        // a worker thread: no SIGALRM, no SIGPIPE handling
  curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);    // QUIT now, within the deadline, not at cleanup
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_SERVER_RESPONSE_TIMEOUT, std::max(1L, timeout_ms / 1000));
  curl_easy_setopt(c, CURLOPT_USE_SSL, relay.require_starttls ? CURLUSESSL_ALL : CURLUSESSL_NONE);
  if (!relay.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, relay.ca_file.c_str());
  curl_easy_setopt(c, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2);  // RFC 8996: not TLS 1.0 or 1.1
  curl_easy_setopt(c, CURLOPT_MAIL_FROM, mail_from.c_str());
  curl_easy_setopt(c, CURLOPT_MAIL_RCPT, recipients.get());
  curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(message.size()));  // SIZE= (RFC 1870)
  curl_easy_setopt(c, CURLOPT_READFUNCTION, &on_curl_read);
  curl_easy_setopt(c, CURLOPT_READDATA, &reader);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_text.data());
  curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);  // the trace goes to on_curl_debug only
  curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, &on_curl_debug);
  curl_easy_setopt(c, CURLOPT_DEBUGDATA, &trace);

  const CURLcode result = curl_easy_perform(c);
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  if (result == CURLE_OK) return core::Delivered{fmt::format("{} accepted: {}", where, trace.last_reply)};
  if (result == CURLE_OPERATION_TIMEDOUT)
    return core::delivery_failure(DeliveryError::temporary, fmt::format("{}: no answer to {} within the deadline",
                                                                        where, to_string(trace.stage)));
  if (code >= 400)
    return core::delivery_failure(core::classify_smtp_reply(trace.stage, static_cast<int>(code)),
                                  fmt::format("{}: {} refused: {}", where, to_string(trace.stage), trace.last_reply));
  // No refusing reply: the connection, TLS or the protocol failed.
  const std::string reason = error_text[0] ? std::string(error_text.data()) : curl_easy_strerror(result);
  const std::string during = trace.last_reply.empty() ? "" : fmt::format(" (after {})", to_string(trace.stage));
  return core::delivery_failure(DeliveryError::temporary,
                                fmt::format("{}: {}{}", where, util::printable_excerpt(reason, kMaxReplyText), during));
}

// ---------------------------------------------------------------- sendmail command
namespace {

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(Fd&& o) noexcept : fd(std::exchange(o.fd, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    reset();
    fd = std::exchange(o.fd, -1);
    return *this;
  }
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

// A started child: killed and reaped on every way out unless reaped already.
struct Child {
  pid_t pid = -1;
  bool reaped = false;
  int status = 0;

  void reap() {
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    reaped = true;
  }
  ~Child() {
    if (pid > 0 && !reaped) {
      ::kill(pid, SIGKILL);
      reap();
    }
  }
};

struct SpawnActions {
  posix_spawn_file_actions_t actions;
  SpawnActions() {
    if (posix_spawn_file_actions_init(&actions) != 0) throw std::bad_alloc();
  }
  ~SpawnActions() { posix_spawn_file_actions_destroy(&actions); }
  SpawnActions(const SpawnActions&) = delete;
  SpawnActions& operator=(const SpawnActions&) = delete;
};

struct SpawnAttributes {
  posix_spawnattr_t attributes;
  SpawnAttributes() {
    if (posix_spawnattr_init(&attributes) != 0) throw std::bad_alloc();
    sigset_t none, defaults;
    sigemptyset(&none);
    sigfillset(&defaults);
    posix_spawnattr_setsigmask(&attributes, &none);
    posix_spawnattr_setsigdefault(&attributes, &defaults);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  }
  ~SpawnAttributes() { posix_spawnattr_destroy(&attributes); }
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;
};

std::string with_lf(std::string_view message) {
  std::string out;
  out.reserve(message.size());
  for (std::size_t i = 0; i < message.size(); ++i)
    if (!(message[i] == '\r' && i + 1 < message.size() && message[i + 1] == '\n')) out += message[i];
  return out;
}

std::string errno_text(std::string_view what) { return fmt::format("{}: {}", what, std::strerror(errno)); }

}  // namespace

DeliveryResult submit_sendmail(const std::string& command, const Envelope& envelope, std::string_view message,
                               SubmissionDeadline deadline) {
  const auto temporary = [&](std::string detail) {
    return core::delivery_failure(DeliveryError::temporary, fmt::format("{}: {}", command, detail));
  };
  const std::string input = with_lf(message);

  int stdin_pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, stdin_pair) != 0) return temporary(errno_text("socketpair"));
  Fd to_child(stdin_pair[0]);
  Fd child_stdin(stdin_pair[1]);
  int output_pipe[2];
  if (::pipe2(output_pipe, O_CLOEXEC) != 0) return temporary(errno_text("pipe"));
  Fd from_child(output_pipe[0]);
  Fd child_output(output_pipe[1]);

  SpawnActions actions;
  posix_spawn_file_actions_adddup2(&actions.actions, child_stdin.fd, STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions.actions, child_output.fd, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions.actions, child_output.fd, STDERR_FILENO);
  posix_spawn_file_actions_addclosefrom_np(&actions.actions, STDERR_FILENO + 1);  // none of the daemon's descriptors
  std::vector<std::string> args = {command, "-oi", "-f", envelope.from, "--", envelope.to};
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  // The daemon blocks its signals (daemon/process_signals); the command gets a clean mask.
  SpawnAttributes attributes;
  Child child;
  if (const int error =
          ::posix_spawn(&child.pid, command.c_str(), &actions.actions, &attributes.attributes, argv.data(), environ);
      error != 0)
    return temporary(fmt::format("cannot run it: {}", std::strerror(error)));
  child_stdin.reset();
  child_output.reset();
  // Readable once the child has exited (Linux 5.3). The raw system call: glibc 2.36's
  // <sys/pidfd.h> lacks the extern "C" for C++.
  const Fd exited(static_cast<int>(::syscall(SYS_pidfd_open, child.pid, 0)));
  if (exited.fd < 0) return temporary(errno_text("pidfd_open"));
  ::fcntl(to_child.fd, F_SETFL, O_NONBLOCK);
  ::fcntl(from_child.fd, F_SETFL, O_NONBLOCK);

  std::string_view unsent = input;
  std::string output;
  const auto keep_output = [&](const char* data, ssize_t n) {
    if (n > 0 && output.size() < kMaxCommandOutput)
      output.append(data, std::min(static_cast<std::size_t>(n), kMaxCommandOutput - output.size()));
  };
  for (bool child_exited = false; !child_exited;) {
    std::vector<pollfd> fds = {{exited.fd, POLLIN, 0}};
    if (from_child.fd >= 0) fds.push_back({from_child.fd, POLLIN, 0});
    if (to_child.fd >= 0) fds.push_back({to_child.fd, POLLOUT, 0});
    const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(remaining(deadline).count()));
    if (ready < 0 && errno != EINTR) return temporary(errno_text("poll"));
    if (ready == 0 && Clock::now() >= deadline) return temporary("killed: no exit within the deadline");
    for (const pollfd& p : fds) {
      if (p.revents == 0) continue;
      if (p.fd == exited.fd) {
        child_exited = true;
      } else if (p.fd == from_child.fd) {
        std::array<char, 512> buffer{};
        const ssize_t n = ::read(from_child.fd, buffer.data(), buffer.size());
        keep_output(buffer.data(), n);
        if (n == 0) from_child.reset();  // every writer closed it
      } else {
        const ssize_t n = ::send(to_child.fd, unsent.data(), unsent.size(), MSG_NOSIGNAL);
        if (n > 0) unsent.remove_prefix(static_cast<std::size_t>(n));
        // Done (EOF for the command), or it stopped reading (EPIPE): its exit status tells why.
        if (unsent.empty() || (n < 0 && errno != EAGAIN && errno != EINTR)) to_child.reset();
      }
    }
  }
  child.reap();
  // What the command printed just before it exited (non-blocking: a descendant may hold the pipe).
  for (std::array<char, 512> buffer{}; from_child.fd >= 0 && output.size() < kMaxCommandOutput;) {
    const ssize_t n = ::read(from_child.fd, buffer.data(), buffer.size());
    if (n <= 0) break;
    keep_output(buffer.data(), n);
  }
  const std::string said =
      output.empty() ? "" : fmt::format(": {}", util::printable_excerpt(output, kMaxCommandOutput));

  if (WIFSIGNALED(child.status)) return temporary(fmt::format("killed by signal {}{}", WTERMSIG(child.status), said));
  const int exit_status = WEXITSTATUS(child.status);
  if (exit_status != 0)
    return core::delivery_failure(core::classify_sendmail_exit(exit_status),
                                  fmt::format("{} exited {}{}", command, exit_status, said));
  if (!unsent.empty()) return temporary(fmt::format("exited 0 before reading the whole message{}", said));
  return core::Delivered{fmt::format("{} accepted the message (exit 0)", command)};
}

}  // namespace mtastsd::io

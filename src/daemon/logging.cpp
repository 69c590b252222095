// Log targets and levels; see the header.
#include "daemon/logging.hpp"

#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <fmt/format.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/sinks/systemd_sink.h>
#include <spdlog/spdlog.h>
#include "daemon/reopenable_file_sink.hpp"
#include "util/printable.hpp"

namespace mtastsd::daemon {
namespace {

constexpr const char* kTimestampedPattern = "%Y-%m-%dT%H:%M:%S.%e %l %v";
constexpr const char* kColouredPattern = "%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v";  // colours on a terminal only
constexpr const char* kIdent = "mtastsd";
// Where sd_journal_send(3) writes; without it every journal line would be lost.
constexpr const char* kJournalSocket = "/run/systemd/journal/socket";

// The syslog(3) priority of a level, as spdlog's syslog and systemd sinks map it.
int syslog_priority(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
    case spdlog::level::debug: return LOG_DEBUG;
    case spdlog::level::warn: return LOG_WARNING;
    case spdlog::level::err: return LOG_ERR;
    case spdlog::level::critical: return LOG_CRIT;
    case spdlog::level::info:
    case spdlog::level::off:
    case spdlog::level::n_levels: break;
  }
  return LOG_INFO;
}

// "<N>message": sd-daemon(3) priority prefix for lines on the journal's stream.
class JournalStreamFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    fmt::format_to(std::back_inserter(dest), "<{}>{}\n", syslog_priority(msg.level),
                   std::string_view(msg.payload.data(), msg.payload.size()));
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JournalStreamFormatter>(); }
};

// The default logger's one sink: forwards to the current target, which a reload replaces
// without replacing the logger (another thread may be logging through it right then).
class TargetSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  using MakeTarget = std::function<std::shared_ptr<spdlog::sinks::sink>()>;
  // The old target goes before `make` runs, under the lock: syslog(3) state is per
  // process, so an old syslog sink's closelog() must not follow the new one's openlog().
  void replace(const MakeTarget& make) {
    std::lock_guard lock(mutex_);
    target_.reset();
    target_ = make();
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    if (target_ && target_->should_log(msg.level)) target_->log(msg);
  }
  void flush_() override {
    if (target_) target_->flush();
  }

 private:
  std::shared_ptr<spdlog::sinks::sink> target_;
};

struct LogState {
  std::shared_ptr<TargetSink> sink;
  std::shared_ptr<spdlog::logger> logger;
  std::optional<LogSettings> target;          // settings of the current target (level aside)
  std::shared_ptr<ReopenableFileSink> file;   // with log_target = "file"
};
LogState& state() {
  static LogState s;
  return s;
}

bool same_target(const LogSettings& a, const LogSettings& b) {
  if (a.target != b.target) return false;
  if (a.target == LogTarget::file) return a.file == b.file;
  if (a.target == LogTarget::syslog) return a.syslog_facility == b.syslog_facility;
  return true;
}

std::optional<spdlog::level::level_enum> parse_level(std::string_view name) {
  static const std::map<std::string_view, spdlog::level::level_enum> levels{
      {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug}, {"info", spdlog::level::info},
      {"warn", spdlog::level::warn},   {"error", spdlog::level::err}};
  const auto found = levels.find(name);
  return found == levels.end() ? std::nullopt : std::optional(found->second);
}

std::optional<int> syslog_facility_code(std::string_view name) {
  static const std::map<std::string_view, int> facilities{
      {"mail", LOG_MAIL},     {"daemon", LOG_DAEMON}, {"user", LOG_USER},     {"local0", LOG_LOCAL0},
      {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2}, {"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4},
      {"local5", LOG_LOCAL5}, {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7}};
  const auto found = facilities.find(name);
  return found == facilities.end() ? std::nullopt : std::optional(found->second);
}

// Why nothing can listen at `path`, if so.
std::optional<std::string> not_a_socket(const char* path) {
  struct stat st {};
  if (::stat(path, &st) != 0) return fmt::format("{}: {}", path, std::strerror(errno));
  if (!S_ISSOCK(st.st_mode)) return fmt::format("{} is not a socket", path);
  return std::nullopt;
}

std::shared_ptr<spdlog::sinks::sink> stderr_target() {
  struct stat st {};
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream != nullptr && ::fstat(STDERR_FILENO, &st) == 0 && is_journal_stream(stream, st.st_dev, st.st_ino)) {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    sink->set_formatter(std::make_unique<JournalStreamFormatter>());
    return sink;
  }
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  sink->set_pattern(kColouredPattern);
  return sink;
}

// A target ready to be installed: whatever can fail (opening the file, finding the
// daemon to log to) has been done.
struct NewTarget {
  TargetSink::MakeTarget make;
  std::shared_ptr<ReopenableFileSink> file;  // log_target = "file"
};

std::expected<NewTarget, std::string> prepare_target(const LogSettings& s) {
  switch (s.target) {
    case LogTarget::stderr_stream:
      return NewTarget{stderr_target, nullptr};
    case LogTarget::file: {
      auto file = ReopenableFileSink::open(s.file);
      if (!file) return std::unexpected(file.error());
      (*file)->set_pattern(kTimestampedPattern);
      return NewTarget{[file = *file] { return file; }, *file};
    }
    case LogTarget::syslog: {
      const auto facility = syslog_facility_code(s.syslog_facility);
      if (!facility) return std::unexpected(fmt::format("unknown syslog_facility \"{}\"", s.syslog_facility));
      if (auto problem = not_a_socket(_PATH_LOG))
        return std::unexpected(fmt::format("log_target = \"syslog\": {} (is a syslog daemon running?)", *problem));
      return NewTarget{[facility = *facility] {
                         return std::make_shared<spdlog::sinks::syslog_sink_mt>(kIdent, LOG_PID, facility, false);
                       },
                       nullptr};
    }
    case LogTarget::journal:
      if (auto problem = not_a_socket(kJournalSocket))
        return std::unexpected(fmt::format("log_target = \"journal\": {} (is systemd-journald running?)", *problem));
      return NewTarget{[] { return std::make_shared<spdlog::sinks::systemd_sink_mt>(kIdent, false); }, nullptr};
  }
  return std::unexpected("unknown log_target");
}

}  // namespace

bool is_journal_stream(std::string_view journal_stream, std::uint64_t device, std::uint64_t inode) {
  const auto colon = journal_stream.find(':');
  if (colon == std::string_view::npos) return false;
  const auto number = [](std::string_view text) -> std::optional<std::uint64_t> {
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    return value;
  };
  const auto dev = number(journal_stream.substr(0, colon));
  const auto ino = number(journal_stream.substr(colon + 1));
  return dev && ino && *dev == device && *ino == inode;
}

std::expected<void, std::string> set_up_logging(const LogSettings& settings, std::string_view level_override) {
  const std::string_view level_name = level_override.empty() ? std::string_view(settings.level) : level_override;
  const auto level = parse_level(level_name);
  if (!level)
    return std::unexpected(fmt::format("unknown log level \"{}\" (trace, debug, info, warn, error)",
                                       util::printable_excerpt(level_name, 40)));
  LogState& s = state();
  if (s.logger) s.logger->set_level(*level);
  if (s.target && same_target(*s.target, settings)) return {};

  auto next = prepare_target(settings);
  if (!next) return std::unexpected(next.error());
  if (!s.logger) {
    s.sink = std::make_shared<TargetSink>();
    s.logger = std::make_shared<spdlog::logger>(kIdent, s.sink);
    s.logger->set_level(*level);
    spdlog::set_default_logger(s.logger);
  }
  s.sink->replace(next->make);
  s.file = std::move(next->file);
  s.target = settings;
  return {};
}

void reopen_log_files() {
  LogState& s = state();
  if (!s.file) return;
  if (auto reopened = s.file->reopen(); !reopened)
    spdlog::error("{}; still writing to the file that was open", reopened.error());
  else
    spdlog::info("log file {} reopened", s.file->path());
}

}  // namespace mtastsd::daemon

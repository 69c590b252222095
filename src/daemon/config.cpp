// Loads mtastsd.conf (TOML via toml++) into a Config and checks it against the
// rules of mtastsd.conf(5): unknown keys, wrong types, bad units and values out
// of range are all collected with their line, so one run shows every mistake.
// Limits: the file is capped at 1 MiB; toml++ stops at the first syntax error,
// so only that one is reported; files named in the configuration (trust
// anchor, CA files, DKIM key) are not opened here, their users report them at
// start-up; host names (the SMTP relay) are not resolved.
#include "daemon/config.hpp"

#include <sys/un.h>

#include <algorithm>
#include <cerrno>
#include <cctype>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <set>
#include <span>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include <boost/asio/ip/address.hpp>
#include <fmt/format.h>
#include <toml++/toml.h>

#include "core/host_name.hpp"
#include "core/report_message.hpp"
#include "util/units.hpp"

namespace mtastsd::daemon {
namespace {

using std::chrono::milliseconds;

constexpr std::size_t max_config_bytes = 1u << 20;  // a real file is a few KiB
constexpr std::string_view built_in_source = "(built-in defaults)";
constexpr std::string_view default_socket_name = "socketmap.sock";
constexpr std::string_view default_tlsrpt_socket_name = "tlsrpt.sock";
constexpr std::string_view default_control_socket_name = "control.sock";
// The control socket steers the daemon (cache refresh): root and the daemon's user only.
constexpr std::uint32_t default_control_mode = 0600;
// Debian's dns-root-data: the root zone's DNSSEC trust anchor.
constexpr std::string_view debian_root_key = "/usr/share/dns/root.key";
// unix(7): sun_path holds 108 bytes including the terminating NUL.
constexpr std::size_t max_unix_path = sizeof(sockaddr_un::sun_path) - 1;
constexpr std::size_t min_map_size = 1u << 20;
constexpr std::uint32_t max_socket_mode = 0777;  // setuid/setgid/sticky mean nothing on a socket
// The report of a day is sent the next day and retried for up to 24 hours (issue
// #4), so its counts must outlive it by two days; ten years is plenty.
constexpr std::int64_t min_retention_days = 2;
constexpr std::int64_t max_retention_days = 3660;
constexpr std::size_t max_organization_name = 256;  // our cap: a name, not a paragraph
// Report sending. A day's reports go out at a random time after its end (RFC 8460 sec.
// 4.1 asks reporters to spread their submissions); the next day's reports are due 24 h
// later, so the delay stays below a day.
constexpr milliseconds max_send_delay = std::chrono::hours(23);
// Redelivery lasts up to 24 hours by default (RFC 8460 sec. 5.5). Ours: at least an hour,
// so that the back-off gets several attempts; at most a week, after which a day's report
// is stale.
constexpr milliseconds min_retry_period = std::chrono::hours(1);
constexpr milliseconds max_retry_period = std::chrono::days(7);
// Ours: one submission holds the sender's only worker thread, one upload a connection.
constexpr milliseconds max_delivery_timeout = std::chrono::minutes(30);
// MX validation (issue 5). Ours: at least a minute between probes of one host, and at
// most a day, so that each day's report has that day's validations.
constexpr milliseconds min_validation_interval = std::chrono::minutes(1);
constexpr milliseconds max_validation_interval = std::chrono::days(1);
constexpr std::int64_t max_validation_concurrency = 256;
// RFC 5321 sec. 4.5.3.2 asks clients to wait up to 5 minutes for the greeting and the
// EHLO and STARTTLS replies; a probe need not wait longer. A whole session: ours.
constexpr milliseconds max_probe_step_timeout = std::chrono::minutes(5);
constexpr milliseconds max_probe_session_timeout = std::chrono::minutes(30);
// The sender address when mail_from is not set: a mailbox that takes no replies.
constexpr std::string_view default_mail_from_local_part = "noreply-smtp-tls-reporting";
static_assert(sizeof(std::size_t) >= sizeof(std::uint64_t), "sizes are parsed as 64-bit numbers");

// Every key of mtastsd.conf(5), per table: the loader rejects all others, and
// config_key_names() lists them for the man page check.
constexpr std::string_view top_keys[] = {
    "state_dir", "runtime_dir", "user", "group", "log_level", "log_target", "log_file", "syslog_facility", "listen",
    "control", "metrics", "server", "cache", "dns", "fetch", "lookup", "tlsrpt", "mx_validation", "profiles"};
constexpr std::string_view listen_keys[] = {"unix", "tcp", "owner", "group", "mode"};
constexpr std::string_view control_keys[] = {"unix", "owner", "group", "mode"};
constexpr std::string_view metrics_keys[] = {"listen"};
constexpr std::string_view server_keys[] = {"idle_timeout", "max_connections"};
constexpr std::string_view cache_keys[] = {
    "map_size", "id_check_interval", "fetch_retry_after", "negative_ttl_min", "negative_ttl_max", "dns_error_retry",
    "refresh_margin", "refresh_unused_after", "drop_unused_after", "refresh_scan_interval", "refresh_concurrency",
    "dane_ttl_min", "dane_ttl_max"};
constexpr std::string_view dns_keys[] = {"forwarders", "resolv_conf", "trust_anchor_file", "timeout"};
constexpr std::string_view fetch_keys[] = {"ca_file", "timeout", "refuse_special_addresses"};
constexpr std::string_view lookup_keys[] = {"cold_budget", "reply_deadline"};
constexpr std::string_view tlsrpt_keys[] = {
    "enabled", "socket", "socket_mode", "socket_owner", "socket_group", "postfix_log", "postfix_log_profile",
    "retention_days", "organization_name", "contact_info", "submitter", "send_reports", "send_delay", "retry_period",
    "mail_from", "mail_transport", "smtp_relay", "smtp_helo", "smtp_require_starttls", "smtp_ca_file",
    "sendmail_command", "mail_timeout", "dkim_key_file", "dkim_selector", "dkim_domain", "https_ca_file",
    "https_timeout", "https_refuse_special_addresses"};
constexpr std::string_view mx_validation_keys[] = {"enabled",   "interval",     "concurrency",     "helo_name",
                                                   "ca_file",   "step_timeout", "session_timeout", "count_as_sessions"};
constexpr std::string_view profile_keys[] = {"dialect", "testing", "dane", "validate_enforce"};
using KeyList = std::span<const std::string_view>;
struct KeyTable {
  std::string_view table;  // "profiles.NAME": one per profile
  KeyList keys;
};
constexpr KeyTable key_tables[] = {
    {"", top_keys},         {"listen", listen_keys},   {"control", control_keys}, {"metrics", metrics_keys},
    {"server", server_keys}, {"cache", cache_keys},    {"dns", dns_keys},         {"fetch", fetch_keys},
    {"lookup", lookup_keys}, {"tlsrpt", tlsrpt_keys},  {"mx_validation", mx_validation_keys},
    {"profiles.NAME", profile_keys}};
KeyList keys_of(std::string_view table) {
  for (const KeyTable& t : key_tables)
    if (t.table == table) return t.keys;
  throw std::logic_error(fmt::format("no key table '{}'", table));
}

constexpr auto duration_hint = R"(expected a duration like "5m" (integer seconds, or a number with ms, s, m, h or d))";
constexpr auto size_hint = R"(expected a size like "256MiB" (integer bytes, or a number with B, KiB, MiB, GiB or TiB))";

enum class Zero { allowed, rejected };

// A duration as the file would write it, in its largest exact unit: "23h", "30m", "1500ms".
std::string duration_text(milliseconds value) {
  using namespace std::chrono;
  constexpr std::pair<milliseconds, std::string_view> units[] = {
      {days(1), "d"}, {hours(1), "h"}, {minutes(1), "m"}, {seconds(1), "s"}};
  if (value == milliseconds::zero()) return "0s";
  for (const auto& [unit, name] : units) {
    if (value >= unit && value % unit == milliseconds::zero()) return fmt::format("{}{}", value / unit, name);
  }
  return fmt::format("{}ms", value.count());
}

// Levenshtein distance, to suggest the intended key for a typo.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string join_path(std::string_view prefix, std::string_view key) {
  return prefix.empty() ? std::string(key) : fmt::format("{}.{}", prefix, key);
}

int line_of(const toml::source_region& region) { return static_cast<int>(region.begin.line); }
// A key's own line; keys made up by toml++ (no source) fall back to their value's.
int line_of(const toml::key& key, const toml::node& value) {
  return line_of(key.source()) ? line_of(key.source()) : line_of(value.source());
}

// A key looked up in a table: its node (nullptr when absent) and its dotted
// path for messages ("cache.map_size").
struct Field {
  const toml::node* node = nullptr;
  std::string path;
  int line() const { return node ? line_of(node->source()) : 0; }
};

// Reads typed values out of one TOML document. Every problem is recorded and
// reading goes on; a value that fails keeps its default, so later checks still
// see sane numbers. Lines of keys that were read are kept for checks that
// compare two keys.
class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  void problem(int line, std::string message) { problems_.push_back({file_, line, std::move(message)}); }
  std::vector<ConfigProblem> take_problems() && {
    std::stable_sort(problems_.begin(), problems_.end(),
                     [](const ConfigProblem& a, const ConfigProblem& b) { return a.line < b.line; });
    return std::move(problems_);
  }
  // A problem with the value of `f`; checks that compare it with another key skip it.
  void fail(const Field& f, std::string message) {
    failed_.insert(f.path);
    problem(f.line(), std::move(message));
  }
  bool failed(const std::string& path) const { return failed_.contains(path); }
  // Line where `path` was set, 0 when the file does not set it.
  int line_of_path(const std::string& path) const {
    auto it = lines_.find(path);
    return it == lines_.end() ? 0 : it->second;
  }

  Field field(const toml::table& table, std::string_view prefix, std::string_view key) {
    Field f{table.get(key), join_path(prefix, key)};
    if (f.node) lines_[f.path] = f.line();
    return f;
  }

  // Keys the schema does not know are errors: a typo must not silently leave a default in force.
  void reject_unknown(const toml::table& table, std::string_view prefix, KeyList known) {
    for (auto&& [key, node] : table) {
      if (std::ranges::find(known, key.str()) != known.end()) continue;
      const int line = line_of(key, node);
      std::string message = fmt::format("unknown key '{}'", join_path(prefix, key.str()));
      for (std::string_view candidate : known) {
        if (edit_distance(key.str(), candidate) <= 2) {
          message += fmt::format(" (did you mean '{}'?)", join_path(prefix, candidate));
          break;
        }
      }
      problem(line, std::move(message));
    }
  }

  // A sub-table such as [cache]; nullptr when absent or not a table (reported).
  const toml::table* section(const toml::table& table, std::string_view prefix, std::string_view key) {
    const Field f = field(table, prefix, key);
    if (!f.node) return nullptr;
    if (const toml::table* t = f.node->as_table()) return t;
    fail(f, fmt::format("{}: expected a table ([{}])", f.path, f.path));
    return nullptr;
  }

  bool read_string(const Field& f, std::string& out) {
    if (!f.node) return false;
    if (const auto* s = f.node->as_string()) {
      out = s->get();
      return true;
    }
    fail(f, fmt::format("{}: expected a string", f.path));
    return false;
  }

  // An absolute path; "" only where it means "not used".
  void read_path(const Field& f, std::string& out, bool empty_allowed) {
    std::string value;
    if (!read_string(f, value)) return;
    if (value.empty() && empty_allowed) {
      out.clear();
    } else if (!value.starts_with('/')) {
      fail(f, fmt::format("{}: expected an absolute path, not \"{}\"", f.path, value));
    } else {
      out = std::move(value);
    }
  }

  void read_bool(const Field& f, bool& out) {
    if (!f.node) return;
    if (const auto* b = f.node->as_boolean()) {
      out = b->get();
      return;
    }
    fail(f, fmt::format("{}: expected true or false", f.path));
  }

  template <typename T>
  void read_choice(const Field& f, T& out, std::initializer_list<std::pair<std::string_view, T>> choices) {
    std::string value;
    if (!read_string(f, value)) return;
    for (const auto& [name, choice] : choices) {
      if (value == name) {
        out = choice;
        return;
      }
    }
    std::string names;
    for (const auto& choice : choices) names += fmt::format("{}\"{}\"", names.empty() ? "" : ", ", choice.first);
    fail(f, fmt::format("{}: expected one of {}, not \"{}\"", f.path, names, value));
  }

  void read_duration(const Field& f, milliseconds& out, Zero zero) {
    if (!f.node) return;
    std::optional<milliseconds> value;
    if (const auto* i = f.node->as_integer()) {
      const std::int64_t seconds = i->get();
      if (seconds < 0) {
        fail(f, fmt::format("{}: must not be negative", f.path));
      } else if (seconds > std::numeric_limits<milliseconds::rep>::max() / 1000) {
        fail(f, fmt::format("{}: {} seconds is too large", f.path, seconds));
      } else {
        value = std::chrono::seconds(seconds);
      }
    } else if (const auto* s = f.node->as_string()) {
      if (auto parsed = util::parse_duration(s->get())) {
        value = *parsed;
      } else if (parsed.error() == util::UnitsError::overflow) {
        fail(f, fmt::format("{}: \"{}\" is too large", f.path, s->get()));
      } else {
        fail(f, fmt::format("{}: {}, not \"{}\"", f.path, duration_hint, s->get()));
      }
    } else {
      fail(f, fmt::format("{}: {}", f.path, duration_hint));
    }
    if (!value) return;
    if (zero == Zero::rejected && *value == milliseconds::zero()) {
      fail(f, fmt::format("{}: must be greater than zero", f.path));
      return;
    }
    out = *value;
  }

  // For settings kept in whole seconds (the cache rules work in seconds).
  void read_seconds(const Field& f, util::Seconds& out, Zero zero) {
    milliseconds value = out;
    read_duration(f, value, zero);
    if (value % std::chrono::seconds(1) != milliseconds::zero()) {
      fail(f, fmt::format("{}: must be a whole number of seconds", f.path));
      return;
    }
    out = std::chrono::duration_cast<util::Seconds>(value);
  }

  // read_duration (or read_seconds for settings in whole seconds), then within [min, max];
  // a value out of range keeps the default.
  template <typename Duration>
  void read_duration_between(const Field& f, Duration& out, Zero zero, milliseconds min, milliseconds max) {
    if (!f.node) return;
    Duration value = out;
    if constexpr (std::is_same_v<Duration, util::Seconds>)
      read_seconds(f, value, zero);
    else
      read_duration(f, value, zero);
    if (failed(f.path)) return;
    if (value < min) {
      fail(f, fmt::format("{}: must be at least {}, not {}", f.path, duration_text(min), duration_text(value)));
    } else if (value > max) {
      fail(f, fmt::format("{}: must be at most {}, not {}", f.path, duration_text(max), duration_text(value)));
    } else {
      out = value;
    }
  }

  void read_size(const Field& f, std::size_t& out, std::size_t min) {
    if (!f.node) return;
    std::optional<std::uint64_t> value;
    if (const auto* i = f.node->as_integer()) {
      if (i->get() < 0) {
        fail(f, fmt::format("{}: must not be negative", f.path));
      } else {
        value = static_cast<std::uint64_t>(i->get());
      }
    } else if (const auto* s = f.node->as_string()) {
      if (auto parsed = util::parse_size(s->get())) {
        value = *parsed;
      } else if (parsed.error() == util::UnitsError::overflow) {
        fail(f, fmt::format("{}: \"{}\" is too large", f.path, s->get()));
      } else {
        fail(f, fmt::format("{}: {}, not \"{}\"", f.path, size_hint, s->get()));
      }
    } else {
      fail(f, fmt::format("{}: {}", f.path, size_hint));
    }
    if (!value) return;
    if (*value < min) {
      fail(f, fmt::format("{}: must be at least {} bytes", f.path, min));
      return;
    }
    out = static_cast<std::size_t>(*value);
  }

  void read_count(const Field& f, std::size_t& out, std::int64_t min, std::int64_t max) {
    if (!f.node) return;
    const auto* i = f.node->as_integer();
    if (!i) {
      fail(f, fmt::format("{}: expected an integer", f.path));
    } else if (i->get() < min || i->get() > max) {
      fail(f, fmt::format("{}: must be between {} and {}, not {}", f.path, min, max, i->get()));
    } else {
      out = static_cast<std::size_t>(i->get());
    }
  }

  void read_string_list(const Field& f, std::vector<std::string>& out) {
    if (!f.node) return;
    const toml::array* array = f.node->as_array();
    if (!array) {
      fail(f, fmt::format("{}: expected a list of strings", f.path));
      return;
    }
    std::vector<std::string> values;
    for (const toml::node& element : *array) {
      if (const auto* s = element.as_string()) {
        values.push_back(s->get());
      } else {
        failed_.insert(f.path);
        problem(line_of(element.source()), fmt::format("{}: expected a list of strings", f.path));
        return;
      }
    }
    out = std::move(values);
  }

 private:
  std::string file_;
  std::vector<ConfigProblem> problems_;
  std::map<std::string, int> lines_;
  std::set<std::string> failed_;
};

// "0660" -> 0660. Octal text only: a TOML integer 660 would silently mean 01224.
std::optional<std::uint32_t> parse_octal_mode(std::string_view text) {
  std::uint32_t mode = 0;
  if (text.empty() || text.size() > 4) return std::nullopt;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), mode, 8);
  if (ec != std::errc() || end != text.data() + text.size() || mode > max_socket_mode) return std::nullopt;
  return mode;
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
  std::uint16_t port = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec != std::errc() || end != text.data() + text.size() || port == 0) return std::nullopt;
  return port;
}

// "HOST:PORT" or "[HOST]:PORT" split in two; neither part is checked.
struct HostPort {
  std::string_view host, port;
  bool bracketed = false;
};
enum class HostPortError {
  malformed,           // no ":PORT", or "[" without "]:"
  ipv6_needs_brackets  // a ':' in an unbracketed host
};
std::expected<HostPort, HostPortError> split_host_port(std::string_view text) {
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos || text.substr(close + 1, 1) != ":")
      return std::unexpected(HostPortError::malformed);
    return HostPort{text.substr(1, close - 1), text.substr(close + 2), true};
  }
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::unexpected(HostPortError::malformed);
  const std::string_view host = text.substr(0, colon);
  if (host.find(':') != std::string_view::npos) return std::unexpected(HostPortError::ipv6_needs_brackets);
  return HostPort{host, text.substr(colon + 1), false};
}

struct TcpEndpoint {
  std::string address;
  std::uint16_t port = 0;
};

// "127.0.0.1:8461" or "[::1]:8461", loopback only: the socketmap protocol has
// no authentication and its answers decide whether mail is sent encrypted.
std::expected<TcpEndpoint, std::string> parse_loopback_endpoint(std::string_view text) {
  const auto split = split_host_port(text);
  if (!split) {
    return std::unexpected(std::string(split.error() == HostPortError::malformed
                                           ? R"(expected "127.0.0.1:PORT" or "[::1]:PORT")"
                                           : R"(an IPv6 address needs brackets: "[::1]:PORT")"));
  }
  const std::string_view host = split->host, port = split->port;
  const auto port_number = parse_port(port);
  if (!port_number) return std::unexpected(fmt::format("\"{}\" is not a port number (1-65535)", port));
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(std::string(host), ec);
  if (ec) return std::unexpected(fmt::format("\"{}\" is not an IP address (host names are not resolved)", host));
  if (!address.is_loopback()) {
    return std::unexpected(fmt::format(
        "{} is not a loopback address; mtastsd listens only on 127.0.0.0/8 or ::1, because socketmap "
        "clients are not authenticated and its answers decide TLS policy",
        host));
  }
  return TcpEndpoint{address.to_string(), *port_number};
}

// tlsrpt.smtp_relay: "HOST:PORT" or "[IPv6]:PORT", HOST an IP address or a host name
// (libcurl resolves it when it submits). Brackets hold an IPv6 address only: Postfix's
// "[host]" (no MX lookup) means nothing here, as no MX lookup is ever made.
std::expected<io::SmtpRelaySettings, std::string> parse_relay(std::string_view text) {
  const auto split = split_host_port(text);
  if (!split) {
    return std::unexpected(std::string(split.error() == HostPortError::malformed
                                           ? R"(expected "HOST:PORT" or "[IPv6]:PORT")"
                                           : R"(an IPv6 address needs brackets: "[ADDRESS]:PORT")"));
  }
  const std::string_view host = split->host, port = split->port;
  const auto port_number = parse_port(port);
  if (!port_number) return std::unexpected(fmt::format("\"{}\" is not a port number (1-65535)", port));
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(std::string(host), ec);
  io::SmtpRelaySettings relay;
  relay.port = *port_number;
  if (split->bracketed) {
    if (ec || !address.is_v6())
      return std::unexpected(fmt::format("\"[{}]\": brackets hold an IPv6 address only", host));
    relay.host = address.to_string();
  } else if (!ec) {
    relay.host = address.to_string();
  } else if (core::is_host_name(host)) {
    relay.host = core::ascii_lowercase(host);
  } else {
    return std::unexpected(fmt::format("\"{}\" is neither a host name nor an IP address", host));
  }
  return relay;
}

// unbound's forwarder syntax: "ADDRESS" or "ADDRESS@PORT".
bool valid_forwarder(std::string_view text) {
  const auto at = text.find('@');
  if (at != std::string_view::npos && !parse_port(text.substr(at + 1))) return false;
  boost::system::error_code ec;
  boost::asio::ip::make_address(std::string(text.substr(0, at)), ec);
  return !ec;
}

// The octal mode of a unix socket, e.g. listen.mode or tlsrpt.socket_mode.
void read_socket_mode(Reader& r, const Field& mode, std::uint32_t& out) {
  if (!mode.node) return;
  const auto* s = mode.node->as_string();
  const auto parsed = s ? parse_octal_mode(s->get()) : std::nullopt;
  if (parsed) {
    out = *parsed;
  } else {
    r.fail(mode, fmt::format(R"({}: expected an octal string between "0000" and "0777", like "0660")", mode.path));
  }
}

bool has_control_or_space(std::string_view text) {
  return std::ranges::any_of(text, [](char c) { return static_cast<unsigned char>(c) <= ' ' || c == '\x7f'; });
}

// RFC 8460 sec. 4.4 contact-info: "expected to be an email address"; a URI
// (RFC 3986 sec. 3.1 scheme ":" ...) is accepted too. Problem text, or nullopt.
std::optional<std::string> contact_info_problem(std::string_view text) {
  if (text.empty() || has_control_or_space(text)) return "expected an e-mail address or a URI without spaces";
  const auto colon = text.find(':');
  const auto at = text.find('@');
  const std::string_view scheme = text.substr(0, colon);
  const bool uri = colon != std::string_view::npos && colon < at && !scheme.empty() &&
                   std::isalpha(static_cast<unsigned char>(scheme[0])) &&
                   std::ranges::all_of(scheme, [](char c) {
                     return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
                   });
  if (uri) {
    if (colon + 1 == text.size()) return "the URI has nothing after its scheme";
    return std::nullopt;
  }
  if (at == std::string_view::npos || at == 0 || text.find('@', at + 1) != std::string_view::npos)
    return "expected an e-mail address (local@domain) or a URI (scheme:...)";
  if (!core::is_host_name(text.substr(at + 1))) return "the e-mail address's domain is not a host name";
  return std::nullopt;
}

void read_listener(Reader& r, const toml::table& table, Config& config) {
  constexpr std::string_view prefix = "listen";
  r.reject_unknown(table, prefix, keys_of("listen"));
  const int line = line_of(table.source());
  const Field unix_field = r.field(table, prefix, "unix");
  const Field tcp_field = r.field(table, prefix, "tcp");
  const Field owner = r.field(table, prefix, "owner");
  const Field group = r.field(table, prefix, "group");
  const Field mode = r.field(table, prefix, "mode");

  if (unix_field.node && tcp_field.node) {
    r.problem(line, "listen: give either unix or tcp, not both");
    return;
  }
  ListenEndpoint endpoint;
  if (unix_field.node) {
    r.read_path(unix_field, endpoint.unix_path, false);
    if (endpoint.unix_path.size() > max_unix_path) {
      r.fail(unix_field, fmt::format("listen.unix: path longer than {} bytes", max_unix_path));
    }
    r.read_string(owner, endpoint.owner);
    r.read_string(group, endpoint.group);
    read_socket_mode(r, mode, endpoint.mode);
  } else if (tcp_field.node) {
    for (const Field* unix_only : {&owner, &group, &mode}) {
      if (unix_only->node) r.fail(*unix_only, fmt::format("{}: applies to unix listeners only", unix_only->path));
    }
    std::string text;
    if (r.read_string(tcp_field, text)) {
      if (auto parsed = parse_loopback_endpoint(text)) {
        endpoint.tcp_address = std::move(parsed->address);
        endpoint.tcp_port = parsed->port;
      } else {
        r.fail(tcp_field, fmt::format("listen.tcp: {}", parsed.error()));
      }
    }
  } else {
    r.problem(line, "listen: needs unix = \"/path\" or tcp = \"127.0.0.1:PORT\"");
    return;
  }
  config.listen.push_back(std::move(endpoint));
}

void read_listeners(Reader& r, const toml::table& doc, Config& config) {
  const Field f = r.field(doc, "", "listen");
  if (!f.node) return;  // the default listener is added later
  const toml::array* array = f.node->as_array();
  if (array && array->empty()) {
    r.fail(f, "listen: at least one listener is needed");
    return;
  }
  if (!array || !array->is_array_of_tables()) {
    r.fail(f, "listen: expected [[listen]] tables");
    return;
  }
  for (const toml::node& element : *array) read_listener(r, *element.as_table(), config);
}

// The map NAME is the last ':'-separated field of "socketmap:unix:PATH:NAME" and
// travels as "NAME KEY" in each request, so it cannot hold ':' or white space.
bool valid_profile_name(std::string_view name) {
  return !name.empty() && std::ranges::none_of(name, [](char c) {
    return c == ':' || c == ',' || static_cast<unsigned char>(c) <= ' ' || c == '\x7f';
  });
}

void read_profiles(Reader& r, const toml::table& doc, Config& config) {
  const toml::table* profiles = r.section(doc, "", "profiles");
  if (!profiles) return;
  for (auto&& [key, node] : *profiles) {
    const std::string name(key.str());
    const std::string prefix = join_path("profiles", name);
    const int line = line_of(key, node);
    if (!valid_profile_name(name)) {
      r.problem(line, fmt::format("profiles: \"{}\" cannot be a socketmap map name (empty, or contains "
                                  "white space, ',' or ':')", name));
      continue;
    }
    const toml::table* table = node.as_table();
    if (!table) {
      r.problem(line, fmt::format("{}: expected a table ([{}])", prefix, prefix));
      continue;
    }
    r.reject_unknown(*table, prefix, keys_of("profiles.NAME"));
    Profile profile{.name = name};
    r.read_choice(r.field(*table, prefix, "dialect"), profile.dialect,
                  {{"postfix", core::Dialect::postfix}, {"postfix-tlsrpt", core::Dialect::postfix_tlsrpt}});
    r.read_choice(r.field(*table, prefix, "testing"), profile.testing,
                  {{"notfound", TestingAnswer::notfound}, {"enforce", TestingAnswer::enforce}});
    r.read_bool(r.field(*table, prefix, "dane"), profile.dane);
    r.read_bool(r.field(*table, prefix, "validate_enforce"), profile.validate_enforce);
    config.profiles[name] = std::move(profile);
  }
}

// RFC 6376 sec. 3.1: a selector is one or more DNS labels. All-digit labels ("202404") are
// common, so it is checked as the leading labels of a host name (as io/dkim_signer does).
bool valid_dkim_selector(std::string_view selector) {
  return !selector.empty() && core::is_host_name(fmt::format("{}.invalid", selector));
}

// The [tlsrpt] keys of report sending (RFC 8460 sec. 5) into t.send_* and t.sender.
void read_report_sending(Reader& r, const toml::table& table, TlsRptSettings& t) {
  constexpr std::string_view prefix = "tlsrpt";
  io::ReportSenderSettings& sender = t.sender;
  r.read_bool(r.field(table, prefix, "send_reports"), t.send_reports);
  r.read_duration_between(r.field(table, prefix, "send_delay"), t.send_delay, Zero::allowed, milliseconds::zero(),
                          max_send_delay);
  r.read_duration_between(r.field(table, prefix, "retry_period"), t.retry_period, Zero::allowed, min_retry_period,
                          max_retry_period);

  const Field mail_from = r.field(table, prefix, "mail_from");
  std::string from_text;
  if (r.read_string(mail_from, from_text)) {
    // Domains are case-insensitive; the plain form has them in lowercase, as submitter.
    std::string from = from_text;
    if (const auto at = from.rfind('@'); at != std::string::npos)
      from = from.substr(0, at + 1) + core::ascii_lowercase(std::string_view(from).substr(at + 1));
    if (from.empty() || core::is_plain_address(from))
      sender.mail_from = std::move(from);
    else
      r.fail(mail_from, fmt::format("tlsrpt.mail_from: expected \"\" or a plain address (local@domain, the local "
                                    "part a dot-atom), not \"{}\"",
                                    from_text));
  }
  r.read_choice(r.field(table, prefix, "mail_transport"), sender.transport,
                {{"smtp", io::MailTransport::smtp}, {"sendmail", io::MailTransport::sendmail}});

  const Field relay = r.field(table, prefix, "smtp_relay");
  std::string relay_text;
  if (r.read_string(relay, relay_text)) {
    if (auto parsed = parse_relay(relay_text)) {
      sender.smtp.host = std::move(parsed->host);
      sender.smtp.port = parsed->port;
    } else {
      r.fail(relay, fmt::format("tlsrpt.smtp_relay: {}", parsed.error()));
    }
  }
  const Field helo = r.field(table, prefix, "smtp_helo");
  std::string helo_name;
  if (r.read_string(helo, helo_name)) {
    if (helo_name.empty() || core::is_host_name(helo_name))
      sender.smtp.helo_name = std::move(helo_name);
    else
      r.fail(helo, fmt::format("tlsrpt.smtp_helo: expected \"\" or a host name, not \"{}\"", helo_name));
  }
  r.read_bool(r.field(table, prefix, "smtp_require_starttls"), sender.smtp.require_starttls);
  r.read_path(r.field(table, prefix, "smtp_ca_file"), sender.smtp.ca_file, true);
  r.read_path(r.field(table, prefix, "sendmail_command"), sender.sendmail_command, false);
  r.read_duration_between(r.field(table, prefix, "mail_timeout"), sender.mail_timeout, Zero::rejected,
                          milliseconds::zero(), max_delivery_timeout);

  r.read_path(r.field(table, prefix, "dkim_key_file"), sender.dkim.key_file, true);
  const Field selector = r.field(table, prefix, "dkim_selector");
  std::string selector_text;
  if (r.read_string(selector, selector_text)) {
    if (selector_text.empty() || valid_dkim_selector(selector_text))
      sender.dkim.selector = std::move(selector_text);
    else
      r.fail(selector, fmt::format("tlsrpt.dkim_selector: expected DNS labels (letters, digits, '-', separated by "
                                   "'.'), not \"{}\"",
                                   selector_text));
  }
  const Field dkim_domain = r.field(table, prefix, "dkim_domain");
  std::string domain;
  if (r.read_string(dkim_domain, domain)) {
    if (domain.empty() || core::is_host_name(domain))
      sender.dkim.domain = core::ascii_lowercase(domain);
    else
      r.fail(dkim_domain, fmt::format("tlsrpt.dkim_domain: expected \"\" or a domain name, not \"{}\"", domain));
  }

  r.read_path(r.field(table, prefix, "https_ca_file"), sender.https.ca_file, true);
  r.read_duration_between(r.field(table, prefix, "https_timeout"), sender.https.timeout, Zero::rejected,
                          milliseconds::zero(), max_delivery_timeout);
  r.read_bool(r.field(table, prefix, "https_refuse_special_addresses"), sender.https.refuse_special_addresses);
}

void read_tlsrpt(Reader& r, const toml::table& doc, TlsRptSettings& t) {
  constexpr std::string_view prefix = "tlsrpt";
  const toml::table* table = r.section(doc, "", prefix);
  if (!table) return;
  r.reject_unknown(*table, prefix, keys_of("tlsrpt"));
  r.read_bool(r.field(*table, prefix, "enabled"), t.enabled);

  const Field socket = r.field(*table, prefix, "socket");
  r.read_path(socket, t.socket.unix_path, false);
  if (t.socket.unix_path.size() > max_unix_path)
    r.fail(socket, fmt::format("tlsrpt.socket: path longer than {} bytes", max_unix_path));
  read_socket_mode(r, r.field(*table, prefix, "socket_mode"), t.socket.mode);
  r.read_string(r.field(*table, prefix, "socket_owner"), t.socket.owner);
  r.read_string(r.field(*table, prefix, "socket_group"), t.socket.group);

  const Field log = r.field(*table, prefix, "postfix_log");
  std::string log_value;
  if (r.read_string(log, log_value)) {
    if (log_value.empty() || log_value == "-" || log_value.starts_with('/'))
      t.postfix_log = std::move(log_value);
    else
      r.fail(log, fmt::format(R"(tlsrpt.postfix_log: expected "" (off), "-" (standard input) or an absolute path, )"
                              R"(not "{}")",
                              log_value));
  }
  r.read_string(r.field(*table, prefix, "postfix_log_profile"), t.postfix_log_profile);

  std::size_t retention = t.retention_days;
  r.read_count(r.field(*table, prefix, "retention_days"), retention, min_retention_days, max_retention_days);
  t.retention_days = static_cast<unsigned>(retention);

  const Field organization = r.field(*table, prefix, "organization_name");
  if (r.read_string(organization, t.organization_name)) {
    if (t.organization_name.size() > max_organization_name ||
        std::ranges::any_of(t.organization_name,
                            [](char c) { return static_cast<unsigned char>(c) < ' ' || c == '\x7f'; }))
      r.fail(organization, fmt::format("tlsrpt.organization_name: at most {} bytes without control characters",
                                       max_organization_name));
  }
  const Field contact = r.field(*table, prefix, "contact_info");
  if (r.read_string(contact, t.contact_info) && !t.contact_info.empty()) {
    if (auto problem = contact_info_problem(t.contact_info))
      r.fail(contact, fmt::format("tlsrpt.contact_info: {}, not \"{}\"", *problem, t.contact_info));
  }
  const Field submitter = r.field(*table, prefix, "submitter");
  if (r.read_string(submitter, t.submitter) && !t.submitter.empty()) {
    if (core::is_host_name(t.submitter))
      t.submitter = core::ascii_lowercase(t.submitter);
    else
      r.fail(submitter, fmt::format("tlsrpt.submitter: expected a domain name, not \"{}\"", t.submitter));
  }
  read_report_sending(r, *table, t);
}

void read_mx_validation(Reader& r, const toml::table& doc, MxValidationSettings& m) {
  constexpr std::string_view prefix = "mx_validation";
  const toml::table* table = r.section(doc, "", prefix);
  if (!table) return;
  r.reject_unknown(*table, prefix, keys_of("mx_validation"));
  r.read_bool(r.field(*table, prefix, "enabled"), m.enabled);
  r.read_duration_between(r.field(*table, prefix, "interval"), m.interval, Zero::rejected, min_validation_interval,
                          max_validation_interval);
  r.read_count(r.field(*table, prefix, "concurrency"), m.concurrency, 1, max_validation_concurrency);
  const Field helo = r.field(*table, prefix, "helo_name");
  std::string helo_name;
  if (r.read_string(helo, helo_name)) {
    if (helo_name.empty() || usable_helo_name(helo_name))
      m.probe.helo_name = core::ascii_lowercase(helo_name);
    else
      r.fail(helo, fmt::format("mx_validation.helo_name: expected \"\" or a host name other than localhost, not "
                               "\"{}\"",
                               helo_name));
  }
  r.read_path(r.field(*table, prefix, "ca_file"), m.probe.ca_file, true);
  r.read_duration_between(r.field(*table, prefix, "step_timeout"), m.probe.step_timeout, Zero::rejected,
                          milliseconds::zero(), max_probe_step_timeout);
  r.read_duration_between(r.field(*table, prefix, "session_timeout"), m.probe.session_timeout, Zero::rejected,
                          milliseconds::zero(), max_probe_session_timeout);
  r.read_bool(r.field(*table, prefix, "count_as_sessions"), m.count_as_sessions);
}

void read_logging(Reader& r, const toml::table& doc, LogSettings& log) {
  r.read_choice(r.field(doc, "", "log_level"), log.level,
                {{"trace", std::string("trace")},
                 {"debug", std::string("debug")},
                 {"info", std::string("info")},
                 {"warn", std::string("warn")},
                 {"error", std::string("error")}});
  const Field target = r.field(doc, "", "log_target");
  r.read_choice(target, log.target,
                {{"stderr", LogTarget::stderr_stream},
                 {"file", LogTarget::file},
                 {"syslog", LogTarget::syslog},
                 {"journal", LogTarget::journal}});
  const Field file = r.field(doc, "", "log_file");
  r.read_path(file, log.file, true);
  if (log.target == LogTarget::file && log.file.empty() && !r.failed("log_file"))
    r.problem(target.node ? target.line() : 0, "log_target = \"file\" needs log_file = \"/path\"");
  std::string& facility = log.syslog_facility;
  r.read_choice(r.field(doc, "", "syslog_facility"), facility,
                {{"mail", std::string("mail")},
                 {"daemon", std::string("daemon")},
                 {"user", std::string("user")},
                 {"local0", std::string("local0")},
                 {"local1", std::string("local1")},
                 {"local2", std::string("local2")},
                 {"local3", std::string("local3")},
                 {"local4", std::string("local4")},
                 {"local5", std::string("local5")},
                 {"local6", std::string("local6")},
                 {"local7", std::string("local7")}});
}

// user and group: names from the passwd and group databases, looked up at start-up
// (a name that does not exist there is a start-up error, said by mtastsd).
void read_account(Reader& r, const Field& f, std::string& out) {
  std::string name;
  if (!r.read_string(f, name)) return;
  if (!name.empty() && (has_control_or_space(name) || name.find(':') != std::string::npos || name.size() > 256)) {
    r.fail(f, fmt::format("{}: expected a user or group name, not \"{}\"", f.path, name));
    return;
  }
  out = std::move(name);
}

void read_control(Reader& r, const toml::table& doc, Config& config) {
  constexpr std::string_view prefix = "control";
  const toml::table* table = r.section(doc, "", prefix);
  if (!table) return;
  r.reject_unknown(*table, prefix, keys_of(prefix));
  ListenEndpoint& control = config.control;
  const Field unix_field = r.field(*table, prefix, "unix");
  r.read_path(unix_field, control.unix_path, false);
  if (control.unix_path.size() > max_unix_path)
    r.fail(unix_field, fmt::format("control.unix: path longer than {} bytes", max_unix_path));
  r.read_string(r.field(*table, prefix, "owner"), control.owner);
  r.read_string(r.field(*table, prefix, "group"), control.group);
  read_socket_mode(r, r.field(*table, prefix, "mode"), control.mode);
}

void read_metrics(Reader& r, const toml::table& doc, Config& config) {
  constexpr std::string_view prefix = "metrics";
  const toml::table* table = r.section(doc, "", prefix);
  if (!table) return;
  r.reject_unknown(*table, prefix, keys_of(prefix));
  const Field listen = r.field(*table, prefix, "listen");
  std::string text;
  if (!r.read_string(listen, text) || text.empty()) return;  // "" = off
  if (auto parsed = parse_loopback_endpoint(text)) {
    config.metrics.tcp_address = std::move(parsed->address);
    config.metrics.tcp_port = parsed->port;
  } else {
    r.fail(listen, fmt::format("metrics.listen: {}", parsed.error()));
  }
}

void read_document(Reader& r, const toml::table& doc, Config& c) {
  r.reject_unknown(doc, "", keys_of(""));
  r.read_path(r.field(doc, "", "state_dir"), c.state_dir, false);
  r.read_path(r.field(doc, "", "runtime_dir"), c.runtime_dir, false);
  read_logging(r, doc, c.log);
  read_account(r, r.field(doc, "", "user"), c.user);
  read_account(r, r.field(doc, "", "group"), c.group);
  read_listeners(r, doc, c);
  read_control(r, doc, c);
  read_metrics(r, doc, c);

  if (const toml::table* t = r.section(doc, "", "server")) {
    r.reject_unknown(*t, "server", keys_of("server"));
    r.read_duration(r.field(*t, "server", "idle_timeout"), c.idle_timeout, Zero::rejected);
    r.read_count(r.field(*t, "server", "max_connections"), c.max_connections, 1, 1'000'000);
  }

  if (const toml::table* t = r.section(doc, "", "cache")) {
    r.reject_unknown(*t, "cache", keys_of("cache"));
    r.read_size(r.field(*t, "cache", "map_size"), c.cache_map_size, min_map_size);
    // Intervals that pace repeated network work must not be zero (a zero would
    // re-query or re-fetch on every lookup; RFC 8461 sec. 3.3 asks for >= 5 min
    // between fetch attempts of a failed policy id).
    r.read_seconds(r.field(*t, "cache", "id_check_interval"), c.cache.id_check_interval, Zero::rejected);
    r.read_seconds(r.field(*t, "cache", "fetch_retry_after"), c.cache.fetch_retry_after, Zero::rejected);
    r.read_seconds(r.field(*t, "cache", "dns_error_retry"), c.cache.dns_error_retry, Zero::rejected);
    r.read_seconds(r.field(*t, "cache", "negative_ttl_min"), c.cache.negative_ttl_min, Zero::allowed);
    r.read_seconds(r.field(*t, "cache", "negative_ttl_max"), c.cache.negative_ttl_max, Zero::allowed);
    r.read_seconds(r.field(*t, "cache", "refresh_margin"), c.cache.refresh_margin, Zero::allowed);
    r.read_seconds(r.field(*t, "cache", "refresh_unused_after"), c.cache.refresh_unused_after, Zero::allowed);
    r.read_seconds(r.field(*t, "cache", "drop_unused_after"), c.cache.drop_unused_after, Zero::allowed);
    r.read_duration(r.field(*t, "cache", "refresh_scan_interval"), c.refresh_scan_interval, Zero::rejected);
    r.read_count(r.field(*t, "cache", "refresh_concurrency"), c.refresh_concurrency, 1, 1024);
    r.read_seconds(r.field(*t, "cache", "dane_ttl_min"), c.cache.dane_ttl_min, Zero::allowed);
    r.read_seconds(r.field(*t, "cache", "dane_ttl_max"), c.cache.dane_ttl_max, Zero::allowed);
  }

  if (const toml::table* t = r.section(doc, "", "dns")) {
    r.reject_unknown(*t, "dns", keys_of("dns"));
    const Field forwarders = r.field(*t, "dns", "forwarders");
    r.read_string_list(forwarders, c.dns.forwarders);
    for (const std::string& forwarder : c.dns.forwarders) {
      if (!valid_forwarder(forwarder)) {
        r.fail(forwarders, fmt::format(R"(dns.forwarders: "{}" is not "ADDRESS" or "ADDRESS@PORT")", forwarder));
      }
    }
    r.read_path(r.field(*t, "dns", "resolv_conf"), c.dns.resolv_conf, true);
    r.read_path(r.field(*t, "dns", "trust_anchor_file"), c.dns.trust_anchor_file, true);
    r.read_duration(r.field(*t, "dns", "timeout"), c.dns.timeout, Zero::rejected);
  }

  if (const toml::table* t = r.section(doc, "", "fetch")) {
    r.reject_unknown(*t, "fetch", keys_of("fetch"));
    r.read_path(r.field(*t, "fetch", "ca_file"), c.fetch.ca_file, true);
    r.read_duration(r.field(*t, "fetch", "timeout"), c.fetch.timeout, Zero::rejected);
    r.read_bool(r.field(*t, "fetch", "refuse_special_addresses"), c.fetch.refuse_special_addresses);
  }

  if (const toml::table* t = r.section(doc, "", "lookup")) {
    r.reject_unknown(*t, "lookup", keys_of("lookup"));
    r.read_duration(r.field(*t, "lookup", "cold_budget"), c.cold_budget, Zero::allowed);
    r.read_duration(r.field(*t, "lookup", "reply_deadline"), c.reply_deadline, Zero::rejected);
  }

  read_tlsrpt(r, doc, c.tlsrpt);
  read_mx_validation(r, doc, c.mx_validation);
  read_profiles(r, doc, c);
}

// Checks that relate two keys; reported on the line of the first key the file
// sets, and skipped when one of them was already reported as invalid.
void check_relations(Reader& r, const Config& c) {
  auto line = [&r](const char* a, const char* b) {
    const int la = r.line_of_path(a);
    return la ? la : r.line_of_path(b);
  };
  auto both_valid = [&r](const char* a, const char* b) { return !r.failed(a) && !r.failed(b); };
  if (both_valid("cache.negative_ttl_min", "cache.negative_ttl_max") &&
      c.cache.negative_ttl_min > c.cache.negative_ttl_max) {
    r.problem(line("cache.negative_ttl_min", "cache.negative_ttl_max"),
              fmt::format("cache.negative_ttl_min ({}s) must not exceed cache.negative_ttl_max ({}s)",
                          c.cache.negative_ttl_min.count(), c.cache.negative_ttl_max.count()));
  }
  if (both_valid("cache.dane_ttl_min", "cache.dane_ttl_max") && c.cache.dane_ttl_min > c.cache.dane_ttl_max) {
    r.problem(line("cache.dane_ttl_min", "cache.dane_ttl_max"),
              fmt::format("cache.dane_ttl_min ({}s) must not exceed cache.dane_ttl_max ({}s)",
                          c.cache.dane_ttl_min.count(), c.cache.dane_ttl_max.count()));
  }
  // DANE is DNSSEC: without validation every answer is insecure and DANE would never apply.
  if (c.dns.trust_anchor_file.empty() && !r.failed("dns.trust_anchor_file")) {
    for (const auto& [name, profile] : c.profiles) {
      if (!profile.dane) continue;
      const std::string key = join_path(join_path("profiles", name), "dane");
      r.problem(r.line_of_path(key), fmt::format("{}: dane needs dns.trust_anchor_file (DNSSEC validation)", key));
    }
  }
  if (!r.failed("tlsrpt.postfix_log_profile") && !c.profiles.contains(c.tlsrpt.postfix_log_profile)) {
    r.problem(r.line_of_path("tlsrpt.postfix_log_profile"),
              fmt::format("tlsrpt.postfix_log_profile: no profile \"{}\" ([profiles.{}])", c.tlsrpt.postfix_log_profile,
                          c.tlsrpt.postfix_log_profile));
  }
  // A DKIM key signs as <selector>._domainkey.<domain> (RFC 6376 sec. 3.6.2.1); the domain
  // defaults to the submitter.
  const io::DkimSettings& dkim = c.tlsrpt.sender.dkim;
  if (!dkim.key_file.empty() && !r.failed("tlsrpt.dkim_key_file")) {
    const int key_line = r.line_of_path("tlsrpt.dkim_key_file");
    if (dkim.selector.empty() && !r.failed("tlsrpt.dkim_selector"))
      r.problem(key_line, "tlsrpt.dkim_key_file: needs tlsrpt.dkim_selector");
    if (dkim.domain.empty() && c.tlsrpt.submitter.empty() && !r.failed("tlsrpt.dkim_domain") &&
        !r.failed("tlsrpt.submitter"))
      r.problem(key_line, "tlsrpt.dkim_key_file: needs tlsrpt.dkim_domain or tlsrpt.submitter (the signing domain)");
  }
  const io::MxProbeSettings& probe = c.mx_validation.probe;
  if (both_valid("mx_validation.step_timeout", "mx_validation.session_timeout") &&
      probe.step_timeout > probe.session_timeout) {
    r.problem(line("mx_validation.step_timeout", "mx_validation.session_timeout"),
              fmt::format("mx_validation.step_timeout ({}) must not exceed mx_validation.session_timeout ({})",
                          duration_text(probe.step_timeout), duration_text(probe.session_timeout)));
  }
  if (both_valid("lookup.cold_budget", "lookup.reply_deadline") && c.cold_budget > c.reply_deadline) {
    r.problem(line("lookup.cold_budget", "lookup.reply_deadline"),
              fmt::format("lookup.cold_budget ({}ms) must not exceed lookup.reply_deadline ({}ms)",
                          c.cold_budget.count(), c.reply_deadline.count()));
  }
}

// Defaults apart from the listener, which depends on runtime_dir.
Config built_in_config() {
  Config c;
  c.source = built_in_source;
  c.dns.resolv_conf = "/etc/resolv.conf";
  std::error_code ec;
  if (std::filesystem::exists(debian_root_key, ec)) c.dns.trust_anchor_file = debian_root_key;
  c.profiles.emplace("default", Profile{.name = "default"});
  c.control.mode = default_control_mode;
  return c;
}

// --state-dir: everything the daemon writes lives under DIR.
void apply_state_dir_override(Config& c, const std::string& state_dir_override) {
  if (state_dir_override.empty()) return;
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::absolute(state_dir_override, ec);
  if (ec) dir = state_dir_override;
  c.state_dir = c.runtime_dir = dir.string();
}

void add_default_listener(Config& c) {
  if (!c.listen.empty()) return;
  const auto socket = std::filesystem::path(c.runtime_dir) / default_socket_name;
  c.listen.push_back(ListenEndpoint{.unix_path = socket.string()});
}

void add_default_control_socket(Config& c) {
  if (!c.control.unix_path.empty()) return;
  c.control.unix_path = (std::filesystem::path(c.runtime_dir) / default_control_socket_name).string();
}

void add_default_tlsrpt_socket(Config& c) {
  if (!c.tlsrpt.socket.unix_path.empty()) return;
  c.tlsrpt.socket.unix_path = (std::filesystem::path(c.runtime_dir) / default_tlsrpt_socket_name).string();
}

// Sender settings that default to the submitter (mtastsd.conf(5)); with no submitter
// they stay "".
void derive_sender_defaults(TlsRptSettings& t) {
  if (t.submitter.empty()) return;
  if (t.sender.mail_from.empty()) t.sender.mail_from = fmt::format("{}@{}", default_mail_from_local_part, t.submitter);
  if (t.sender.dkim.domain.empty()) t.sender.dkim.domain = t.submitter;
}

// The defaults that depend on other settings, for the built-in and a loaded configuration.
void complete(Config& c, const std::string& state_dir_override) {
  apply_state_dir_override(c, state_dir_override);
  add_default_listener(c);
  add_default_tlsrpt_socket(c);
  add_default_control_socket(c);
  derive_sender_defaults(c.tlsrpt);
  // MX hosts are checked against the CA bundle the policy hosts are (WebPKI either way).
  if (c.mx_validation.probe.ca_file.empty()) c.mx_validation.probe.ca_file = c.fetch.ca_file;
}

std::expected<std::string, std::string> read_capped(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return std::unexpected(std::string("is a directory"));
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::unexpected(fmt::format("cannot open: {}", std::strerror(errno)));
  std::string text(max_config_bytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return std::unexpected(std::string("read error"));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > max_config_bytes) return std::unexpected(fmt::format("larger than {} bytes", max_config_bytes));
  return text;
}

}  // namespace

bool usable_helo_name(std::string_view name) {
  const std::string lower = core::ascii_lowercase(name);
  return core::is_host_name(lower) && lower != "localhost" && !lower.ends_with(".localhost");
}

const Profile& Config::profile_for(const std::string& map_name, bool* known) const {
  const auto it = profiles.find(map_name);
  if (known) *known = it != profiles.end();
  return it != profiles.end() ? it->second : profiles.at("default");
}

std::string ConfigProblem::to_string() const {
  return line > 0 ? fmt::format("{}:{}: {}", file, line, message) : fmt::format("{}: {}", file, message);
}

std::vector<std::string> config_key_names() {
  std::vector<std::string> names;
  for (const KeyTable& t : key_tables)
    for (std::string_view key : t.keys) names.push_back(join_path(t.table, key));
  return names;
}

Config default_config(const std::string& state_dir_override) {
  Config c = built_in_config();
  complete(c, state_dir_override);
  return c;
}

std::expected<Config, std::vector<ConfigProblem>> parse_config(std::string_view toml_text, const std::string& source,
                                                                const std::string& state_dir_override) {
  Reader reader(source);
  toml::table doc;
  try {
    doc = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    reader.problem(line_of(e.source()), std::string(e.description()));
    return std::unexpected(std::move(reader).take_problems());
  }
  Config c = built_in_config();
  c.source = source;
  read_document(reader, doc, c);
  check_relations(reader, c);
  std::vector<ConfigProblem> problems = std::move(reader).take_problems();
  if (!problems.empty()) return std::unexpected(std::move(problems));
  complete(c, state_dir_override);
  return c;
}

std::expected<Config, std::vector<ConfigProblem>> load_config(const std::string& path,
                                                               const std::string& state_dir_override) {
  auto text = read_capped(path);
  if (!text) return std::unexpected(std::vector<ConfigProblem>{{path, 0, std::move(text.error())}});
  return parse_config(*text, path, state_dir_override);
}

}  // namespace mtastsd::daemon

// CacheRecord <-> bytes, format 3: a version byte, then the fields in a fixed
// order as util/byte_codec varints and length-prefixed strings. Binary because a
// cache hit decodes its record on every lookup: the JSON of formats 1 and 2 cost
// about 10 µs per hit, a third of the daemon's CPU under load (bench/README.md).
// mtastsctl shows records as JSON (core/cache_record_json) for people and scripts.
//
//   u8 3 | varint flags | 7 times | varint consecutive_failures
//   | str policy_id | [str policy_text] | str mode | varint max_age | list mx | list lines
//   | str last_txt_id | [str failure] | str failure_detail | str failed_id
//   | [dane: str verdict | str reason | time checked_at | time valid_until
//           | varint count, then per host: str host | u8 usable_tlsa]
//
// Enumerations are stored by name (RFC 8460 spellings for failures), never by
// their C++ values. The policy body is omitted when it is exactly its lines each
// followed by LF (what almost every server sends), and rebuilt from them: a
// record is then about half the size, and the cache's pages with it.
// Times are unix seconds (sub-second parts are dropped). Decoding checks every
// length, range and name and that nothing follows the last field; anything
// unexpected is CacheRecordCorrupt, never an exception.
#include "core/cache_record.hpp"
#include "core/cache_record_legacy.hpp"

#include <algorithm>
#include <cstddef>
#include <limits>
#include <utility>
#include "util/byte_codec.hpp"

namespace mtastsd::core {
namespace {

// A record holds at most a 64 KiB policy body (RFC 8461 sec. 3.3) twice (text and
// lines) plus short fields; anything far larger is not one of ours.
constexpr std::size_t kMaxEncodedRecord = 1u << 20;

constexpr std::uint64_t kHasFailure = 1u << 0;
constexpr std::uint64_t kHasDane = 1u << 1;
constexpr std::uint64_t kTextFromLines = 1u << 2;  // policy_text omitted: rebuilt from policy.lines
constexpr std::uint64_t kKnownFlags = kHasFailure | kHasDane | kTextFromLines;

std::string text_from_lines(const std::vector<std::string>& lines) {
  std::size_t size = 0;
  for (const auto& line : lines) size += line.size() + 1;
  std::string text;
  text.reserve(size);
  for (const auto& line : lines) {
    text += line;
    text += '\n';
  }
  return text;
}

bool text_is_lines(const std::string& text, const std::vector<std::string>& lines) {
  std::size_t pos = 0;
  for (const auto& line : lines) {
    if (text.compare(pos, line.size(), line) != 0) return false;
    pos += line.size();
    if (pos >= text.size() || text[pos] != '\n') return false;
    ++pos;
  }
  return pos == text.size();
}

std::uint64_t unix_seconds(util::TimePoint t) {
  const auto s = util::to_unix(t);
  return s < 0 ? 0 : static_cast<std::uint64_t>(s);
}

class Writer {
 public:
  void flags(std::uint64_t v) { out_.varint(v); }
  void number(std::uint64_t v) { out_.varint(v); }
  void time(util::TimePoint t) { out_.varint(unix_seconds(t)); }
  void text(std::string_view s) { out_.bytes(s); }
  void list(const std::vector<std::string>& items) {
    out_.varint(items.size());
    for (const auto& item : items) out_.bytes(item);
  }
  void boolean(bool b) { out_.u8(b ? 1 : 0); }
  void format(std::uint8_t v) { out_.u8(v); }
  std::string take() { return out_.take(); }

 private:
  util::ByteWriter out_;
};

// Reads fields in order; the first failure is kept (with the field's name) and
// every later read is skipped, so decode() reads like the layout above.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : in_(bytes) {}

  std::uint64_t number(const char* field, std::uint64_t max) {
    if (error_) return 0;
    const auto v = in_.varint();
    if (!v) return fail(field, "truncated"), 0;
    if (*v > max) return fail(field, "out of range"), 0;
    return *v;
  }
  util::TimePoint time(const char* field) {
    return util::from_unix(static_cast<std::int64_t>(number(field, kMaxRecordUnixTime)));
  }
  std::string text(const char* field) {
    if (error_) return {};
    const auto v = in_.bytes();
    if (!v) return fail(field, "truncated"), std::string{};
    return std::string(*v);
  }
  std::size_t count(const char* field) {
    if (error_) return 0;
    const auto n = in_.count();
    if (!n) return fail(field, "truncated"), 0;
    return *n;
  }
  std::vector<std::string> list(const char* field) {
    std::vector<std::string> items;
    const std::size_t n = count(field);
    items.reserve(n);
    for (std::size_t i = 0; i < n && !error_; ++i) items.push_back(text(field));
    return items;
  }
  bool boolean(const char* field) {
    if (error_) return false;
    const auto v = in_.u8();
    if (!v) return fail(field, "truncated"), false;
    if (*v > 1) return fail(field, "not 0 or 1"), false;
    return *v == 1;
  }
  template <typename T>
  T named(const char* field, std::optional<T> (*from_name)(std::string_view)) {
    const std::string name = text(field);
    if (error_) return T{};
    const auto v = from_name(name);
    if (!v) return fail(field, "unknown value \"" + name + "\""), T{};
    return *v;
  }
  void expect_end() {
    if (!error_ && !in_.at_end()) fail("record", "has bytes after its last field");
  }
  void fail(const char* field, std::string what) {
    if (!error_) error_ = CacheRecordCorrupt{std::string("field ") + field + ": " + what};
  }
  std::optional<CacheRecordCorrupt>& error() { return error_; }

 private:
  util::ByteReader in_;
  std::optional<CacheRecordCorrupt> error_;
};

std::optional<StsMode> mode_from(std::string_view s) { return sts_mode_from_string(s); }
std::optional<FailureType> failure_from(std::string_view s) { return failure_type_from_string(s); }
std::optional<DaneVerdict> verdict_from(std::string_view s) { return dane_verdict_from_string(s); }

std::expected<CacheRecord, CacheRecordCorrupt> decode_binary(std::string_view bytes) {
  Reader in(bytes.substr(1));
  CacheRecord r;
  const std::uint64_t flags = in.number("flags", kKnownFlags);
  r.fetched_at = in.time("fetched_at");
  r.valid_until = in.time("valid_until");
  r.last_id_check = in.time("last_id_check");
  r.last_used = in.time("last_used");
  r.negative_until = in.time("negative_until");
  r.failed_at = in.time("failed_at");
  r.next_retry = in.time("next_retry");
  r.consecutive_failures = static_cast<std::uint32_t>(in.number("consecutive_failures", std::numeric_limits<std::uint32_t>::max()));
  r.policy_id = in.text("policy_id");
  if (!(flags & kTextFromLines)) r.policy_text = in.text("policy_text");
  r.policy.mode = in.named("mode", mode_from);
  r.policy.max_age = static_cast<std::int64_t>(in.number("max_age", kMaxAgeLimit));
  r.policy.mx = in.list("mx");
  r.policy.lines = in.list("lines");
  if (flags & kTextFromLines) r.policy_text = text_from_lines(r.policy.lines);
  r.last_txt_id = in.text("last_txt_id");
  if (flags & kHasFailure) r.failure = in.named("failure", failure_from);
  r.failure_detail = in.text("failure_detail");
  r.failed_id = in.text("failed_id");
  if (flags & kHasDane) {
    DaneState d;
    d.verdict = in.named("dane.verdict", verdict_from);
    d.reason = in.text("dane.reason");
    d.checked_at = in.time("dane.checked_at");
    d.valid_until = in.time("dane.valid_until");
    const std::size_t hosts = in.count("dane.hosts");
    d.hosts.reserve(hosts);
    for (std::size_t i = 0; i < hosts && !in.error(); ++i) {
      std::string host = in.text("dane.hosts.host");
      const bool usable = in.boolean("dane.hosts.usable_tlsa");
      d.hosts.push_back({std::move(host), usable});
    }
    r.dane = std::move(d);
  }
  in.expect_end();
  if (in.error()) return std::unexpected(std::move(*in.error()));
  return r;
}

}  // namespace

std::string encode_cache_record(const CacheRecord& r) {
  const bool text_from_lines = text_is_lines(r.policy_text, r.policy.lines);
  Writer out;
  out.format(kCacheRecordFormat);
  out.flags((r.failure ? kHasFailure : 0) | (r.dane ? kHasDane : 0) | (text_from_lines ? kTextFromLines : 0));
  out.time(r.fetched_at);
  out.time(r.valid_until);
  out.time(r.last_id_check);
  out.time(r.last_used);
  out.time(r.negative_until);
  out.time(r.failed_at);
  out.time(r.next_retry);
  out.number(r.consecutive_failures);
  out.text(r.policy_id);
  if (!text_from_lines) out.text(r.policy_text);
  out.text(to_string(r.policy.mode));
  out.number(static_cast<std::uint64_t>(std::max<std::int64_t>(r.policy.max_age, 0)));
  out.list(r.policy.mx);
  out.list(r.policy.lines);
  out.text(r.last_txt_id);
  if (r.failure) out.text(to_string(*r.failure));
  out.text(r.failure_detail);
  out.text(r.failed_id);
  if (r.dane) {
    out.text(to_string(r.dane->verdict));
    out.text(r.dane->reason);
    out.time(r.dane->checked_at);
    out.time(r.dane->valid_until);
    out.number(r.dane->hosts.size());
    for (const auto& h : r.dane->hosts) {
      out.text(h.host);
      out.boolean(h.usable_tlsa);
    }
  }
  return out.take();
}

std::expected<CacheRecord, CacheRecordCorrupt> decode_cache_record(std::string_view bytes) {
  if (bytes.size() > kMaxEncodedRecord) return std::unexpected(CacheRecordCorrupt{"record larger than 1 MiB"});
  if (bytes.empty()) return std::unexpected(CacheRecordCorrupt{"empty record"});
  if (bytes.front() == '{') return decode_legacy_cache_record(bytes);
  const auto format = static_cast<unsigned char>(bytes.front());
  if (format != kCacheRecordFormat)
    return std::unexpected(CacheRecordCorrupt{"unsupported record format " + std::to_string(format) + " (expected " +
                                              std::to_string(kCacheRecordFormat) + ", or JSON of format 1 or 2)"});
  return decode_binary(bytes);
}

}  // namespace mtastsd::core

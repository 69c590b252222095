// The TLS-RPT tables in the state directory's LMDB environment (io/store_env):
//   "tlsrpt_days"    core::encode_domain_day_key -> core::encode_domain_day: the
//                    sessions counted per (UTC day, report domain) (RFC 8460 sec. 4);
//   "tlsrpt_records" domain -> its _smtp._tls record as last looked up (RFC 8460
//                    sec. 3), for sources that do not carry it (Postfix log lines);
//   "tlsrpt_sources" source name -> how far it was read (a followed log file).
// Sessions are merged read-modify-write, a whole batch (and the positions its
// sources reached) in ONE write transaction: the batch counts completely or not
// at all, and a log position never runs ahead of the counts read up to it.
// A read-only handle (mtastsctl) sees tables an older daemon never created as empty.
#pragma once
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>
#include "core/session_event.hpp"
#include "core/tlsrpt_report.hpp"
#include "io/store_env.hpp"
#include "util/clock.hpp"

namespace mtastsd::io {

// The LMDB table of per-(day, domain) counts; io/report_outbox reads it for planning.
inline constexpr const char* kTlsRptDaysTable = "tlsrpt_days";

// One session with the (day, domain) it is counted under (core::domain_day_key).
struct KeyedSession {
  core::DomainDayKey key;
  core::SessionEvent event;
};

// Where reading a log file stopped: the file's identity and the byte offset just
// after the last line whose sessions are counted.
struct LogPosition {
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  std::uint64_t offset = 0;
  bool operator==(const LogPosition&) const = default;
};

struct MergeReport {
  std::size_t merged = 0;
  std::vector<core::AggregateFailure> rejected;  // sessions core::merge_session refused, not counted
  std::vector<std::string> corrupt_days;         // stored values that did not decode; started afresh
};

// A domain's _smtp._tls record as looked up: record "" = the domain has no usable
// one (its sessions are not reported). Valid until `until`.
struct CachedTlsrptRecord {
  std::string record;
  util::TimePoint until{};
  bool operator==(const CachedTlsrptRecord&) const = default;
};

class TlsrptStore {
 public:
  static std::expected<std::unique_ptr<TlsrptStore>, StoreError> open(std::shared_ptr<StoreEnv> env);
  ~TlsrptStore();

  // Counts every session of the batch and records the sources' positions, in one
  // write transaction. On an error nothing of the batch is counted.
  std::expected<MergeReport, StoreError> merge(const std::vector<KeyedSession>& batch,
                                               const std::vector<std::pair<std::string, LogPosition>>& positions = {});

  // nullopt = nothing counted for that day and domain.
  std::expected<std::optional<core::DomainDay>, StoreError> get(const core::DomainDayKey& key);
  // Every (day, domain) in key order (by day, then domain), or those of one day;
  // undecodable entries are passed as errors. Return false to stop.
  using DayVisitor =
      std::function<bool(const core::DomainDayKey&, const std::expected<core::DomainDay, StoreError>&)>;
  std::expected<void, StoreError> for_each(const DayVisitor& fn, std::optional<core::UtcDay> only_day = {});
  // Deletes every (day, domain) before first_kept; returns how many.
  std::expected<std::size_t, StoreError> prune_days(core::UtcDay first_kept);

  std::expected<std::optional<CachedTlsrptRecord>, StoreError> get_record(std::string_view domain);
  std::expected<void, StoreError> put_record(std::string_view domain, const CachedTlsrptRecord& record);
  // Deletes records whose time is up; returns how many.
  std::expected<std::size_t, StoreError> prune_records(util::TimePoint now);

  std::expected<std::optional<LogPosition>, StoreError> get_position(std::string_view source);

 private:
  struct Impl;
  explicit TlsrptStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mtastsd::io

// libunbound's asynchronous API driven by the Asio loop.
//
// Threads: ub_ctx_async(ctx, 1) gives the context ONE background worker thread
// that resolves every query. libunbound's default instead forks a worker process
// at the first query, and that child would keep a copy of every descriptor the
// daemon has open at that moment (client sockets, LMDB) for its whole life.
// Answers come back through a pipe (ub_fd); we wait for it to become readable
// and ub_process() runs the callbacks, on the loop thread only.
//
// Each query is a PendingQuery whose steady_timer is both its deadline and its
// wake-up: the coroutine waits on the timer, the libunbound callback stores the
// outcome and cancels the timer. The coroutine looks at `outcome` before deciding
// the deadline passed, so a callback racing the deadline wins; on a real timeout
// ub_cancel() guarantees the callback never runs (callbacks only run inside our
// own ub_process() calls). `pending` owns each query's state for as long as
// libunbound holds a pointer to it.
#include "io/dns_resolver.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <stdexcept>
#include <utility>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unbound.h>
#include "io/dns_rdata.hpp"

namespace mtastsd::io {
namespace {

namespace asio = boost::asio;
using Outcome = std::expected<DnsAnswer, DnsError>;

constexpr int kClassIn = 1;
constexpr int kRcodeNoerror = 0;   // RFC 1035 sec. 4.1.1
constexpr int kRcodeNxdomain = 3;  // RFC 1035 sec. 4.1.1

std::string_view type_name(int type) {
  switch (type) {
    case rrtype::a: return "A";
    case rrtype::mx: return "MX";
    case rrtype::txt: return "TXT";
    case rrtype::aaaa: return "AAAA";
    case rrtype::tlsa: return "TLSA";
    default: return "?";
  }
}

bool supported_type(int type) { return type_name(type) != "?"; }

// RFC 1035 sec. 4.1.1 and RFC 6895 sec. 2.3 names of the rcodes a resolver returns.
std::string rcode_text(int rcode) {
  switch (rcode) {
    case 1: return "FORMERR";
    case 2: return "SERVFAIL";
    case 4: return "NOTIMP";
    case 5: return "REFUSED";
    default: return fmt::format("RCODE{}", rcode);
  }
}

// Lowercase, without the trailing dot libunbound's names carry.
std::string normalized_name(std::string_view name) {
  if (name.size() > 1 && name.back() == '.') name.remove_suffix(1);
  std::string out(name);
  std::ranges::transform(out, out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

Outcome outcome_from_result(int err, const ub_result* result, std::string_view qname, int type) {
  if (err != 0 || result == nullptr) return std::unexpected(DnsError{DnsErrorKind::resolver, ub_strerror(err)});
  if (result->bogus)
    return std::unexpected(
        DnsError{DnsErrorKind::bogus, result->why_bogus ? result->why_bogus : "DNSSEC validation failed"});
  if (result->rcode != kRcodeNoerror && result->rcode != kRcodeNxdomain)
    return std::unexpected(DnsError{DnsErrorKind::servfail, rcode_text(result->rcode)});

  DnsAnswer answer;
  answer.ttl = static_cast<std::uint32_t>(std::max(result->ttl, 0));
  answer.secure = result->secure != 0;
  answer.canonical_name = normalized_name(result->canonname ? std::string_view(result->canonname) : qname);
  if (result->rcode == kRcodeNxdomain) {
    answer.rcode = DnsRcode::nxdomain;
    return answer;
  }
  if (!result->havedata) {
    answer.rcode = DnsRcode::nodata;
    return answer;
  }
  std::vector<Rdata> rdatas;
  for (int i = 0; result->data[i] != nullptr; ++i)
    rdatas.emplace_back(reinterpret_cast<const std::uint8_t*>(result->data[i]),
                        static_cast<std::size_t>(std::max(result->len[i], 0)));
  auto decoded = decode_records(type, rdatas);
  if (decoded.malformed > 0)
    spdlog::debug("dns {} {}: skipped {} malformed record(s)", qname, type_name(type), decoded.malformed);
  answer.records = std::move(decoded.records);
  answer.mx_preferences = std::move(decoded.mx_preferences);
  return answer;
}

std::string summary(const Outcome& o) {
  if (!o) return fmt::format("{} ({})", to_string(o.error().kind), o.error().detail);
  switch (o->rcode) {
    case DnsRcode::nxdomain: return fmt::format("NXDOMAIN ttl={}", o->ttl);
    case DnsRcode::nodata: return fmt::format("NODATA ttl={}", o->ttl);
    case DnsRcode::noerror: break;
  }
  return fmt::format("{} record(s) ttl={}{}", o->records.size(), o->ttl, o->secure ? " secure" : "");
}

}  // namespace

std::string_view to_string(DnsErrorKind k) {
  switch (k) {
    case DnsErrorKind::timeout: return "timeout";
    case DnsErrorKind::servfail: return "servfail";
    case DnsErrorKind::bogus: return "bogus";
    case DnsErrorKind::resolver: return "resolver";
  }
  return "resolver";
}

struct DnsResolver::Impl : std::enable_shared_from_this<Impl> {
 public:
  struct PendingQuery {
    PendingQuery(Impl& owner, std::string name, int type, asio::any_io_executor ex)
        : owner(owner), name(std::move(name)), type(type), timer(std::move(ex)) {}
    Impl& owner;
    std::string name;
    int type;
    int async_id = 0;
    asio::steady_timer timer;  // the deadline, cancelled early to wake the awaiter
    std::optional<Outcome> outcome;
  };

  Impl(asio::any_io_executor ex, const DnsSettings& settings);
  ~Impl();

  std::shared_ptr<PendingQuery> start(std::string name, int type, DnsResolver::Deadline deadline);
  asio::awaitable<Outcome> finish(std::shared_ptr<PendingQuery> query);
  void fail_all(const DnsError& error);

 private:
  static void on_result(void* arg, int err, ub_result* result);
  void watch_answers();
  void process_answers();
  void forget(int async_id);

  asio::any_io_executor executor_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<ub_ctx, decltype(&ub_ctx_delete)> ctx_;
  asio::posix::stream_descriptor answers_;  // ub_fd(ctx_): owned by libunbound, never closed by us
  std::map<int, std::shared_ptr<PendingQuery>> pending_;
  bool watching_ = false;
};

namespace {
void check_setting(int rc, std::string_view what) {
  if (rc != 0) throw std::runtime_error(fmt::format("DNS resolver: {}: {}", what, ub_strerror(rc)));
}
}  // namespace

DnsResolver::Impl::Impl(asio::any_io_executor ex, const DnsSettings& settings)
    : executor_(std::move(ex)),
      timeout_(settings.timeout),
      ctx_(ub_ctx_create(), &ub_ctx_delete),
      answers_(executor_) {
  if (!ctx_) throw std::runtime_error("DNS resolver: cannot create a libunbound context");
  if (timeout_ <= std::chrono::milliseconds::zero()) throw std::runtime_error("DNS resolver: timeout must be positive");
  check_setting(ub_ctx_async(ctx_.get(), 1), "background thread");
  for (const auto& forwarder : settings.forwarders)
    check_setting(ub_ctx_set_fwd(ctx_.get(), forwarder.c_str()), fmt::format("forwarder \"{}\"", forwarder));
  if (settings.forwarders.empty()) {
    const char* path = settings.resolv_conf.empty() ? nullptr : settings.resolv_conf.c_str();
    check_setting(ub_ctx_resolvconf(ctx_.get(), path),
                  fmt::format("resolv.conf \"{}\"", path ? path : "/etc/resolv.conf"));
  }
  if (!settings.trust_anchor_file.empty())
    check_setting(ub_ctx_add_ta_file(ctx_.get(), settings.trust_anchor_file.c_str()),
                  fmt::format("trust anchor file \"{}\"", settings.trust_anchor_file));
  // libunbound reads the trust anchors and builds its modules when the context is
  // finalized, normally at the first query. Removing a local zone that was never
  // added is the public call that finalizes now, so bad settings stop the start-up.
  check_setting(ub_ctx_zone_remove(ctx_.get(), "finalize.mtastsd.invalid."),
                settings.trust_anchor_file.empty()
                    ? std::string("configuration")
                    : fmt::format("configuration (trust anchor file \"{}\")", settings.trust_anchor_file));
  const int fd = ub_fd(ctx_.get());
  if (fd < 0) throw std::runtime_error("DNS resolver: libunbound has no answer descriptor");
  answers_.assign(fd);
}

DnsResolver::Impl::~Impl() {
  answers_.release();  // cancels the wait; ub_ctx_delete closes the pipe and joins the worker
}

std::shared_ptr<DnsResolver::Impl::PendingQuery> DnsResolver::Impl::start(std::string name, int type,
                                                                          DnsResolver::Deadline deadline) {
  auto query = std::make_shared<PendingQuery>(*this, std::move(name), type, executor_);
  query->timer.expires_at(std::min(std::chrono::steady_clock::now() + timeout_, deadline));
  if (!supported_type(type)) {
    query->outcome = std::unexpected(DnsError{DnsErrorKind::resolver, fmt::format("unsupported rrtype {}", type)});
    return query;
  }
  const int rc = ub_resolve_async(ctx_.get(), query->name.c_str(), type, kClassIn, query.get(), &Impl::on_result,
                                  &query->async_id);
  if (rc != 0) {
    query->outcome = std::unexpected(DnsError{DnsErrorKind::resolver, ub_strerror(rc)});
    spdlog::debug("dns {} {}: {}", query->name, type_name(type), summary(*query->outcome));
    return query;
  }
  pending_.emplace(query->async_id, query);
  watch_answers();
  return query;
}

asio::awaitable<Outcome> DnsResolver::Impl::finish(std::shared_ptr<PendingQuery> query) {
  if (!query->outcome) {
    boost::system::error_code ignored;  // expiry and cancellation are told apart by `outcome`
    co_await query->timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }
  if (!query->outcome) {
    // Deadline. The answer cannot be half-delivered: callbacks run only in process_answers().
    if (const int rc = ub_cancel(ctx_.get(), query->async_id); rc != 0)
      spdlog::warn("dns {} {}: ub_cancel: {}", query->name, type_name(query->type), ub_strerror(rc));
    forget(query->async_id);
    query->outcome = std::unexpected(DnsError{DnsErrorKind::timeout, "no answer before the deadline"});
    spdlog::debug("dns {} {}: {}", query->name, type_name(query->type), summary(*query->outcome));
  }
  co_return std::move(*query->outcome);
}

void DnsResolver::Impl::fail_all(const DnsError& error) {
  auto queries = std::exchange(pending_, {});
  for (auto& [async_id, query] : queries) {
    ub_cancel(ctx_.get(), async_id);
    query->outcome = std::unexpected(error);
    query->timer.cancel();
  }
  if (watching_) answers_.cancel();
}

void DnsResolver::Impl::on_result(void* arg, int err, ub_result* result) {
  std::unique_ptr<ub_result, decltype(&ub_resolve_free)> owned(result, &ub_resolve_free);
  auto* raw = static_cast<PendingQuery*>(arg);
  // Holding the node keeps the query alive until we are done with it.
  auto node = raw->owner.pending_.extract(raw->async_id);
  if (node.empty()) return;
  PendingQuery& query = *node.mapped();
  query.outcome = outcome_from_result(err, result, query.name, query.type);
  spdlog::debug("dns {} {}: {}", query.name, type_name(query.type), summary(*query.outcome));
  query.timer.cancel();
}

// Waits for answers while queries are pending (an idle resolver holds no work, so
// an io_context with nothing else to do can return). Asio's reactor reports only
// new readability (edge-triggered), so answers already in the pipe are drained
// before every wait.
void DnsResolver::Impl::watch_answers() {
  if (watching_) return;
  process_answers();
  if (pending_.empty()) return;
  watching_ = true;
  answers_.async_wait(asio::posix::stream_descriptor::wait_read,
                      [weak = weak_from_this()](const boost::system::error_code& ec) {
                        auto self = weak.lock();
                        if (!self) return;
                        self->watching_ = false;
                        if (ec && ec != asio::error::operation_aborted) {
                          // Waiting again would spin: fail what is pending, the next query retries.
                          spdlog::error("DNS resolver: waiting for libunbound: {}", ec.message());
                          self->fail_all(DnsError{DnsErrorKind::resolver, ec.message()});
                          return;
                        }
                        self->watch_answers();
                      });
}

void DnsResolver::Impl::process_answers() {
  if (const int rc = ub_process(ctx_.get()); rc != 0) {
    spdlog::error("DNS resolver: libunbound worker: {}", ub_strerror(rc));
    fail_all(DnsError{DnsErrorKind::resolver, ub_strerror(rc)});
  }
}

void DnsResolver::Impl::forget(int async_id) {
  pending_.erase(async_id);
  if (pending_.empty() && watching_) answers_.cancel();
}

DnsResolver::DnsResolver(asio::any_io_executor ex, const DnsSettings& settings)
    : impl_(std::make_shared<Impl>(std::move(ex), settings)) {}

DnsResolver::~DnsResolver() { impl_->fail_all(DnsError{DnsErrorKind::resolver, "resolver shut down"}); }

// Both coroutines copy impl_: the context must outlive a query even if the
// DnsResolver is destroyed while the query is suspended.
asio::awaitable<Outcome> DnsResolver::query(std::string name, int rrtype, Deadline deadline) {
  auto impl = impl_;
  co_return co_await impl->finish(impl->start(std::move(name), rrtype, deadline));
}

asio::awaitable<std::vector<Outcome>> DnsResolver::query_all(std::vector<std::string> names, int rrtype,
                                                             Deadline deadline) {
  auto impl = impl_;
  std::vector<std::shared_ptr<Impl::PendingQuery>> started;
  started.reserve(names.size());
  for (auto& name : names) started.push_back(impl->start(std::move(name), rrtype, deadline));
  std::vector<Outcome> results;
  results.reserve(started.size());
  for (auto& query : started) results.push_back(co_await impl->finish(std::move(query)));
  co_return results;
}

asio::awaitable<std::expected<std::vector<std::string>, DnsError>> DnsResolver::query_addresses(std::string name,
                                                                                                 Deadline deadline) {
  auto impl = impl_;
  auto a_query = impl->start(name, rrtype::a, deadline);
  auto aaaa_query = impl->start(std::move(name), rrtype::aaaa, deadline);
  const Outcome a_result = co_await impl->finish(std::move(a_query));
  const Outcome aaaa_result = co_await impl->finish(std::move(aaaa_query));
  std::vector<std::string> addresses;
  const DnsError* first_error = nullptr;
  for (const Outcome* result : {&a_result, &aaaa_result}) {
    if (*result)
      addresses.insert(addresses.end(), (*result)->records.begin(), (*result)->records.end());
    else if (!first_error)
      first_error = &result->error();
  }
  if (addresses.empty() && first_error) co_return std::unexpected(*first_error);
  co_return addresses;
}

void DnsResolver::cancel_all() { impl_->fail_all(DnsError{DnsErrorKind::resolver, "cancelled"}); }

}  // namespace mtastsd::io

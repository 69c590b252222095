// Typical policies, their cache records and replies; see the header.
#include "bench_records.hpp"

#include <fmt/format.h>

#include <stdexcept>
#include "core/answer.hpp"
#include "core/cache_rules.hpp"
#include "core/sts_policy.hpp"

namespace mtastsd::bench {
namespace {

constexpr std::string_view kPlaceholder = "%u";
// Any 1*32 ALPHA/DIGIT (RFC 8461 sec. 3.1); the same for every domain.
constexpr std::string_view kPolicyId = "20240101bench";

core::StsPolicy parsed(std::string_view text) {
  auto policy = core::parse_sts_policy(text);
  // The text is ours: a policy that does not parse is a bug in typical_policy_text.
  if (!policy) throw std::logic_error("typical policy does not parse: " + policy.error().detail);
  return std::move(*policy);
}

}  // namespace

std::expected<std::string, std::string> domain_for(std::string_view pattern, std::size_t n) {
  const std::size_t at = pattern.find(kPlaceholder);
  if (at == std::string_view::npos || pattern.find(kPlaceholder, at + 1) != std::string_view::npos)
    return std::unexpected(fmt::format("pattern '{}' must contain \"%u\" exactly once", pattern));
  return fmt::format("{}{}{}", pattern.substr(0, at), n, pattern.substr(at + kPlaceholder.size()));
}

std::string typical_policy_text(std::string_view domain) {
  return fmt::format("version: STSv1\nmode: enforce\nmx: mx1.{0}\nmx: mx2.{0}\nmax_age: 604800\n", domain);
}

core::CacheRecord enforce_record(std::string_view domain, util::TimePoint now) {
  const core::TxtOutcome txt{core::TxtStatus::found, std::string(kPolicyId), util::Seconds(3600), ""};
  std::string text = typical_policy_text(domain);
  core::StsPolicy policy = parsed(text);
  core::CacheRecord record = core::apply_fetch_success(nullptr, txt, {std::move(text), std::move(policy)}, now, {});
  record.last_used = now;
  return record;
}

core::CacheRecord negative_record(util::TimePoint now, util::Seconds ttl) {
  const core::TxtOutcome txt{core::TxtStatus::absent, "", ttl, "no _mta-sts TXT record"};
  core::CacheRecord record = core::apply_txt(nullptr, txt, now, {});
  record.last_used = now;
  return record;
}

std::string typical_reply(std::string_view domain) {
  const std::string text = typical_policy_text(domain);
  return core::encode_reply(
      {core::ReplyStatus::ok, core::build_sts_policy_result(parsed(text), domain, core::Dialect::postfix)});
}

}  // namespace mtastsd::bench

// The findings of `mtastsctl check`; see setup_check.hpp. Texts say what was seen,
// what senders do about it (with the RFC section), and what to change.
#include "core/setup_check.hpp"

#include <algorithm>
#include <map>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include "core/sts_record.hpp"
#include "core/tlsrpt_record.hpp"
#include "util/printable.hpp"

namespace mtastsd::core {
namespace {

constexpr std::string_view kPolicyPath = "/.well-known/mta-sts.txt";  // RFC 8461 sec. 3.3

Finding finding(CheckArea area, Severity severity, std::string code, std::string subject, std::string text,
                std::optional<FailureMode> mode = std::nullopt) {
  return Finding{area, severity, std::move(code), mode, std::move(subject), std::move(text)};
}

std::string quoted_excerpt(std::string_view untrusted) { return "\"" + util::printable_excerpt(untrusted) + "\""; }

std::string day(util::TimePoint t) { return util::format_utc(t).substr(0, 10); }

std::int64_t whole_days(util::TimePoint from, util::TimePoint to) {
  return std::chrono::duration_cast<std::chrono::days>(to - from).count();
}

constexpr std::size_t kNamesShown = 5;  // a certificate may name hundreds of hosts

std::string names_text(const std::vector<std::string>& names) {
  if (names.empty()) return "no DNS name at all";
  std::vector<std::string> shown;
  for (std::size_t i = 0; i < names.size() && i < kNamesShown; ++i) shown.push_back(util::printable_excerpt(names[i]));
  if (names.size() > kNamesShown) shown.push_back(fmt::format("and {} more", names.size() - kNamesShown));
  return fmt::format("{}", fmt::join(shown, ", "));
}

// The certificate name that covers `host` (certificate_covers() is true).
std::string covering_name(const CertificateFacts& cert, std::string_view host) {
  const auto it =
      std::ranges::find_if(cert.names, [&](const std::string& n) { return certificate_covers({.names = {n}}, host); });
  return it == cert.names.end() ? std::string() : util::printable_excerpt(*it);
}

// Certificate name coverage, dates and chain for `host`.
std::vector<Finding> judge_certificate(CheckArea area, const std::string& host, const CertificateFacts& cert,
                                       util::TimePoint now, std::optional<FailureMode> name_mode) {
  std::vector<Finding> out;
  bool explained = false;  // whether OpenSSL's verdict is covered by a finding above it
  if (!certificate_covers(cert, host)) {
    const bool wildcard = std::ranges::any_of(cert.names, [](const std::string& n) { return n.starts_with("*."); });
    out.push_back(finding(
        area, Severity::failure, "certificate-name", host,
        fmt::format("The certificate of {} is for {}: it does not cover {}, so senders refuse the connection "
                    "(RFC 8461 sec. 3.3, 4.2; RFC 6125).{} Get a certificate whose subjectAltName names {}.",
                    host, names_text(cert.names), host,
                    wildcard ? " A wildcard *.example.com covers exactly one label directly below example.com." : "",
                    host),
        name_mode));
    explained = cert.verification == FailureType::certificate_host_mismatch;
  }
  if (now < cert.not_before) {
    out.push_back(finding(area, Severity::failure, "certificate-not-yet-valid", host,
                          fmt::format("The certificate of {} is valid only from {}: senders refuse it until then.",
                                      host, util::format_utc(cert.not_before))));
    explained = explained || cert.verification == FailureType::certificate_expired;
  } else if (now >= cert.not_after) {
    out.push_back(finding(area, Severity::failure, "certificate-expired", host,
                          fmt::format("The certificate of {} expired on {}: senders refuse it. Renew it.", host,
                                      util::format_utc(cert.not_after))));
    explained = explained || cert.verification == FailureType::certificate_expired;
  } else if (cert.not_after - now < kCertificateRenewalWarning) {
    out.push_back(finding(area, Severity::warning, "certificate-expires-soon", host,
                          fmt::format("The certificate of {} expires on {}, in {} day(s); senders will refuse it "
                                      "from then on. Renew it now.",
                                      host, util::format_utc(cert.not_after), whole_days(now, cert.not_after))));
  }
  if (cert.verification == FailureType::certificate_not_trusted) {
    out.push_back(finding(
        area, Severity::failure, "certificate-untrusted", host,
        fmt::format("The certificate of {} (issued by {}) does not lead to a trusted certificate authority: {}. "
                    "MTA-STS senders require a publicly trusted (WebPKI) certificate (RFC 8461 sec. 3.3, 4.2); "
                    "self-signed and private-CA certificates fail. Serve the full chain of a public CA.",
                    host, cert.issuer, cert.verification_detail)));
  } else if (cert.verification && !explained) {
    out.push_back(finding(area, Severity::failure, "certificate-invalid", host,
                          fmt::format("The certificate of {} does not verify: {}. Senders refuse it.", host,
                                      cert.verification_detail)));
  }
  return out;
}

std::string_view sts_record_problem(StsRecordError e) {
  switch (e) {
    case StsRecordError::not_sts: break;
    case StsRecordError::syntax:
      return "it does not follow the record's grammar (\"v=STSv1; id=...;\", fields separated by \";\")";
    case StsRecordError::missing_id: return "it has no id field";
    case StsRecordError::bad_id: return "its id is not 1 to 32 letters and digits (no dashes, dots or colons)";
  }
  return "it is not an MTA-STS record";
}

std::string_view policy_problem(StsPolicyError e) {
  switch (e) {
    case StsPolicyError::syntax: return "a line is not \"key: value\"";
    case StsPolicyError::bad_version: return "\"version: STSv1\" is missing or different";
    case StsPolicyError::bad_mode: return "mode is missing or not enforce, testing or none";
    case StsPolicyError::bad_max_age: return "max_age is missing, not a number of seconds, or above 31557600";
    case StsPolicyError::bad_mx:
      return "an mx value is neither a host name nor \"*.\" and a host name (a wildcard is a whole left-most label)";
    case StsPolicyError::missing_mx: return "mode enforce and mode testing need at least one mx line";
  }
  return "it is invalid";
}

// "key: value" -> key (policy lines come out of the parser in that form).
std::string_view line_key(std::string_view line) { return line.substr(0, line.find(':')); }
std::string_view line_value(std::string_view line) {
  const auto colon = line.find(':');
  std::string_view v = colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  return v;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::ranges::sort(v);
  return v;
}

// How the live policy differs from the cached one, in what senders act on; "" when not at all.
std::string policy_difference(const StsPolicy& cached, const StsPolicy& live) {
  std::vector<std::string> changes;
  if (cached.mode != live.mode)
    changes.push_back(fmt::format("mode {} -> {}", to_string(cached.mode), to_string(live.mode)));
  if (cached.max_age != live.max_age) changes.push_back(fmt::format("max_age {} -> {}", cached.max_age, live.max_age));
  if (sorted(cached.mx) != sorted(live.mx))
    changes.push_back(fmt::format("mx {} -> {}", fmt::join(cached.mx, " "), fmt::join(live.mx, " ")));
  return fmt::format("{}", fmt::join(changes, ", "));
}

std::string mx_subject(const std::string& host, const std::string& address) {
  return address.empty() ? host : fmt::format("{} [{}]", host, address);
}

}  // namespace

std::string_view to_string(Severity s) {
  switch (s) {
    case Severity::ok: return "ok";
    case Severity::skipped: return "skipped";
    case Severity::warning: return "warning";
    case Severity::failure: return "failure";
  }
  return "?";
}

std::string_view to_string(FailureMode m) {
  switch (m) {
    case FailureMode::wrong_content_type: return "wrong-content-type";
    case FailureMode::certificate_not_covering_host: return "certificate-not-covering-mta-sts-host";
    case FailureMode::mx_certificate_mismatch: return "mx-certificate-name-mismatch";
    case FailureMode::id_not_updated: return "id-not-updated";
    case FailureMode::policy_redirect: return "policy-redirect";
  }
  return "?";
}

std::string_view title(FailureMode m) {
  switch (m) {
    case FailureMode::wrong_content_type: return "Policy file returns wrong content type";
    case FailureMode::certificate_not_covering_host:
      return "Certificate on mta-sts subdomain doesn't cover the subdomain";
    case FailureMode::mx_certificate_mismatch: return "MX host certificate doesn't match hostname";
    case FailureMode::id_not_updated: return "id not updated after policy change";
    case FailureMode::policy_redirect: return "HTTP redirect on the policy URL";
  }
  return "?";
}

std::string_view to_string(CheckArea a) {
  switch (a) {
    case CheckArea::sts_record: return "sts-record";
    case CheckArea::policy_fetch: return "policy-fetch";
    case CheckArea::policy: return "policy";
    case CheckArea::cache: return "cache";
    case CheckArea::mx: return "mx";
    case CheckArea::mx_tls: return "mx-tls";
    case CheckArea::dane: return "dane";
    case CheckArea::tlsrpt_record: return "tlsrpt-record";
  }
  return "?";
}

Severity worst(const std::vector<Finding>& findings) {
  Severity w = Severity::ok;
  for (const auto& f : findings) w = std::max(w, f.severity);
  return w;
}

Finding not_checked(CheckArea area, std::string reason) {
  return finding(area, Severity::skipped, "not-checked", "", std::move(reason));
}

// ---- _mta-sts ----

std::vector<Finding> judge_sts_record(std::string_view domain, const TxtLookup& txt) {
  const std::string name = fmt::format("_mta-sts.{}", domain);
  const auto one = [&](Severity s, std::string code, std::string text) {
    return std::vector<Finding>{finding(CheckArea::sts_record, s, std::move(code), name, std::move(text))};
  };
  if (txt.status == TxtLookup::Status::dns_error)
    return one(Severity::failure, "sts-record-dns-error",
               fmt::format("The TXT lookup of {} failed ({}). Senders that cannot look it up keep a policy they "
                           "cached, or have none: fix the DNS answer.",
                           name, txt.detail));
  const std::string publish = "Publish one record \"v=STSv1; id=<1 to 32 letters and digits>\" there.";
  if (txt.status == TxtLookup::Status::absent)
    return one(Severity::failure, "sts-record-missing",
               fmt::format("No TXT record at {} ({}): senders never look for an MTA-STS policy (RFC 8461 sec. "
                           "3.1). {}",
                           name,
                           txt.detail, publish));
  std::vector<std::pair<std::string, std::expected<StsRecord, StsRecordError>>> sts;
  for (const auto& r : txt.records)
    if (auto parsed = parse_sts_record(r); parsed || parsed.error() != StsRecordError::not_sts)
      sts.emplace_back(r, std::move(parsed));
  if (sts.empty())
    return one(Severity::failure, "sts-record-missing",
               fmt::format("None of the {} TXT record(s) at {} starts with \"v=STSv1\": senders see no MTA-STS "
                           "policy (RFC 8461 sec. 3.1). {}",
                           txt.records.size(), name, publish));
  if (sts.size() > 1) {
    std::vector<std::string> shown;
    for (const auto& [text, parsed] : sts) shown.push_back(quoted_excerpt(text));
    return one(Severity::failure, "sts-record-multiple",
               fmt::format("{} TXT records at {} start with \"v=STSv1\" ({}): senders then assume there is no "
                           "policy at all (RFC 8461 sec. 3.1). Keep exactly one.",
                           sts.size(), name, fmt::join(shown, ", ")));
  }
  const auto& [text, parsed] = sts.front();
  if (!parsed)
    return one(Severity::failure, "sts-record-invalid",
               fmt::format("The record {} at {} is invalid: {}. Senders ignore it and see no policy (RFC 8461 "
                           "sec. 3.1). {}",
                           quoted_excerpt(text), name, sts_record_problem(parsed.error()), publish));
  return one(Severity::ok, "sts-record",
             fmt::format("One MTA-STS record, id {}. Senders fetch the policy again only when this id changes: "
                         "change it with every change of the policy file.",
                         parsed->id));
}

// ---- the fetch ----

std::vector<Finding> judge_policy_fetch(const PolicyFetchFacts& fetch, util::TimePoint now) {
  const std::string url = fmt::format("https://{}{}", fetch.host, kPolicyPath);
  std::vector<Finding> out;
  if (fetch.certificate)
    out = judge_certificate(CheckArea::policy_fetch, fetch.host, *fetch.certificate, now,
                            FailureMode::certificate_not_covering_host);
  const auto add = [&](Severity s, std::string code, std::string text, std::optional<FailureMode> mode = {}) {
    out.push_back(finding(CheckArea::policy_fetch, s, std::move(code), url, std::move(text), mode));
  };
  if (fetch.body) {
    if (fetch.certificate && out.empty())
      add(Severity::ok, "certificate",
          fmt::format("The certificate of {} names it ({}), is trusted (issuer {}) and is valid until {} ({} "
                      "days).",
                      fetch.host, covering_name(*fetch.certificate, fetch.host), fetch.certificate->issuer,
                      day(fetch.certificate->not_after), whole_days(now, fetch.certificate->not_after)));
    add(Severity::ok, "policy-fetch",
        fmt::format("Fetched over {}: HTTP 200, Content-Type {}, {} bytes, no redirect.", fetch.tls_version,
                    quoted_excerpt(fetch.content_type), fetch.body->size()));
    return out;
  }
  const FetchFailed& failed = fetch.body.error();
  if (fetch.http_status) {
    const unsigned status = *fetch.http_status;
    if (status >= 300 && status < 400)
      add(Severity::failure, "redirect",
          fmt::format("The policy URL answers HTTP {} with a redirect to {}. Senders never follow redirects "
                      "(RFC 8461 sec. 3.3): to them the policy is unavailable. Serve the file itself at this "
                      "URL over HTTPS.",
                      status, fetch.location.empty() ? std::string("nowhere") : quoted_excerpt(fetch.location)),
          FailureMode::policy_redirect);
    else if (status != 200)
      add(Severity::failure, "http-status",
          fmt::format("The policy URL answers HTTP {}, not 200: senders find no policy (RFC 8461 sec. 3.3). "
                      "Serve the policy file at this URL.",
                      status));
    else if (failed.type == FailureType::sts_policy_invalid)  // the fetcher's only verdict on a 200 header
      add(Severity::failure, "content-type",
          fmt::format("The policy is served {}. Senders accept only text/plain (RFC 8461 sec. 3.3) and reject "
                      "the policy as invalid. Set \"Content-Type: text/plain\" for this file in the web server.",
                      fetch.content_type.empty() ? std::string("without a Content-Type")
                                                 : "with Content-Type " + quoted_excerpt(fetch.content_type)),
          FailureMode::wrong_content_type);
    else
      add(Severity::failure, "policy-body",
          fmt::format("Reading the policy failed: {}. Senders find no policy (RFC 8461 sec. 3.3 allows 64 KiB "
                      "and suggests a 60 s limit).",
                      failed.detail));
    return out;
  }
  // No response: the certificate findings explain a WebPKI failure if they can.
  if (failed.type == FailureType::sts_webpki_invalid && !out.empty()) return out;
  if (failed.type == FailureType::sts_webpki_invalid)
    add(Severity::failure, "tls",
        fmt::format("The TLS connection to {} failed: {}. Senders need TLS 1.2 or later and a valid certificate "
                    "(RFC 8461 sec. 3.3).",
                    fetch.host, failed.detail));
  else
    add(Severity::failure, "policy-unreachable",
        fmt::format("The policy could not be fetched: {}. Senders cannot either, and apply no policy.",
                    failed.detail));
  return out;
}

// ---- the policy ----

PolicyJudgement judge_policy(std::string_view body) {
  PolicyJudgement out;
  const auto add = [&](Severity s, std::string code, std::string text) {
    out.findings.push_back(finding(CheckArea::policy, s, std::move(code), "", std::move(text)));
  };
  auto parsed = parse_sts_policy(body);
  if (!parsed) {
    add(Severity::failure, "policy-invalid",
        fmt::format("The policy file is invalid: {} ({}). Senders reject the whole policy (sts-policy-invalid) "
                    "and apply none (RFC 8461 sec. 3.2).",
                    policy_problem(parsed.error().error), util::printable_excerpt(parsed.error().detail)));
    return out;
  }
  const StsPolicy& p = *parsed;
  switch (p.mode) {
    case StsMode::enforce:
      add(Severity::ok, "mode",
          fmt::format("mode enforce, max_age {} s, mx {}: senders deliver only to MX hosts that match a pattern "
                      "and present a valid certificate for their name.",
                      p.max_age, fmt::join(p.mx, " ")));
      break;
    case StsMode::testing:
      add(Severity::ok, "mode",
          fmt::format("mode testing, max_age {} s, mx {}: senders deliver as before and report what enforce would "
                      "refuse (TLS-RPT). Switch to enforce, with a new id, once the reports are clean.",
                      p.max_age, fmt::join(p.mx, " ")));
      break;
    case StsMode::none:
      add(Severity::warning, "mode-none",
          "mode none: senders treat the domain as having no policy (RFC 8461 sec. 5). That is how a policy is "
          "withdrawn; to protect mail, use testing, then enforce.");
      break;
  }
  if (p.max_age < kShortMaxAge)
    add(Severity::warning, "max-age-short",
        fmt::format("max_age is {} s, less than a day: senders fetch again often, and a cached policy protects "
                    "against a downgrade only that long (RFC 8461 sec. 3.2 expects weeks). Use 604800 (a week) "
                    "or more once the policy is settled.",
                    p.max_age));
  std::map<std::string_view, std::vector<std::string_view>> values;  // key -> values, for repeated keys
  for (const auto& line : p.lines) values[line_key(line)].push_back(line_value(line));
  for (const auto& [key, seen] : values)
    if (key != "mx" && seen.size() > 1)
      add(Severity::warning, "repeated-key",
          fmt::format("\"{}\" appears {} times; senders use the first value ({}) and ignore the others "
                      "(RFC 8461 sec. 3.2). Keep one.",
                      util::printable_excerpt(key), seen.size(), quoted_excerpt(seen.front())));
  out.policy = std::move(*parsed);
  return out;
}

// ---- the cache ----

std::vector<Finding> judge_cached_policy(const CacheLookup& cache, std::string_view live_id,
                                         std::string_view live_text, const StsPolicy& live) {
  const auto one = [&](Severity s, std::string code, std::string text, std::optional<FailureMode> mode = {}) {
    return std::vector<Finding>{finding(CheckArea::cache, s, std::move(code), "", std::move(text), mode)};
  };
  if (!cache.error.empty())
    return one(Severity::skipped, "cache-unavailable",
               fmt::format("mtastsd's cache could not be read ({}): whether the policy changed without a new id "
                           "was not checked.",
                           cache.error));
  if (!cache.record || !cache.record->has_policy())
    return one(Severity::skipped, "cache-not-cached",
               "mtastsd has no policy of this domain cached: there is nothing to compare the live policy with.");
  const CacheRecord& r = *cache.record;
  if (r.policy_id != live_id)
    return one(Severity::ok, "cache-other-id",
               fmt::format("mtastsd cached a policy under id {}; the TXT record now says {}, so senders, mtastsd "
                           "among them, fetch the live policy again.",
                           r.policy_id, live_id));
  if (r.policy_text == live_text)
    return one(Severity::ok, "cache-same",
               fmt::format("The live policy is the one mtastsd cached under id {} on {}.", r.policy_id,
                           day(r.fetched_at)));
  const std::string difference = policy_difference(r.policy, live);
  if (difference.empty())
    return one(Severity::ok, "cache-same-meaning",
               fmt::format("The live policy text differs from the one mtastsd cached under id {} on {} only in "
                           "what senders ignore (order, spacing, unknown keys).",
                           r.policy_id, day(r.fetched_at)));
  return one(Severity::failure, "id-not-updated",
             fmt::format("The policy changed ({}) but the id did not: mtastsd cached the old policy under the same "
                         "id {} on {}. Senders that cached it keep using it until its max_age runs out, since they "
                         "fetch again only when the id changes (RFC 8461 sec. 3.3). Change the id in the _mta-sts "
                         "TXT record whenever the policy file changes.",
                         difference, r.policy_id, day(r.fetched_at)),
             FailureMode::id_not_updated);
}

// ---- MX ----

std::vector<std::string> mail_hosts(std::string_view domain, const MxLookup& mx) {
  if (mx.status == MxLookup::Status::dns_error || mx.status == MxLookup::Status::nxdomain) return {};
  if (mx.status == MxLookup::Status::absent || mx.hosts.empty()) return {std::string(domain)};
  std::vector<std::string> hosts;
  for (const auto& h : mx.hosts)
    if (h != "." && std::ranges::find(hosts, h) == hosts.end()) hosts.push_back(h);
  return hosts;
}

std::vector<Finding> judge_mx(std::string_view domain, const MxLookup& mx, const std::optional<StsPolicy>& policy) {
  std::vector<Finding> out;
  const auto add = [&](Severity s, std::string code, std::string subject, std::string text) {
    out.push_back(finding(CheckArea::mx, s, std::move(code), std::move(subject), std::move(text)));
  };
  if (mx.status == MxLookup::Status::nxdomain) {
    add(Severity::failure, "domain-nxdomain", std::string(domain),
        fmt::format("{} does not exist in the DNS (NXDOMAIN): nobody can send mail to it.", domain));
    return out;
  }
  if (mx.status == MxLookup::Status::dns_error) {
    add(Severity::failure, "mx-dns-error", std::string(domain),
        fmt::format("The MX lookup of {} failed ({}): senders cannot deliver until it answers.", domain, mx.detail));
    return out;
  }
  const std::vector<std::string> hosts = mail_hosts(domain, mx);
  if (hosts.empty()) {
    add(Severity::ok, "null-mx", std::string(domain),
        fmt::format("{} publishes a null MX (RFC 7505): it accepts no mail, so there are no MX hosts to check.",
                    domain));
    return out;
  }
  if (mx.status == MxLookup::Status::absent || mx.hosts.empty())
    add(Severity::ok, "implicit-mx", std::string(domain),
        fmt::format("{} has no MX records: senders deliver to {} itself (RFC 5321 sec. 5.1), so it is checked as "
                    "the MX host.",
                    domain, domain));
  else
    add(Severity::ok, "mx", std::string(domain), fmt::format("MX hosts: {}.", fmt::join(hosts, ", ")));
  if (!policy || policy->mode == StsMode::none) return out;
  for (const auto& host : hosts) {
    const auto match =
        std::ranges::find_if(policy->mx, [&](const std::string& p) { return mx_pattern_matches(p, host); });
    if (match != policy->mx.end())
      add(Severity::ok, "mx-pattern", host, fmt::format("{} matches the policy's mx pattern {}.", host, *match));
    else
      add(Severity::failure, "mx-pattern-mismatch", host,
          fmt::format("{} matches none of the policy's mx patterns ({}): senders treat it as invalid and, under "
                      "enforce, do not deliver to it (RFC 8461 sec. 4.1). A wildcard *.example.com covers exactly "
                      "one label below example.com. Add a pattern for it to the policy, and change the id.",
                      host, fmt::join(policy->mx, " ")));
  }
  return out;
}

std::vector<Finding> judge_mx_host(const MxHostFacts& facts) {
  std::vector<Finding> out;
  const std::string& host = facts.host;
  if (!facts.address_error.empty()) {
    out.push_back(finding(CheckArea::mx_tls, Severity::warning, "mx-address", host,
                          fmt::format("The addresses of {} could not be found ({}): senders cannot reach it, and it "
                                      "was not checked.",
                                      host, facts.address_error)));
    return out;
  }
  for (const MxProbeFacts& p : facts.probes) {
    const std::string who = mx_subject(host, p.address);
    const auto add = [&](Severity s, std::string code, std::string text, std::optional<FailureMode> mode = {}) {
      out.push_back(finding(CheckArea::mx_tls, s, std::move(code), who, std::move(text), mode));
    };
    if (p.unreachable) {
      add(Severity::warning, "mx-unreachable",
          fmt::format("{} could not be checked: {}. Senders that cannot reach it try the next MX host.", who,
                      p.detail));
      continue;
    }
    if (!p.failure) {
      add(Severity::ok, "mx-tls",
          fmt::format("{} offers STARTTLS with TLS 1.2 or later and a trusted certificate valid for {}.", who, host));
      continue;
    }
    switch (*p.failure) {
      case FailureType::starttls_not_supported:
        add(Severity::failure, "starttls-missing",
            fmt::format("{} does not offer STARTTLS ({}). Under the policy senders do not deliver to it without "
                        "TLS (RFC 8461 sec. 4.2). Enable STARTTLS with a certificate for {}.",
                        who, p.detail, host));
        break;
      case FailureType::certificate_host_mismatch:
        add(Severity::failure, "mx-certificate-name",
            fmt::format("The certificate of {} does not name {} ({}). Senders check it against the MX host name "
                        "(RFC 8461 sec. 4.2), so under enforce they do not deliver to it. Put {} in the "
                        "certificate's subjectAltName.",
                        who, host, p.detail, host),
            FailureMode::mx_certificate_mismatch);
        break;
      case FailureType::certificate_expired:
        add(Severity::failure, "mx-certificate-expired",
            fmt::format("The certificate of {} is expired or not yet valid ({}): senders refuse it (RFC 8461 sec. "
                        "4.2). Renew it.",
                        who, p.detail));
        break;
      case FailureType::certificate_not_trusted:
        add(Severity::failure, "mx-certificate-untrusted",
            fmt::format("The certificate of {} does not lead to a trusted certificate authority ({}). MTA-STS "
                        "senders require a publicly trusted (WebPKI) certificate (RFC 8461 sec. 4.2); serve the "
                        "full chain of a public CA.",
                        who, p.detail));
        break;
      default:
        add(Severity::failure, "mx-tls-failure",
            fmt::format("TLS with {} failed ({}): senders under the policy cannot deliver to it (RFC 8461 sec. "
                        "4.2 needs TLS 1.2 or later).",
                        who, p.detail));
        break;
    }
  }
  return out;
}

// ---- DANE ----

std::vector<Finding> judge_dane(const DaneDecision& dane) {
  const auto one = [&](Severity s, std::string code, std::string text) {
    return std::vector<Finding>{finding(CheckArea::dane, s, std::move(code), "", std::move(text))};
  };
  switch (dane.verdict) {
    case DaneVerdict::dane_only:
      return one(Severity::ok, "dane",
                 fmt::format("DANE applies to every MX host ({}): senders that use DANE authenticate them by their "
                             "TLSA records, and MTA-STS does not override that (RFC 8461 sec. 2).",
                             dane.reason));
    case DaneVerdict::dane: {
      std::vector<std::string> without;
      for (const auto& h : dane.hosts)
        if (!h.usable_tlsa) without.push_back(h.host);
      return one(Severity::warning, "dane-partial",
                 fmt::format("Only some MX hosts have usable TLSA records ({}); without: {}. DANE senders fall "
                             "back to unauthenticated TLS for those (RFC 7672 sec. 2.2). Publish TLSA records for "
                             "all MX hosts, or for none.",
                             dane.reason, fmt::join(without, ", ")));
    }
    case DaneVerdict::not_applicable:
      return one(Severity::ok, "dane-not-applicable",
                 fmt::format("DANE does not apply ({}): MTA-STS decides for senders.", dane.reason));
    case DaneVerdict::temp_error:
      break;
  }
  return one(Severity::failure, "dane-unknown",
             fmt::format("The DANE status could not be determined ({}{}{}): senders that use DANE defer mail while "
                         "the DNSSEC answers fail (RFC 7672 sec. 2.1.1).",
                         dane.reason, dane.detail.empty() ? "" : ": ", dane.detail));
}

// ---- _smtp._tls ----

std::vector<Finding> judge_tlsrpt_record(std::string_view domain, const TxtLookup& txt) {
  const std::string name = fmt::format("_smtp._tls.{}", domain);
  std::vector<Finding> out;
  const auto add = [&](Severity s, std::string code, std::string text) {
    out.push_back(finding(CheckArea::tlsrpt_record, s, std::move(code), name, std::move(text)));
  };
  const std::string publish =
      "Publish one record \"v=TLSRPTv1; rua=mailto:<mailbox>\" there to receive daily reports of TLS failures "
      "(RFC 8460 sec. 3).";
  if (txt.status == TxtLookup::Status::dns_error) {
    add(Severity::warning, "tlsrpt-dns-error",
        fmt::format("The TXT lookup of {} failed ({}): senders cannot find where to send TLS reports.", name,
                    txt.detail));
    return out;
  }
  if (txt.status == TxtLookup::Status::absent) {
    add(Severity::warning, "tlsrpt-missing",
        fmt::format("No TXT record at {} ({}): senders send no TLS reports, so you do not learn what fails or "
                    "what enforce would refuse. {}",
                    name, txt.detail, publish));
    return out;
  }
  auto record = select_tlsrpt_record(txt.records);
  if (!record) {
    switch (record.error().error) {
      case TlsRptDiscoveryError::no_record:
        add(Severity::warning, "tlsrpt-missing",
            fmt::format("None of the {} TXT record(s) at {} starts with \"v=TLSRPTv1\": senders send no TLS "
                        "reports. {}",
                        txt.records.size(), name, publish));
        break;
      case TlsRptDiscoveryError::multiple:
        add(Severity::failure, "tlsrpt-multiple",
            fmt::format("{}: senders then treat the domain as not taking reports (RFC 8460 sec. 3) and send none. "
                        "Keep exactly one.",
                        record.error().detail));
        break;
      case TlsRptDiscoveryError::invalid:
        add(Severity::failure, "tlsrpt-invalid",
            fmt::format("The TLSRPT record is unusable: {}. Senders send no reports. {}", record.error().detail,
                        publish));
        break;
    }
    return out;
  }
  std::vector<std::string> uris;
  for (const auto& u : record->rua) uris.push_back(util::printable_excerpt(u.uri));
  add(Severity::ok, "tlsrpt", fmt::format("TLS reports go to {}.", fmt::join(uris, ", ")));
  for (const auto& rejected : record->rejected)
    add(Severity::warning, "tlsrpt-uri-rejected",
        fmt::format("The rua URI {} is unusable ({}): senders skip it.", quoted_excerpt(rejected.uri), rejected.reason));
  return out;
}

}  // namespace mtastsd::core

"""RFC 8461 sec. 3.3: fetching https://mta-sts.<domain>/.well-known/mta-sts.txt. HTTP 200 only,
3xx not followed, Content-Type text/plain (parameters allowed), at most 64 KiB, a WebPKI-valid
certificate for mta-sts.<domain>, and a bounded time (fetch.timeout, here 2 s). Failures are
classified as RFC 8460 sec. 4.3.2.1 result types and shown by `mtastsctl cache show`."""
import time

import pytest

import scenarios as sc

FETCH_TIMEOUT = 2.0


@pytest.fixture(scope="module")
def mtastsd(start_mtastsd):
    # The cold budget exceeds the fetch timeout: each lookup here waits for the outcome.
    return start_mtastsd({"fetch": {"timeout": "2s"}, "lookup": {"cold_budget": "8s"}})


def assert_failure(mtastsd, domain, failure):
    assert mtastsd.lookup(domain) == "NOTFOUND "
    entry = mtastsd.cache_show(domain)
    assert entry is not None, f"{domain} not cached after a failed fetch"
    assert entry["state"] != "policy" and entry["failure"] == failure, entry
    assert entry["failed_id"] == sc.BY_DOMAIN[domain].txt[0].split("id=")[1].rstrip(";"), entry
    assert entry["next_retry"] > entry["failed_at"] > 0, entry
    return entry


def test_redirect_is_not_followed(mtastsd, rig):
    target_requests = rig.web.request_count("valid.example")
    redirects = rig.web.request_count("redirect.example")
    assert_failure(mtastsd, "redirect.example", "sts-policy-fetch-error")
    assert rig.web.request_count("redirect.example") == redirects + 1
    assert rig.web.request_count("valid.example") == target_requests  # the Location was not fetched


def test_chunked_response_is_accepted(mtastsd):
    assert mtastsd.lookup("chunked.example") == sc.secure_answer("chunked.example")


@pytest.mark.parametrize("domain", ["notfound404.example", "huge.example", "no-host.example",
                                    "truncated.example"])
def test_fetch_errors(mtastsd, domain):
    assert_failure(mtastsd, domain, "sts-policy-fetch-error")


def test_wrong_content_type_is_invalid_policy(mtastsd):
    assert_failure(mtastsd, "wrong-ctype.example", "sts-policy-invalid")


def test_content_type_parameters_are_accepted(mtastsd):
    assert mtastsd.lookup("charset.example") == sc.secure_answer("charset.example")


@pytest.mark.parametrize("domain", ["wrong-name.example", "untrusted.example", "expired.example"])
def test_certificate_problems_are_webpki_invalid(mtastsd, domain):
    assert_failure(mtastsd, domain, "sts-webpki-invalid")


@pytest.mark.parametrize("domain", [
    "hang.example",      # request read, never answered
    "trickle.example",   # a body byte every 200 ms: only a whole-fetch deadline ends it
    "tcp-hang.example",  # TCP accepted, TLS handshake never answered
])
def test_stalled_servers_are_bounded_by_the_fetch_timeout(mtastsd, domain):
    start = time.monotonic()
    assert_failure(mtastsd, domain, "sts-policy-fetch-error")
    elapsed = time.monotonic() - start
    assert FETCH_TIMEOUT * 0.9 <= elapsed < FETCH_TIMEOUT + 3, f"took {elapsed:.1f}s"

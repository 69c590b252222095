"""RFC 8461 sec. 3.3 and 5.1: the policy cache. A changed TXT id means a refetch, the same id
none; a failed refresh keeps a still-valid policy (downgrade protection) and is not retried
before fetch_retry_after; a vanished TXT record keeps the cached policy; the cache survives a
crash; concurrent cold lookups share one fetch; "no policy" is cached for the TXT answer's
negative TTL clamped to [negative_ttl_min, negative_ttl_max]; a cold lookup waits at most
cold_budget while resolution goes on in the background."""
import threading
import time

import pytest

import scenarios as sc
from rig.procs import wait_for_wall_clock_after

NEGATIVE_MIN, NEGATIVE_MAX = 120, 600


@pytest.fixture(scope="module")
def mtastsd(start_mtastsd):
    return start_mtastsd({"cache": {"id_check_interval": "1s", "fetch_retry_after": "5m",
                                    "negative_ttl_min": "2m", "negative_ttl_max": "10m"}})


def wait_for_id_check_after(mtastsd, domain, after: int) -> dict:
    """Until the cache shows a TXT check of domain completed after unix second `after`."""
    return mtastsd.wait_for_entry(domain, lambda e: e["last_id_check"] > after, lookup_first=True,
                                  what=f"a TXT check of {domain} after {after}")


def test_id_change_triggers_refetch(mtastsd, rig):
    domain = "idchange.example"
    before = rig.web.request_count(domain)
    assert mtastsd.lookup(domain) == sc.secure_answer(domain)
    new_policy = sc.policy("enforce", ("new.idchange.example",))
    rig.web.set_policy(domain, new_policy)
    rig.dns.set_txt(f"_mta-sts.{domain}", ["v=STSv1; id=new2;"])
    mtastsd.wait_for_answer(domain, "OK secure match=new.idchange.example servername=hostname")
    entry = mtastsd.cache_show(domain)
    assert (entry["policy_id"], entry["policy_text"], entry["mx"]) == ("new2", new_policy, ["new.idchange.example"])
    assert rig.web.request_count(domain) == before + 2


def test_same_id_does_not_refetch(mtastsd, rig):
    domain = "sameid.example"
    before = rig.web.request_count(domain)
    assert mtastsd.lookup(domain) == sc.secure_answer(domain)
    first = mtastsd.cache_show(domain)
    entry = wait_for_id_check_after(mtastsd, domain, first["last_id_check"])
    entry = wait_for_id_check_after(mtastsd, domain, entry["last_id_check"])  # two checks, both same id
    assert entry["last_txt_id"] == "same1"
    assert (entry["policy_id"], entry["fetched_at"]) == ("same1", first["fetched_at"])
    assert rig.web.request_count(domain) == before + 1


def test_failed_refetch_keeps_cached_policy(mtastsd, rig):
    """Downgrade protection: a new id whose policy cannot be fetched leaves the old policy in force."""
    domain = "downgrade.example"
    before = rig.web.request_count(domain)
    assert mtastsd.lookup(domain) == sc.secure_answer(domain)
    rig.web.set_policy(domain, None)  # 404 from now on
    rig.dns.set_txt(f"_mta-sts.{domain}", ["v=STSv1; id=dg2;"])
    entry = mtastsd.wait_for_entry(domain, lambda e: e["failed_id"] == "dg2", lookup_first=True,
                                   what="the failed fetch of id dg2")
    assert entry["failure"] == "sts-policy-fetch-error"
    assert entry["next_retry"] >= entry["failed_at"] + 300 - 1, entry  # fetch_retry_after = 5m
    assert (entry["state"], entry["policy_id"]) == ("policy", "dg1"), entry
    assert mtastsd.lookup(domain) == sc.secure_answer(domain)
    # Further id checks see dg2 again, but its retry is not due: no new fetch.
    requests = rig.web.request_count(domain)
    assert requests == before + 2
    wait_for_id_check_after(mtastsd, domain, entry["last_id_check"])
    assert mtastsd.lookup(domain) == sc.secure_answer(domain)
    assert rig.web.request_count(domain) == requests


def test_vanished_txt_record_keeps_cached_policy(mtastsd, rig):
    domain = "vanish.example"
    assert mtastsd.lookup(domain) == sc.secure_answer(domain)
    first = mtastsd.cache_show(domain)
    rig.dns.set_records(f"_mta-sts.{domain}", "TXT", [])
    entry = mtastsd.wait_for_entry(domain, lambda e: e["last_txt_id"] == "" and
                                   e["last_id_check"] > first["last_id_check"], lookup_first=True,
                                   what="the TXT record gone")
    assert (entry["state"], entry["policy_id"]) == ("policy", "van1"), entry
    assert mtastsd.lookup(domain) == sc.secure_answer(domain)


def test_cache_survives_a_crash(start_mtastsd, rig):
    domain = "persist.example"
    before = rig.web.request_count(domain)
    instance = start_mtastsd(name="persist")
    assert instance.lookup(domain) == sc.secure_answer(domain)
    instance.kill9()
    rig.web.set_policy(domain, None)  # only the cache can answer now
    instance.start()
    assert instance.lookup(domain) == sc.secure_answer(domain)
    assert instance.cache_show(domain)["policy_id"] == "per1"
    assert rig.web.request_count(domain) == before + 1


def test_concurrent_cold_lookups_share_one_fetch(mtastsd, rig):
    domain = "singleflight.example"  # the server takes 1.5 s to answer
    clients = 50
    before = rig.web.request_count(domain)
    barrier = threading.Barrier(clients)
    answers = [None] * clients

    def client(i):
        barrier.wait()
        answers[i] = mtastsd.lookup(domain)
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert answers == [sc.secure_answer(domain)] * clients
    assert rig.web.request_count(domain) == before + 1


@pytest.mark.parametrize("domain,expected_ttl", [
    ("no-record.example", NEGATIVE_MIN),   # NXDOMAIN, negative TTL 1 s: raised to the minimum
    ("nodata.example", NEGATIVE_MIN),      # NODATA
    ("x.midneg.example", 300),             # 300 s: within the bounds
    ("x.longneg.example", NEGATIVE_MAX),   # 86400 s: lowered to the maximum
])
def test_no_policy_is_cached_for_the_clamped_negative_ttl(mtastsd, rig, domain, expected_ttl):
    rig.dns.flush_resolver()  # unbound must hand out the full TTL, not what is left of it
    assert mtastsd.lookup(domain) == "NOTFOUND "
    entry = mtastsd.cache_show(domain)
    assert entry["state"] == "negative", entry
    assert abs(entry["negative_until"] - entry["last_id_check"] - expected_ttl) <= 1, entry


def test_negative_entry_is_not_queried_again(mtastsd, rig):
    domain = "no-record.example"
    mtastsd.lookup(domain)
    first = mtastsd.cache_show(domain)
    queries = rig.dns.unbound_query_count(f"_mta-sts.{domain}", "TXT")
    assert queries >= 1
    # Past the record's 1 s TTL nothing but mtastsd's own negative cache can stop a new query.
    wait_for_wall_clock_after(first["last_id_check"] + 2)
    assert mtastsd.lookup(domain) == "NOTFOUND "
    again = mtastsd.cache_show(domain)
    assert (again["last_id_check"], again["negative_until"]) == (first["last_id_check"], first["negative_until"])
    assert rig.dns.unbound_query_count(f"_mta-sts.{domain}", "TXT") == queries


def test_cold_lookup_is_bounded_by_cold_budget(start_mtastsd, rig):
    domain = "coldbudget.example"  # the server takes 3 s to answer
    before = rig.web.request_count(domain)
    instance = start_mtastsd({"lookup": {"cold_budget": "1s"}}, name="coldbudget")
    start = time.monotonic()
    assert instance.lookup(domain) == "NOTFOUND "
    elapsed = time.monotonic() - start
    assert elapsed < 2.0, f"cold lookup took {elapsed:.1f}s"
    # Resolution went on in the background and filled the cache.
    instance.wait_for_answer(domain, sc.secure_answer(domain), timeout=10)
    assert rig.web.request_count(domain) == before + 1

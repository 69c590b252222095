"""RFC 8461 sec. 3.1: the _mta-sts TXT record. Exactly one record starting "v=STSv1" must be
left after discarding others; its id must be 1-32 letters/digits; the character-strings of one
record are concatenated; a CNAME is followed. No usable record: no policy, and no fetch."""
import pytest

import scenarios as sc


@pytest.fixture(scope="module")
def mtastsd(start_mtastsd):
    return start_mtastsd()


def test_valid_record_gives_enforced_policy(mtastsd):
    assert mtastsd.lookup("valid.example") == sc.secure_answer("valid.example")
    assert mtastsd.cache_show("valid.example")["policy_id"] == "valid1"


@pytest.mark.parametrize("domain", ["split.example", "cname.example", "other-txt.example"])
def test_record_forms_that_are_accepted(mtastsd, domain):
    assert mtastsd.lookup(domain) == sc.secure_answer(domain)


@pytest.mark.parametrize("domain,policy_id", [
    ("split.example", "split1"),        # "v=STSv1; " "id=split1;" read as one string
    ("cname.example", "cname1"),        # the record at the CNAME target
    ("other-txt.example", "other1"),    # SPF, "v=STSv10", verification records ignored
])
def test_policy_id_is_taken_from_the_right_record(mtastsd, domain, policy_id):
    mtastsd.lookup(domain)
    entry = mtastsd.cache_show(domain)
    assert (entry["state"], entry["policy_id"]) == ("policy", policy_id)


@pytest.mark.parametrize("domain", ["two-records.example", "bad-id.example", "long-id.example"])
def test_unusable_record_means_no_policy_and_no_fetch(mtastsd, rig, domain):
    before = rig.web.request_count(domain)
    assert mtastsd.lookup(domain) == "NOTFOUND "
    entry = mtastsd.cache_show(domain)
    assert entry is None or entry["state"] != "policy", entry
    assert rig.web.request_count(domain) == before  # a policy is served, but must not be asked for

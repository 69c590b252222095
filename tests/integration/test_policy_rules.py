"""RFC 8461 sec. 3.2: the policy body. key: value lines ending in LF or CRLF; the first of a
repeated key wins (except mx); unknown keys are ignored; mx is required unless mode is none;
max_age at most 31557600; "*." only as a whole left-most label; version STSv1. An invalid body
is no policy (failure sts-policy-invalid, RFC 8460 sec. 4.3.2.1). Modes: enforce -> secure,
testing -> NOTFOUND unless the profile says testing = "enforce", none -> NOTFOUND."""
import pytest

import scenarios as sc


@pytest.fixture(scope="module")
def mtastsd(start_mtastsd):
    return start_mtastsd()


def test_enforce_policy_answer_turns_wildcard_into_dot_prefix(mtastsd):
    assert mtastsd.lookup("valid.example") == \
        "OK secure match=mail.valid.example:.mx.valid.example servername=hostname"


@pytest.mark.parametrize("domain", ["crlf.example", "dupkey.example", "unknown-keys.example",
                                    "max-age-limit.example"])
def test_acceptable_bodies(mtastsd, domain):
    assert mtastsd.lookup(domain) == sc.secure_answer(domain)


def test_crlf_body_is_parsed_without_carriage_returns(mtastsd):
    mtastsd.lookup("crlf.example")
    entry = mtastsd.cache_show("crlf.example")
    assert entry["mx"] == ["mail.crlf.example", "*.mx.crlf.example"]
    assert (entry["mode"], entry["max_age"]) == ("enforce", 86400)


def test_first_of_repeated_keys_wins(mtastsd):
    mtastsd.lookup("dupkey.example")
    entry = mtastsd.cache_show("dupkey.example")
    assert (entry["mode"], entry["max_age"]) == ("enforce", 86400)  # not "testing", not 1


def test_max_age_at_limit_is_kept(mtastsd):
    mtastsd.lookup("max-age-limit.example")
    assert mtastsd.cache_show("max-age-limit.example")["max_age"] == 31557600


@pytest.mark.parametrize("domain", ["enforce-no-mx.example", "max-age-big.example", "bad-wildcard.example",
                                    "bad-version.example"])
def test_invalid_bodies_give_no_policy(mtastsd, domain):
    assert mtastsd.lookup(domain) == "NOTFOUND "
    entry = mtastsd.cache_show(domain)
    assert entry is not None and entry["state"] != "policy", entry
    assert entry["failure"] == "sts-policy-invalid", entry


def test_testing_mode_is_notfound_in_default_profile(mtastsd):
    assert mtastsd.lookup("testing.example") == "NOTFOUND "
    assert mtastsd.cache_show("testing.example")["mode"] == "testing"  # cached all the same


def test_testing_mode_is_enforced_in_a_profile_that_asks_for_it(mtastsd):
    assert mtastsd.lookup("testing.example", name="testing-enforced") == sc.secure_answer("testing.example")


def test_mode_none_is_notfound(mtastsd):
    assert mtastsd.lookup("none.example") == "NOTFOUND "
    assert mtastsd.lookup("none.example", name="testing-enforced") == "NOTFOUND "
    entry = mtastsd.cache_show("none.example")
    assert (entry["state"], entry["mode"]) == ("policy", "none")

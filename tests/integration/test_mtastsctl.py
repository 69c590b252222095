"""mtastsctl against the LMDB cache of a running daemon: cache list/show/purge, and query, the
live resolution that shows its steps and why a policy was rejected."""
import json
import time

import pytest

import scenarios as sc


@pytest.fixture(scope="module")
def mtastsd(start_mtastsd):
    instance = start_mtastsd()
    for domain in ("ctl-a.example", "ctl-b.example"):
        assert instance.lookup(domain) == sc.secure_answer(domain)
    return instance


def test_cache_show_json(mtastsd):
    now = int(time.time())
    entry = mtastsd.cache_show("ctl-a.example")
    assert entry["domain"] == "ctl-a.example" and entry["state"] == "policy"
    assert (entry["policy_id"], entry["mode"], entry["max_age"]) == ("ctla1", "enforce", 86400)
    assert entry["mx"] == ["mail.ctl-a.example", "*.mx.ctl-a.example"]
    assert entry["policy_text"] == sc.enforce("ctl-a.example")
    assert now - 120 <= entry["fetched_at"] <= now + 1
    assert entry["valid_until"] == entry["fetched_at"] + 86400
    assert entry["failure"] is None and entry["consecutive_failures"] == 0


def test_cache_show_text(mtastsd):
    result = mtastsd.ctl("cache", "show", "ctl-a.example")
    assert result.returncode == 0, result.stderr
    assert "ctla1" in result.stdout and "mail.ctl-a.example" in result.stdout


def test_cache_show_of_unknown_domain_fails(mtastsd):
    result = mtastsd.ctl("cache", "show", "never-looked-up.example", "--json")
    assert result.returncode == 1 and result.stderr.strip()


def test_cache_list(mtastsd):
    domains = {e["domain"]: e for e in mtastsd.ctl_json("cache", "list")}
    assert {"ctl-a.example", "ctl-b.example"} <= set(domains)
    assert domains["ctl-b.example"]["policy_id"] == "ctlb1"


def test_purge_one_domain_while_daemon_runs(mtastsd, rig):
    mtastsd.lookup("ctl-a.example")
    before = rig.web.request_count("ctl-a.example")
    result = mtastsd.ctl("cache", "purge", "ctl-a.example")
    assert result.returncode == 0, result.stderr
    assert mtastsd.cache_show("ctl-a.example") is None
    assert "ctl-b.example" in {e["domain"] for e in mtastsd.ctl_json("cache", "list")}
    # The daemon sees the purge: it must fetch again.
    assert mtastsd.lookup("ctl-a.example") == sc.secure_answer("ctl-a.example")
    assert rig.web.request_count("ctl-a.example") == before + 1
    assert mtastsd.cache_show("ctl-a.example")["policy_id"] == "ctla1"


def test_query_shows_steps_of_a_usable_policy(mtastsd):
    report = mtastsd.ctl_json("query", "valid.example", expect_rc=0)
    assert report["domain"] == "valid.example"
    assert (report["txt"]["status"], report["txt"]["id"]) == ("found", "valid1")
    assert report["fetch"]["ok"] is True and report["fetch"]["failure"] is None
    assert report["policy"]["mode"] == "enforce"
    assert report["answer"] == sc.secure_answer("valid.example")
    assert isinstance(report["steps"], list) and len(report["steps"]) >= 2


def test_query_shows_why_a_policy_is_rejected(mtastsd):
    report = mtastsd.ctl_json("query", "ctl-invalid.example", expect_rc=1)
    assert report["policy"] is None and report["answer"] == "NOTFOUND "
    assert report["txt"]["status"] == "found"
    text = json.dumps(report)
    assert "sts-policy-invalid" in text
    assert "mx" in (report["fetch"]["detail"] or "") + " ".join(map(str, report["steps"])), report
    plain = mtastsd.ctl("query", "ctl-invalid.example")
    assert plain.returncode == 1 and "mx" in plain.stdout + plain.stderr


def test_query_does_not_touch_the_cache(mtastsd):
    mtastsd.ctl_json("query", "valid.example", expect_rc=0)
    mtastsd.ctl_json("query", "ctl-invalid.example", expect_rc=1)
    # Neither was ever looked up through the socketmap in this daemon's life.
    assert mtastsd.cache_show("valid.example") is None
    assert mtastsd.cache_show("ctl-invalid.example") is None


def test_purge_all(mtastsd):
    result = mtastsd.ctl("cache", "purge", "--all")
    assert result.returncode == 0, result.stderr
    assert mtastsd.ctl_json("cache", "list") == []
    assert mtastsd.lookup("ctl-b.example") == sc.secure_answer("ctl-b.example")  # daemon unharmed

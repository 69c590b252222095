"""mtastsctl check DOMAIN against the chk-* scenario domains: each seeded fault is found, is
named (with the guide's failure mode where it is one of them) and is the only problem reported;
the domain set up as the guide says reports none and exits 0; warnings alone exit 1, failures
2. The MX probes talk to the receivers (rig/receivers.py) and never send mail."""
import json

import pytest

import scenarios as sc
from rig.receivers import Receivers

PROBLEMS = ("warning", "failure")
HELO = "checker.mtastsd-tests.example"


@pytest.fixture(scope="module")
def receivers(rig, tmp_path_factory):
    r = Receivers(tmp_path_factory.mktemp("check") / "receivers", rig).start()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def mtastsd(start_mtastsd, receivers):
    return start_mtastsd()


def check(mtastsd, domain: str, expect_rc: int) -> dict:
    result = mtastsd.ctl("check", domain, "--json", "--helo", HELO, timeout=120)
    assert result.returncode == expect_rc, (f"check {domain}: exit {result.returncode}, expected {expect_rc}\n"
                                            f"stdout: {result.stdout}\nstderr: {result.stderr}")
    return json.loads(result.stdout)


def problems(report: dict) -> list[dict]:
    return [f for f in report["findings"] if f["severity"] in PROBLEMS]


def by_code(report: dict, code: str) -> list[dict]:
    return [f for f in report["findings"] if f["code"] == code]


def test_correct_domain_reports_no_problem(mtastsd, receivers):
    domain = "chk-good.example"
    assert mtastsd.lookup(domain) == sc.secure_answer(domain)  # cached: the id comparison runs
    receivers.mark()
    report = check(mtastsd, domain, 0)
    assert problems(report) == [], json.dumps(report, indent=2)
    assert report["result"] == "ok" and report["counts"]["failure"] == report["counts"]["warning"] == 0
    codes = {f["code"] for f in report["findings"]}
    assert {"sts-record", "certificate", "policy-fetch", "mode", "cache-same", "mx", "mx-pattern", "mx-tls",
            "dane-not-applicable", "tlsrpt"} <= codes, codes
    (probe,) = by_code(report, "mx-tls")
    assert probe["subject"] == f"mail.{domain} [{sc.SMTP_RECEIVERS['good']}]"
    assert report["policy"]["mode"] == "enforce" and report["policy"]["text"] == sc.enforce(domain)
    # The probe completed a handshake with SNI = the MX host and sent no mail.
    handshakes = receivers.handshakes("good")
    assert [h["sni"] for h in handshakes] == [f"mail.{domain}"], receivers.records("good")
    assert not [r for r in receivers.records("good") if r["event"] == "message"]


def test_correct_domain_text_output(mtastsd):
    result = mtastsd.ctl("check", "chk-good.example", "--helo", HELO, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "_mta-sts.chk-good.example" in result.stdout and "Result: no problems found." in result.stdout
    assert "FAILURE" not in result.stdout and "WARNING" not in result.stdout


# (domain, code, the guide's failure mode or None, area). Every one is a failure: exit 2.
SEEDED_FAULTS = [
    ("chk-ctype.example", "content-type", "wrong-content-type", "policy-fetch"),
    ("chk-redirect.example", "redirect", "policy-redirect", "policy-fetch"),
    ("chk-cert-name.example", "certificate-name", "certificate-not-covering-mta-sts-host", "policy-fetch"),
    ("chk-mx-name.example", "mx-certificate-name", "mx-certificate-name-mismatch", "mx-tls"),
    ("chk-no-starttls.example", "starttls-missing", None, "mx-tls"),
    ("chk-bad-txt.example", "sts-record-invalid", None, "sts-record"),
    ("chk-bad-tlsrpt.example", "tlsrpt-invalid", None, "tlsrpt-record"),
]


@pytest.mark.parametrize("domain,code,failure_mode,area", SEEDED_FAULTS, ids=[f[0] for f in SEEDED_FAULTS])
def test_seeded_fault_is_found_and_named(mtastsd, domain, code, failure_mode, area):
    report = check(mtastsd, domain, 2)
    assert report["result"] == "failures"
    (problem,) = problems(report)  # the seeded fault and nothing else
    assert (problem["code"], problem["failure_mode"], problem["area"], problem["severity"]) == \
        (code, failure_mode, area, "failure"), problem
    assert problem["text"]


def test_fault_details_name_what_was_seen(mtastsd):
    (ctype,) = by_code(check(mtastsd, "chk-ctype.example", 2), "content-type")
    assert "application/octet-stream" in ctype["text"] and "text/plain" in ctype["text"]
    assert ctype["failure_mode_title"] == "Policy file returns wrong content type"
    (redirect,) = by_code(check(mtastsd, "chk-redirect.example", 2), "redirect")
    assert "301" in redirect["text"] and "https://mta-sts.valid.example/.well-known/mta-sts.txt" in redirect["text"]
    (name,) = by_code(check(mtastsd, "chk-cert-name.example", 2), "certificate-name")
    assert "mta-sts.someone-else.example" in name["text"] and "mta-sts.chk-cert-name.example" in name["text"]
    (mx_name,) = by_code(check(mtastsd, "chk-mx-name.example", 2), "mx-certificate-name")
    assert mx_name["subject"] == f"mail.chk-mx-name.example [{sc.SMTP_RECEIVERS['wrong-name']}]"


def test_fault_text_output_names_the_failure_mode(mtastsd):
    result = mtastsd.ctl("check", "chk-redirect.example", "--helo", HELO, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "FAILURE  [HTTP redirect on the policy URL]" in result.stdout
    assert "Result: 1 failure(s), 0 warning(s)." in result.stdout


def test_policy_changed_without_new_id(mtastsd, rig):
    domain = "chk-stale-id.example"
    assert mtastsd.lookup(domain) == sc.secure_answer(domain)
    assert problems(check(mtastsd, domain, 0)) == []
    rig.web.set_policy(domain, sc.policy("enforce", (f"mail.{domain}", f"*.mail.{domain}")))  # id stays
    report = check(mtastsd, domain, 2)
    (problem,) = problems(report)
    assert (problem["code"], problem["failure_mode"], problem["area"]) == \
        ("id-not-updated", "id-not-updated", "cache"), problem
    assert "chkstale1" in problem["text"] and f"*.mail.{domain}" in problem["text"]


def test_warnings_alone_exit_1(mtastsd):
    report = check(mtastsd, "chk-no-tlsrpt.example", 1)
    assert report["result"] == "warnings"
    (problem,) = problems(report)
    assert (problem["code"], problem["severity"]) == ("tlsrpt-missing", "warning")


def test_domain_without_mta_sts(mtastsd):
    report = check(mtastsd, "no-record.example", 2)
    assert [f["code"] for f in problems(report)][0] == "sts-record-missing"
    assert report["policy"] is None


def test_not_a_domain_is_unknown(mtastsd):
    result = mtastsd.ctl("check", "[192.0.2.1]", "--json")
    assert result.returncode == 3 and "not a domain name" in result.stderr and not result.stdout

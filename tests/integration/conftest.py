"""Session set-up of the integration rig.

Isolation: the tests must run in a network namespace of their own. tests/integration/run
creates one (`ip netns add mtastsd-it-<pid>`) and runs pytest inside it; when pytest is started
some other way (e.g. directly by ctest) and sees any interface besides lo, this file
moves the pytest process into a fresh anonymous one (unshare(CLONE_NEWNET)), which the kernel
deletes by itself when the last process in it exits. Either way only lo exists: nothing leaves.

Processes: this process becomes a child subreaper; every server is a direct child stopped by
PID; at the end anything still parented to us (orphaned grandchildren) is ended by PID.

The Postfix 3.10 stage (issue #3) needs the Debian 13 root (rig/trixie.py): fixture
`trixie_root`, which skips loudly, printing "SKIPPED Postfix 3.10 stage: <reason>" past pytest's
capture once per session, when this machine cannot have it."""
from __future__ import annotations

import ctypes
import os
import resource
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from rig import procs, trixie  # noqa: E402
from rig.mtastsd import Mtastsd  # noqa: E402
from rig.world import Rig  # noqa: E402

CLONE_NEWNET = 0x40000000


def _interfaces() -> list[str]:
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    return [line.split(":")[1].strip().split("@")[0] for line in links.splitlines()]


def _isolate() -> None:
    """Make sure this process is in a network namespace with nothing but lo in it."""
    if _interfaces() != ["lo"]:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET): integration tests need root")
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    if _interfaces() != ["lo"]:
        raise RuntimeError(f"network namespace has interfaces besides lo: {_interfaces()}")


def _terminate_on_sigterm(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")  # run fixture teardown, as for Ctrl-C


_isolate()
procs.become_subreaper()
signal.signal(signal.SIGTERM, _terminate_on_sigterm)
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))  # many-connection tests

# A sanitized build (-DMTASTSD_SANITIZE, issue 8): every program of ours started from here
# writes its sanitizer reports to files in one directory, where none can be lost (a leak report
# at exit, a tool whose stderr a test discards). A test after which a report appears fails with
# it; one that appears later (a module's daemon shutting down) fails the session. The fake
# clock (rig/fake_clock.py) is an LD_PRELOAD library, which ASan tolerates only when told.
SANITIZER_REPORTS = Path(tempfile.mkdtemp(prefix="mtastsd-sanitizer-"))
for _variable, _extra in (("ASAN_OPTIONS", "verify_asan_link_order=0"), ("UBSAN_OPTIONS", "print_stacktrace=1"),
                          ("TSAN_OPTIONS", "")):
    _options = [os.environ.get(_variable, ""), _extra, f"log_path={SANITIZER_REPORTS}/report"]
    os.environ[_variable] = ":".join(option for option in _options if option)


def _sanitizer_report_text(paths) -> str:
    return "\n".join(f"--- {path.name}\n{path.read_text(errors='replace')[-6000:]}" for path in paths)


def pytest_collection_modifyitems(session, config, items):
    """The rig checks itself first: if it is broken, mtastsd failures mean nothing."""
    items.sort(key=lambda item: 0 if item.module.__name__ == "test_rig" else 1)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, show the end of every running mtastsd's log beside the report."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for instance in Mtastsd.running:
            tail = "\n".join(instance.log().splitlines()[-60:])
            report.sections.append((f"mtastsd log ({instance.dir.name})", tail))


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    leftovers = procs.terminate_leftover_children()
    if leftovers:
        print(f"\nintegration: ended leftover processes {leftovers}", file=sys.stderr)
    reports = sorted(SANITIZER_REPORTS.iterdir())
    if reports:
        print(f"\nintegration: sanitizer reports in {SANITIZER_REPORTS}:\n{_sanitizer_report_text(reports)}",
              file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    else:
        SANITIZER_REPORTS.rmdir()


@pytest.fixture(autouse=True)
def no_sanitizer_report():
    """Fails the test after which a sanitizer report appeared (see SANITIZER_REPORTS)."""
    before = set(SANITIZER_REPORTS.iterdir())
    yield
    new = sorted(set(SANITIZER_REPORTS.iterdir()) - before)
    if new:
        pytest.fail(f"sanitizer report(s) during this test:\n{_sanitizer_report_text(new)}", pytrace=False)


@pytest.fixture(scope="session")
def rig(tmp_path_factory):
    world = Rig(tmp_path_factory.mktemp("rig"))
    world.start()
    yield world
    world.stop()


@pytest.fixture(scope="module")
def start_mtastsd(rig, tmp_path_factory):
    """Factory: start_mtastsd(overrides) -> a running Mtastsd, stopped at the end of the module.
    env: extra environment for it and its mtastsctl calls; wrapper: a command it runs under
    (rig/mtastsd.Mtastsd)."""
    started = []

    def start(overrides=None, name="mtastsd", tcp=None, env=None, wrapper=()):
        instance = Mtastsd(rig, tmp_path_factory.mktemp(name), overrides, tcp, env, wrapper)
        Mtastsd.running.append(instance)
        started.append(instance)
        return instance.start()

    yield start
    for instance in started:
        status = instance.stop()
        Mtastsd.running.remove(instance)
        # A clean shutdown on SIGTERM is part of the contract; a crash must not go unnoticed.
        assert status in (0, None, -9), f"mtastsd exited with {status} on SIGTERM; log:\n{instance.log()[-3000:]}"


@pytest.fixture(scope="session")
def trixie_root(request) -> Path:
    """The built Debian 13 root with Postfix 3.10. Where this machine cannot have it, every test
    using it is skipped with the reason (a session fixture's skip is raised again for each test
    without this code running twice, so the message is printed once)."""
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():  # the first build's progress, the skip reason
        ok, reason = trixie.availability()
        try:
            found = trixie.ensure_trixie_root() if ok else reason
        except trixie.TrixieUnavailable as e:
            found = str(e)
        if isinstance(found, str):
            print(f"\nSKIPPED Postfix 3.10 stage: {found}", file=sys.stderr)
    if isinstance(found, str):
        pytest.skip(f"Postfix 3.10 stage: {found}")
    return found

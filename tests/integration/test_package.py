"""Issue 6's installation: the .deb that scripts/package builds (CPack) on a fresh Debian 12.

A copy of the cached bookworm root (rig/bookworm.py: minbase, Postfix 3.7 and the .deb's runtime
dependencies, nothing of mtastsd) gets the .deb with `dpkg -i`; its service then runs from the
unit the package installed, under rig/supervisor.py, which does what systemd does for it (user,
groups, runtime and state directories, Type=notify, watchdog, reload, stop). The steps build on
each other, in file order, as on a machine:

  install: files where Debian keeps them, the configuration a conffile, the unit enabled but not
    started (no systemd running), the system user made and put into group postfix;
  the unit: Debian 12's `systemd-analyze verify` accepts it (the sandbox directives included);
  start: READY=1 from the main process, running as user mtastsd with group postfix, its socket
    mtastsd:postfix 0660; Postfix's postmap, as user postfix, gets a policy answer through it (the
    rig's DNS and HTTPS, named in the installed configuration as an admin would), another user is
    refused; `mtastsctl status` and `cache show` see it; GET /metrics shows mtastsd_build_info;
  reload: ExecReload gives RELOADING=1 then READY=1, the same process answers; a configuration
    broken on purpose is logged with its file and line, and the daemon keeps running and answering;
  stop: STOPPING=1 and exit status 0 within TimeoutStopSec; a start with a shorter WatchdogSec
    (a drop-in, as `systemctl edit` makes) gets WATCHDOG=1 pings in time, the cache kept;
  remove and purge: the configuration and cache survive remove, purge takes them, the unit's
    enablement and the runtime directory; only the system user stays (Debian's practice).

Where the .deb or the root are missing the module is skipped, saying so on stderr
("SKIPPED package test: ..."); scripts/test builds both before the tests."""
from __future__ import annotations

import gzip
import http.client
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import scenarios as sc
from rig import bookworm, debian_root
from rig.mtastsd import REPO, binary
from rig.procs import wait_until
from rig.supervisor import Supervisor, account, group_id, run_in_root

UNIT = "mtastsd.service"
CONF = "/etc/mtastsd/mtastsd.conf"
SOCKET = "/run/mtastsd/socketmap.sock"
METRICS = ("127.0.0.1", 9461)  # the installed configuration's [metrics] listen, set by the test
DOMAIN = "valid.example"  # an enforce policy in the rig (scenarios.py)
POSTMAP_ANSWER = sc.secure_answer(DOMAIN).removeprefix("OK ")  # postmap prints the value alone
TEST_FILES = "/usr/local/share/mtastsd-test"  # the rig's trust anchor and CA, outside the package
INSTALLED_FILES = ("/usr/sbin/mtastsd", "/usr/sbin/mtastsctl", "/lib/systemd/system/mtastsd.service",
                   "/usr/lib/tmpfiles.d/mtastsd.conf", "/usr/lib/sysusers.d/mtastsd.conf", CONF,
                   "/usr/share/man/man8/mtastsd.8.gz", "/usr/share/man/man8/mtastsctl.8.gz",
                   "/usr/share/man/man5/mtastsd.conf.5.gz", "/usr/share/doc/mtastsd/examples/mtastsd.conf.example")
ENABLED_LINK = "/etc/systemd/system/multi-user.target.wants/mtastsd.service"


def _skip_loudly(request, reason: str):
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(f"\nSKIPPED package test: {reason}", file=sys.stderr)
    pytest.skip(f"package test: {reason}")


@pytest.fixture(scope="module")
def deb(request) -> Path:
    path = bookworm.package_path()
    if path is None or not path.is_file():
        _skip_loudly(request, f"no .deb ({path or 'build-pkg/ has none'}): build it with scripts/package "
                              f"or set {bookworm.DEB_ENV}")
    return path


@pytest.fixture(scope="module")
def root(request, deb, tmp_path_factory):
    """A private copy of the bookworm root: the package test writes into it."""
    ok, reason = bookworm.availability(deb)
    try:
        cached = bookworm.ensure_bookworm_root(deb) if ok else None
    except debian_root.RootUnavailable as e:
        cached, reason = None, str(e)
    if cached is None:
        _skip_loudly(request, reason)
    copy = debian_root.copy_root(cached, tmp_path_factory.mktemp("package") / "root")
    yield copy
    debian_root.remove_tree(copy)  # ~250 MB; the service's journal.log is kept elsewhere


def in_root(root: Path, *argv: str, user: str | None = None, check: bool = True):
    result = run_in_root(root, argv, user=user)
    if check:
        assert result.returncode == 0, f"{' '.join(argv)}: exit {result.returncode}\n{result.stdout}{result.stderr}"
    return result


def file_in(root: Path, path: str) -> Path:
    return root / path.lstrip("/")


def set_key(text: str, table: str, key: str, value: str) -> str:
    """The configuration with `key = value` in [table] ("" = top level) replacing the key's line."""
    lines = text.splitlines()
    start = 0 if not table else lines.index(f"[{table}]") + 1
    for i in range(start, len(lines)):
        if lines[i].startswith("["):
            break
        if re.match(rf"{re.escape(key)}\s*=", lines[i]):
            lines[i] = f"{key} = {value}"
            return "\n".join(lines) + "\n"
    raise KeyError(f"{table}.{key} is not in the configuration")


def postmap(root: Path, key: str, user: str = "postfix"):
    return in_root(root, "postmap", "-q", key, f"socketmap:unix:{SOCKET}:default", user=user, check=False)


# ---- cmake --install ---------------------------------------------------------------------------------

def test_cmake_install_puts_everything_under_the_prefix(tmp_path):
    """`cmake --install` of the build under test (MTASTSD_BIN's; default prefix /usr/local) into a
    DESTDIR: the unit names the binary and configuration of that prefix, systemd's directories
    under it are ones systemd searches; an installed configuration is kept on a second install."""
    build = Path(binary("MTASTSD_BIN", "mtastsd")).parent
    prefix = re.search(r"^CMAKE_INSTALL_PREFIX:PATH=(.*)$", (build / "CMakeCache.txt").read_text(), re.M).group(1)
    etc = "/etc" if prefix == "/usr" else f"{prefix}/etc"
    units = "/lib/systemd/system" if prefix == "/usr" else f"{prefix}/lib/systemd/system"

    def install() -> str:
        result = subprocess.run(["cmake", "--install", str(build)], capture_output=True, text=True, timeout=300,
                                env={**os.environ, "DESTDIR": str(tmp_path)})
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    install()
    for path in (f"{prefix}/sbin/mtastsd", f"{prefix}/sbin/mtastsctl", f"{units}/mtastsd.service",
                 f"{prefix}/lib/tmpfiles.d/mtastsd.conf", f"{prefix}/lib/sysusers.d/mtastsd.conf",
                 f"{etc}/mtastsd/mtastsd.conf", f"{prefix}/share/man/man8/mtastsd.8.gz",
                 f"{prefix}/share/man/man8/mtastsctl.8.gz", f"{prefix}/share/man/man5/mtastsd.conf.5.gz"):
        assert file_in(tmp_path, path).is_file(), path
    unit = file_in(tmp_path, f"{units}/mtastsd.service").read_text()
    assert f"\nExecStart={prefix}/sbin/mtastsd -c {etc}/mtastsd/mtastsd.conf\n" in unit
    assert gzip.decompress(file_in(tmp_path, f"{prefix}/share/man/man8/mtastsd.8.gz").read_bytes()) == \
        (REPO / "man/mtastsd.8").read_bytes()
    conf = file_in(tmp_path, f"{etc}/mtastsd/mtastsd.conf")
    conf.write_text("# edited by the admin\n")
    assert f"Keeping: {conf}" in install()
    assert conf.read_text() == "# edited by the admin\n"


# ---- install -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def installed(root, deb) -> Path:
    shutil.copy(deb, file_in(root, "/root") / deb.name)
    result = in_root(root, "dpkg", "-i", f"/root/{deb.name}")
    assert "warning" not in (result.stdout + result.stderr).lower(), result.stdout + result.stderr
    return root


def test_install_puts_files_where_debian_keeps_them(installed):
    listed = in_root(installed, "dpkg", "-L", "mtastsd").stdout.split()
    for path in INSTALLED_FILES:
        assert path in listed, f"{path} is not in the package"
        assert file_in(installed, path).is_file(), path
    assert os.access(file_in(installed, "/usr/sbin/mtastsd"), os.X_OK)
    unit = file_in(installed, "/lib/systemd/system/mtastsd.service").read_text()
    assert f"ExecStart=/usr/sbin/mtastsd -c {CONF}\n" in unit and "Type=notify\n" in unit
    assert in_root(installed, "dpkg-query", "-W", "-f=${Status}", "mtastsd").stdout == "install ok installed"
    fields = in_root(installed, "dpkg-query", "-W", "-f=${Depends}\n${Recommends}", "mtastsd").stdout
    depends, recommends = fields.split("\n")
    assert "libunbound8" in depends and "adduser" in depends, depends
    assert recommends == "postfix"


def test_the_configuration_is_a_conffile_that_the_daemon_accepts(installed):
    conffiles = in_root(installed, "dpkg-query", "-W", "-f=${Conffiles}", "mtastsd").stdout
    assert re.search(rf"^ {re.escape(CONF)} [0-9a-f]{{32}}$", conffiles, re.M), conffiles
    text = file_in(installed, CONF).read_text()
    assert 'user = "mtastsd"' in text and "[metrics]" in text and "[control]" in text
    checked = in_root(installed, "mtastsd", "--check-config", "-c", CONF)
    assert f"{CONF}: ok" in checked.stdout + checked.stderr


def test_install_makes_the_system_user_in_group_postfix(installed):
    mtastsd = account(installed, "mtastsd")
    assert mtastsd.uid < 1000 and mtastsd.shell == "/usr/sbin/nologin" and mtastsd.home == "/var/lib/mtastsd"
    assert mtastsd.gid == group_id(installed, "mtastsd")
    assert group_id(installed, "postfix") in mtastsd.groups
    state = file_in(installed, "/var/lib/mtastsd").stat()
    assert (state.st_uid, state.st_gid, stat.S_IMODE(state.st_mode)) == (mtastsd.uid, mtastsd.gid, 0o750)


def test_install_enables_the_unit_and_starts_nothing_without_systemd(installed):
    link = file_in(installed, ENABLED_LINK)
    assert link.is_symlink() and os.readlink(link) == "/lib/systemd/system/mtastsd.service"
    assert processes_in(installed) == []


def processes_in(root: Path) -> list[int]:
    """PIDs of the processes whose root directory is root (chrooted into it)."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink(f"/proc/{entry}/root") == str(root):
                found.append(int(entry))
        except OSError:  # gone, or a kernel thread
            pass
    return found


def test_the_unit_passes_systemd_analyze_verify(installed):
    """Debian 12's own systemd-analyze (the root's; systemd is installed there, not running) checks
    the installed unit: directives, sandbox settings, ExecStart= binaries present and executable.
    The man pages of Documentation= are checked as files above."""
    result = in_root(installed, "systemd-analyze", "verify", "--man=no", "/lib/systemd/system/" + UNIT, check=False)
    assert result.returncode == 0 and result.stderr == "", result.stdout + result.stderr


# ---- the service ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def configured(installed, rig) -> Path:
    """The installed configuration pointed at the rig's resolver, trust anchor and CA, with metrics
    on: what an admin would edit (the conffile)."""
    files = file_in(installed, TEST_FILES)
    files.mkdir(parents=True)
    shutil.copy(rig.dns.anchor_file, files / "root.key")
    shutil.copy(rig.ca_file, files / "ca.pem")
    conf = file_in(installed, CONF)
    text = conf.read_text()
    text = set_key(text, "dns", "forwarders", f'["{rig.dns.unbound_address}"]')
    text = set_key(text, "dns", "trust_anchor_file", f'"{TEST_FILES}/root.key"')
    text = set_key(text, "fetch", "ca_file", f'"{TEST_FILES}/ca.pem"')
    text = set_key(text, "fetch", "refuse_special_addresses", "false")  # the rig's policy hosts are on loopback
    text = set_key(text, "metrics", "listen", f'"{METRICS[0]}:{METRICS[1]}"')
    conf.write_text(text)
    return installed


@pytest.fixture(scope="module")
def service(configured, tmp_path_factory):
    supervisor = Supervisor(configured, UNIT, tmp_path_factory.mktemp("service") / "journal.log")
    supervisor.start()
    yield supervisor
    if supervisor.running():
        supervisor.stop()


def proc_status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return dict((k, v.strip()) for k, v in (line.split(":", 1) for line in lines))


def proc_environment(pid: int) -> dict[str, str]:
    entries = Path(f"/proc/{pid}/environ").read_bytes().decode().split("\0")
    return dict(entry.split("=", 1) for entry in entries if "=" in entry)


def test_service_is_ready_as_user_mtastsd_with_group_postfix(service, configured):
    ready = service.wait_for_notification("READY=1")
    assert ready.pid == service.main_pid
    assert service.rejected_notifications() == []
    mtastsd = account(configured, "mtastsd")
    status = proc_status(service.main_pid)
    assert status["Uid"].split() == [str(mtastsd.uid)] * 4
    assert status["Gid"].split() == [str(mtastsd.gid)] * 4
    assert str(group_id(configured, "postfix")) in status["Groups"].split()
    assert status["NoNewPrivs"] == "1"
    environment = proc_environment(service.main_pid)
    assert environment["WATCHDOG_USEC"] == "30000000" and environment["WATCHDOG_PID"] == str(service.main_pid)
    assert environment["NOTIFY_SOCKET"].startswith("/run/")
    socket_file = file_in(configured, SOCKET).stat()
    assert stat.S_ISSOCK(socket_file.st_mode)
    assert (socket_file.st_uid, socket_file.st_gid) == (mtastsd.uid, group_id(configured, "postfix"))
    assert stat.S_IMODE(socket_file.st_mode) == 0o660
    assert stat.S_IMODE(file_in(configured, "/run/mtastsd").stat().st_mode) == 0o755
    assert any("STATUS" in n.fields for n in service.notifications()), service.notifications()


def test_postfix_gets_the_policy_through_the_socket(service, configured):
    answer = wait_until(lambda: (r := postmap(configured, DOMAIN)).stdout.strip() == POSTMAP_ANSWER and r, 20,
                        f"postmap -q {DOMAIN} as user postfix to print {POSTMAP_ANSWER!r}")
    assert answer.returncode == 0
    assert postmap(configured, "no-record.example").returncode == 1  # NOTFOUND: postmap finds nothing
    refused = postmap(configured, DOMAIN, user="nobody")
    assert refused.returncode != 0 and "Permission denied" in refused.stderr, refused.stderr


def test_mtastsctl_sees_the_running_daemon(service, configured):
    status = in_root(configured, "mtastsctl", "status", check=False)
    assert status.returncode == 0, f"mtastsctl status: exit {status.returncode}\n{status.stdout}{status.stderr}"
    assert str(service.main_pid) in status.stdout, status.stdout
    shown = in_root(configured, "mtastsctl", "cache", "show", DOMAIN, "--json").stdout
    assert '"mode": "enforce"' in shown.replace('":"', '": "'), shown


def get_metrics() -> str:
    connection = http.client.HTTPConnection(*METRICS, timeout=10)
    try:
        connection.request("GET", "/metrics")
        response = connection.getresponse()
        assert response.status == 200, response.status
        return response.read().decode()
    finally:
        connection.close()


def test_metrics_show_the_build_and_the_lookups(service):
    text = get_metrics()
    assert re.search(r'^mtastsd_build_info\{[^}]*version="[^"]+"[^}]*\} 1$', text, re.M), text[:2000]
    secure = re.search(r'^mtastsd_lookups_total\{[^}]*answer="secure"[^}]*\} (\d+)', text, re.M)
    assert secure and int(secure.group(1)) >= 1, text[:2000]


def test_reload_reports_reloading_then_ready_and_keeps_answering(service, configured):
    pid = service.main_pid
    mark = service.mark()
    assert service.reload() == 0
    reloading = service.wait_for_notification("RELOADING=1", since=mark)
    ready = service.wait_for_notification("READY=1", since=mark)
    assert reloading.at <= ready.at
    assert service.running() and service.main_pid == pid
    assert postmap(configured, DOMAIN).stdout.strip() == POSTMAP_ANSWER


def test_a_broken_configuration_is_logged_and_the_daemon_keeps_running(service, configured):
    conf = file_in(configured, CONF)
    good = conf.read_text()
    broken = set_key(good, "server", "max_connections", "0")
    line = broken.splitlines().index("max_connections = 0") + 1
    conf.write_text(broken)
    try:
        mark = service.mark()
        assert service.reload() == 0
        wait_until(lambda: f"{CONF}:{line}: server.max_connections" in service.log(), 20,
                   "the reload's configuration problem in the log")
        service.wait_for_notification("READY=1", since=mark)  # systemd leaves the reloading state
        assert service.running()
        assert postmap(configured, DOMAIN).stdout.strip() == POSTMAP_ANSWER
    finally:
        conf.write_text(good)


def test_stop_reports_stopping_and_exits_0_in_time(service, configured):
    mark = service.mark()
    stopped = service.stop()
    assert not stopped.killed and stopped.returncode == 0, service.log()[-3000:]
    assert stopped.seconds < service.stop_timeout
    service.wait_for_notification("STOPPING=1", since=mark, timeout=0)
    assert not file_in(configured, "/run/mtastsd").exists()  # RuntimeDirectory= goes with the service
    assert processes_in(configured) == []
    assert in_root(configured, "mtastsctl", "status", check=False).returncode != 0


def test_watchdog_pings_arrive_in_time(configured, service, tmp_path):
    """WatchdogSec from a drop-in (as `systemctl edit mtastsd` writes), short enough to see pings."""
    assert not service.running(), "runs after test_stop_..."
    drop_in = file_in(configured, "/etc/systemd/system/mtastsd.service.d")
    drop_in.mkdir(parents=True)
    (drop_in / "watchdog.conf").write_text("[Service]\nWatchdogSec=3s\n")
    restarted = Supervisor(configured, UNIT, tmp_path / "journal.log")
    try:
        restarted.start()
        assert proc_environment(restarted.main_pid)["WATCHDOG_USEC"] == "3000000"
        wait_until(lambda: sum("WATCHDOG=1" in n for n in restarted.notifications()) >= 3, 15, "3 WATCHDOG=1 pings")
        accepted = restarted.notifications()
        ready_at = next(n.at for n in accepted if "READY=1" in n)
        pings = [ready_at] + [n.at for n in accepted if "WATCHDOG=1" in n]
        assert max(b - a for a, b in zip(pings, pings[1:])) < 3.0
        assert restarted.watchdog_timeouts() == []
        # The state directory survived the restart: the policy is answered from the cache at once.
        assert postmap(configured, DOMAIN).stdout.strip() == POSTMAP_ANSWER
    finally:
        stopped = restarted.stop() if restarted.process else None
        shutil.rmtree(drop_in)
    assert stopped is not None and stopped.returncode == 0


# ---- remove and purge ------------------------------------------------------------------------------------

def test_remove_keeps_the_configuration_and_cache_and_purge_takes_them(configured):
    assert processes_in(configured) == [], "the service still runs (the stop test failed?)"
    in_root(configured, "dpkg", "--remove", "mtastsd")
    for path in ("/usr/sbin/mtastsd", "/usr/sbin/mtastsctl", "/lib/systemd/system/mtastsd.service"):
        assert not file_in(configured, path).exists(), path
    assert file_in(configured, CONF).is_file()
    assert file_in(configured, "/var/lib/mtastsd/cache").exists()

    in_root(configured, "dpkg", "--purge", "mtastsd")
    assert in_root(configured, "dpkg-query", "-W", "mtastsd", check=False).returncode != 0
    for path in ("/etc/mtastsd", "/var/lib/mtastsd", "/run/mtastsd", ENABLED_LINK,
                 "/etc/systemd/system/mtastsd.service", "/var/lib/systemd/deb-systemd-helper-masked/mtastsd.service",
                 "/var/lib/systemd/deb-systemd-helper-enabled/mtastsd.service.dsh-also"):
        assert not os.path.lexists(file_in(configured, path)), f"{path} is left after purge"
    account(configured, "mtastsd")  # the system user stays, as Debian keeps system accounts
    assert processes_in(configured) == []

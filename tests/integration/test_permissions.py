"""Least privilege (issue 8): a start with the default socket settings, even under a umask of 0,
leaves no socket and no directory it creates writable by others; the configuration file, the DKIM
key and the socket modes are checked at start-up and by `mtastsd --check-config`, for the account
the daemon runs as after start-up (daemon/permission_audit): warnings for a configuration file
others may change and a socket others may write to, an error that stops the start for a DKIM key
others may read or the daemon's user cannot read. The drop to `user` itself, for every thread, is
in test_lifecycle.py (test_root_start_drops_to_the_configured_user)."""
import grp
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

import scenarios as sc
from rig.mtastsd import Mtastsd, binary, to_toml

UMASK_0 = ["/bin/sh", "-c", 'umask 0 && exec "$@"', "umask-0"]
NOBODY = pwd.getpwnam("nobody")
NOGROUP = grp.getgrgid(NOBODY.pw_gid).gr_name
# Report sending with a DKIM key: only then does the daemon load the key.
REPORTS = {"organization_name": "Sender Org", "contact_info": "mailto:tls@sender.example",
           "submitter": "sender.example", "dkim_selector": "s1"}


def test_default_start_under_umask_0_leaves_nothing_writable_by_others(rig, tmp_path):
    runtime = tmp_path / "run" / "mtastsd"  # made by mtastsd, with its parent
    instance = Mtastsd(rig, tmp_path / "state", {"runtime_dir": str(runtime)}, wrapper=UMASK_0)
    del instance.config["listen"]  # the defaults: <runtime_dir>/socketmap.sock, tlsrpt.sock, control.sock
    instance.config_file.write_text(to_toml(instance.config))
    instance.socket = runtime / "socketmap.sock"
    Mtastsd.running.append(instance)
    try:
        instance.start()
        assert instance.lookup("valid.example") == sc.secure_answer("valid.example")
        modes = {name: os.stat(runtime / name).st_mode for name in ("socketmap.sock", "tlsrpt.sock", "control.sock")}
        assert all(stat.S_ISSOCK(m) for m in modes.values()), modes
        assert {name: stat.S_IMODE(m) for name, m in modes.items()} == {
            "socketmap.sock": 0o660, "tlsrpt.sock": 0o660, "control.sock": 0o600}
        for directory in (runtime, runtime.parent, instance.dir / "cache"):
            mode = stat.S_IMODE(directory.stat().st_mode)
            assert mode & 0o022 == 0, f"{directory}: {mode:04o}"
        log = instance.log()
        assert "umask 0000 widened to 0022" in log
        assert "running as root: set user" in log  # started as root without `user`
        assert "has mode" not in log  # no permission finding for the defaults
        assert instance.stop() == 0
    finally:
        instance.stop()
        Mtastsd.running.remove(instance)


def check_config(config_file: Path) -> subprocess.CompletedProcess:
    return subprocess.run([binary("MTASTSD_BIN", "mtastsd"), "--check-config", "-c", str(config_file)],
                          capture_output=True, text=True, timeout=30)


def start_fails(config_file: Path) -> str:
    """Run the daemon on `config_file`, expect exit status 1 at start-up; its log (stderr)."""
    result = subprocess.run([binary("MTASTSD_BIN", "mtastsd"), "-c", str(config_file)], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 1, result
    return result.stderr


def write_config(directory: Path, config: dict) -> Path:
    path = directory / "mtastsd.toml"
    path.write_text(to_toml({"state_dir": str(directory), "runtime_dir": str(directory), **config}))
    return path


def test_configuration_others_may_change_is_warned_about(start_mtastsd, tmp_path):
    instance = start_mtastsd({"tlsrpt": {"socket_mode": "0666"}}, name="loose-config")
    config = instance.config_file
    # Rewritten in place (the start above checked the file as the rig writes it: no warning).
    assert "configuration file" not in instance.log()
    os.chown(config, NOBODY.pw_uid, 0)
    config.chmod(0o666)
    result = check_config(config)
    assert result.returncode == 0 and result.stdout.strip() == f"{config}: ok", result
    warnings = result.stderr.splitlines()
    assert warnings == [
        f"mtastsd: warning: configuration file {config} has mode 0666: every local user may rewrite it and so steer "
        f"mtastsd (chmod o-w {config})",
        f"mtastsd: warning: configuration file {config} has mode 0666: members of group root may rewrite it and so "
        f"steer mtastsd (chmod g-w {config})",
        f"mtastsd: warning: configuration file {config} belongs to nobody, who may rewrite it and so steer mtastsd; "
        f"it should belong to root (chown root {config})",
        f"mtastsd: warning: TLS-RPT socket {instance.dir / 'tlsrpt.sock'} has mode 0666: every local user may connect "
        f"or send to it; leave o-w off unless that is meant",
    ], result.stderr
    # The daemon logs the same at start-up, and starts.
    instance.stop()
    instance.start()
    log = instance.log()
    for line in warnings:
        assert line.removeprefix("mtastsd: warning: ") in log, line


@pytest.fixture
def key_dir():
    """A directory user nobody may enter (pytest's temporary directories are 0700 root)."""
    path = Path(tempfile.mkdtemp(prefix="mtastsd-key-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def key_file(directory: Path, mode: int, gid: int = 0) -> Path:
    """A stand-in key: the permission check runs before anything reads the key."""
    key = directory / "dkim.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\n")
    os.chown(key, 0, gid)
    key.chmod(mode)
    return key


def test_dkim_key_others_may_read_stops_the_start(key_dir):
    key = key_file(key_dir, 0o644)
    config = write_config(key_dir, {"tlsrpt": {**REPORTS, "dkim_key_file": str(key)}})
    expected = (f"DKIM key file {key} has mode 0644: others may read or write it, or its group may write it; "
                f"mtastsd refuses such a key (chmod o-rwx,g-w {key})")
    result = check_config(config)
    assert result.returncode == 1 and result.stdout == "", result
    assert result.stderr.splitlines() == [f"mtastsd: error: {expected}"], result.stderr
    log = start_fails(config)
    assert expected in log and "mtastsd ready" not in log, log
    assert not (key_dir / "socketmap.sock").exists()  # stopped before binding anything


def test_dkim_key_the_daemon_user_cannot_read_stops_the_start(key_dir):
    key = key_file(key_dir, 0o600)  # root:root: fine for root, not for nobody after the drop
    config = write_config(key_dir, {"user": "nobody", "tlsrpt": {**REPORTS, "dkim_key_file": str(key)}})
    expected = (f"user nobody (uid {NOBODY.pw_uid}), which mtastsd runs as after start-up, cannot read the DKIM key "
                f"file {key} (owner root, group root, mode 0600); e.g. chgrp {NOGROUP} {key} && chmod 0640 {key}")
    result = check_config(config)
    assert result.returncode == 1, result
    assert result.stderr.splitlines() == [f"mtastsd: error: {expected}"], result.stderr
    assert expected in start_fails(config)

    # Readable through its group, but in a directory nobody may not enter.
    os.chown(key, 0, NOBODY.pw_gid)
    key.chmod(0o640)
    key_dir.chmod(0o700)
    result = check_config(config)
    assert result.returncode == 1, result
    assert result.stderr.splitlines() == [
        f"mtastsd: error: user nobody (uid {NOBODY.pw_uid}), which mtastsd runs as after start-up, cannot reach the "
        f"DKIM key file {key}: it may not enter the directory {key_dir} (owner root, group root, mode 0700)"
    ], result.stderr

    key_dir.chmod(0o711)  # search is enough
    result = check_config(config)
    assert result.returncode == 0 and result.stderr == "", result


def test_dkim_key_other_groups_may_read_is_warned_about(key_dir):
    daemon_gid = grp.getgrnam("daemon").gr_gid
    key = key_file(key_dir, 0o640, daemon_gid)
    config = write_config(key_dir, {"tlsrpt": {**REPORTS, "dkim_key_file": str(key)}})
    result = check_config(config)  # as root: root reads it; group daemon should not
    assert result.returncode == 0, result
    assert result.stderr.splitlines() == [
        f"mtastsd: warning: DKIM key file {key} is readable by the members of group daemon, who could sign mail as "
        f"the reporting domain (chgrp root {key} or chmod g-r {key})"
    ], result.stderr

    # A key that report sending does not use is not checked.
    quiet = write_config(key_dir, {"tlsrpt": {**REPORTS, "send_reports": False, "dkim_key_file": str(key)}})
    assert check_config(quiet).stderr == ""

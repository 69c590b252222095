"""Background cache maintenance and damaged state: the refresher re-fetches a recently used
policy before it expires without any lookup asking (RFC 8461 sec. 3.3), entries unused for
long that hold nothing valid are dropped, a corrupt record is treated as uncached and replaced,
an unusable cache file is moved aside instead of keeping the daemon (and so Postfix's mail)
down, and --check-config names the file and line of each problem."""
import subprocess

import scenarios as sc
from rig.mtastsd import binary
from rig.procs import wait_until


def test_refresher_refetches_before_expiry_without_lookups(start_mtastsd, rig):
    domain = "refresh.example"  # max_age 4 s: due for refresh at 2 s before expiry (max_age / 2)
    instance = start_mtastsd({"cache": {"id_check_interval": "1h", "refresh_scan_interval": "300ms"}},
                             name="refresher")
    assert instance.lookup(domain) == sc.secure_answer(domain)
    first = instance.cache_show(domain)
    before = rig.web.request_count(domain)
    # No lookups from here on: only the refresher can fetch again.
    entry = instance.wait_for_entry(domain, lambda e: e["fetched_at"] > first["fetched_at"], timeout=20,
                                    what="a proactive refresh")
    assert entry["valid_until"] > first["valid_until"]
    assert rig.web.request_count(domain) > before
    assert "refreshing" in instance.log()


def test_unused_entries_without_policy_are_dropped(start_mtastsd):
    # Unused for 3 s: long enough for the mtastsctl call below to see the entry first, even on
    # a sanitized build, where mtastsctl takes about a second to start.
    instance = start_mtastsd({"cache": {"negative_ttl_min": "1s", "negative_ttl_max": "1s",
                                        "drop_unused_after": "3s", "refresh_scan_interval": "300ms"}},
                             name="dropper")
    domain = "drop-me.example"  # not in any zone: NXDOMAIN
    assert instance.lookup(domain) == "NOTFOUND "
    assert instance.cache_show(domain) is not None
    wait_until(lambda: instance.cache_show(domain) is None, 20, f"{domain} dropped from the cache")
    assert "dropped" in instance.log()


def test_corrupt_record_is_treated_as_uncached_and_replaced(start_mtastsd):
    domain = "corrupt-record.example"
    instance = start_mtastsd(name="corrupt-record")
    # Write a value that is not a cache record straight into LMDB, beside the running daemon.
    dump = f"{domain}\nthis is not a cache record\n"
    subprocess.run(["mdb_load", "-n", "-T", "-s", "policies", str(instance.dir / "cache" / "cache.mdb")],
                   input=dump, text=True, check=True, capture_output=True)
    shown = instance.ctl("cache", "show", domain)
    assert shown.returncode == 2 and "corrupt" in shown.stderr.lower(), shown
    assert instance.lookup(domain) == sc.secure_answer(domain)
    assert instance.cache_show(domain)["policy_id"] == "corrupt1"
    assert "treating as uncached" in instance.log()


def test_unusable_cache_file_is_moved_aside(start_mtastsd, tmp_path_factory, rig):
    from rig.mtastsd import Mtastsd
    domain = "corrupt-file.example"
    instance = Mtastsd(rig, tmp_path_factory.mktemp("corrupt-file"))
    cache_dir = instance.dir / "cache"
    cache_dir.mkdir()
    (cache_dir / "cache.mdb").write_bytes(b"not an LMDB environment\n" * 1000)
    Mtastsd.running.append(instance)
    try:
        instance.start()
        assert instance.lookup(domain) == sc.secure_answer(domain)
        assert list(cache_dir.glob("cache.mdb.unusable-*")), list(cache_dir.iterdir())
        assert "starting with an empty cache" in instance.log()
        assert instance.stop() == 0
    finally:
        Mtastsd.running.remove(instance)


def test_check_config_names_file_and_line(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text('state_dir = "/tmp/x"\n\n[cache]\nid_chek_interval = "5m"\n[lookup]\ncold_budget = "soon"\n')
    result = subprocess.run([binary("MTASTSD_BIN", "mtastsd"), "--check-config", "-c", str(config)],
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert f"{config}:4:" in result.stderr and "id_chek_interval" in result.stderr, result.stderr
    assert f"{config}:6:" in result.stderr, result.stderr

    good = tmp_path / "good.toml"
    good.write_text('[cache]\nid_check_interval = "5m"\n')
    result = subprocess.run([binary("MTASTSD_BIN", "mtastsd"), "--check-config", "-c", str(good)],
                            capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == f"{good}: ok", result

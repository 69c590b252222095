#!/usr/bin/python3
"""bench_smoke (ctest label bench-smoke): the benchmark tools work together.

socketmap_load runs for one second with a few connections against netstring_echo
on a unix socket in a temporary directory; its JSON must report answered requests,
no errors and every reply counted as OK (the echo's default reply). Function only:
no number about speed is asserted (issue 7: numbers are never asserted in tests).

Usage: smoke_test.py NETSTRING_ECHO SOCKETMAP_LOAD
"""
import json
import subprocess
import sys
import tempfile

# ctest's TIMEOUT is the outer bound; these make a hung tool fail with a message.
READY_TIMEOUT_S = 10
LOAD_TIMEOUT_S = 30


def main(echo_bin: str, load_bin: str) -> int:
    with tempfile.TemporaryDirectory(prefix="bench_smoke.") as tmp:
        target = f"unix:{tmp}/echo.sock"
        echo = subprocess.Popen([echo_bin, "--listen", target], stdout=subprocess.PIPE, text=True)
        try:
            # netstring_echo prints one line once its socket accepts connections.
            ready = echo.stdout.readline()
            if ready.strip() != f"listening on {target}":
                print(f"netstring_echo did not start: {ready!r}", file=sys.stderr)
                return 1
            load = subprocess.run(
                [load_bin, "--target", target, "--connections", "4", "--duration", "1", "--warmup", "0.2",
                 "--timeout", "5", "--map", "default", "--key", "a.bench.example", "--key", "b.bench.example",
                 "--json"],
                capture_output=True, text=True, timeout=LOAD_TIMEOUT_S)
        finally:
            echo.terminate()
            echo.wait(READY_TIMEOUT_S)
    if load.returncode != 0:
        print(f"socketmap_load exited {load.returncode}: {load.stderr}", file=sys.stderr)
        return 1
    result = json.loads(load.stdout)
    problems = []
    if result["requests"] <= 0:
        problems.append("no request answered")
    if result["errors"] != 0:
        problems.append(f"{result['errors']} errors: {load.stderr.strip()}")
    if result["replies"]["OK"] != result["requests"]:
        problems.append(f"replies {result['replies']} do not add up to {result['requests']} OK")
    if result["p50_us"] is None or not 0 < result["p50_us"] <= result["p99_us"] <= result["max_us"]:
        problems.append("latency percentiles out of order")
    for problem in problems:
        print(f"bench_smoke: {problem}; result: {json.dumps(result)}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))

"""A fake wall clock for the programs under test, so that a test can make a UTC day end without
waiting for it: Debian's libfaketime preloaded (LD_PRELOAD), its offset from the real clock read
from a file (FAKETIME_TIMESTAMP_FILE) that the test rewrites while the programs run; a running
process sees the new offset within FAKETIME_CACHE_DURATION seconds. Monotonic clocks stay real
(FAKETIME_DONT_FAKE_MONOTONIC=1): steady timers and deadlines behave as without the library.
fake time = real time + offset, the offset in whole seconds.

Limits: only dynamically linked programs that read the clock through libc are fooled; servers
in the rig keep the real clock, so keep fake time within a day or two of real time (the rig's
DNSSEC signatures and certificates are valid from real now - 1 d to now + 30 d, the test CA's own
certificate from when the rig started)."""
from __future__ import annotations

import math
import time
from pathlib import Path

LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")  # Debian package libfaketime
CACHE_SECONDS = 1  # how often a faked process re-reads the offset file


class FakeClock:
    def __init__(self, path: Path, offset: int = 0):
        if not LIBFAKETIME.exists():
            raise FileNotFoundError(f"{LIBFAKETIME} is missing (Debian package libfaketime)")
        self.path = path
        self.offset = 0
        self.set_offset(offset)

    def env(self) -> dict[str, str]:
        """The environment variables that put a program on this clock."""
        return {"LD_PRELOAD": str(LIBFAKETIME), "FAKETIME_TIMESTAMP_FILE": str(self.path),
                "FAKETIME_DONT_FAKE_MONOTONIC": "1", "FAKETIME_CACHE_DURATION": str(CACHE_SECONDS)}

    def set_offset(self, seconds: int) -> None:
        """Replaced whole (rename), so a reader never sees half a file."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(f"{seconds:+d}s\n")
        tmp.replace(self.path)
        self.offset = seconds

    def jump_to(self, fake_unix_time: float) -> None:
        """From now on the fake clock reads fake_unix_time (to within a second, never less)."""
        self.set_offset(math.ceil(fake_unix_time - time.time()))

    def now(self) -> float:
        return time.time() + self.offset

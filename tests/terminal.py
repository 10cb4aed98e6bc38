"""A ``voice-coach`` process on a pseudo-terminal, as a user runs it: what it shows, and
keys typed into it (tests/sessions/test_run_log.py, test_others.py)."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time


class Terminal:
    """A process on a pseudo-terminal: what it shows, and keys typed into it."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.fd, child = pty.openpty()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "voice_coach", *argv],
            stdin=child,
            stdout=child,
            stderr=subprocess.PIPE,
            env={**env, "COLUMNS": "100", "TERM": "xterm"},
            start_new_session=True,
        )
        os.close(child)
        self.shown = ""

    def wait_for(self, pattern: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not re.search(pattern, self.shown):
            left = deadline - time.monotonic()
            assert left > 0, f"never showed {pattern!r}; showed: {self.shown[-800:]!r}"
            ready, _, _ = select.select([self.fd], [], [], min(left, 0.2))
            if ready:
                try:
                    self.shown += os.read(self.fd, 4096).decode("utf-8", "replace")
                except OSError:  # the process ended and closed its side
                    time.sleep(0.05)

    def type(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def finish(self, timeout_s: float = 60) -> tuple[int, str]:
        deadline = time.monotonic() + timeout_s
        while self.process.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([self.fd], [], [], 0.2)
            if ready:
                try:
                    self.shown += os.read(self.fd, 4096).decode("utf-8", "replace")
                except OSError:
                    break
        code = self.process.wait(timeout=max(1.0, deadline - time.monotonic()))
        while select.select([self.fd], [], [], 0.2)[0]:  # what it wrote as it ended
            try:
                chunk = os.read(self.fd, 4096)
            except OSError:  # its side is closed and nothing is left
                break
            if not chunk:
                break
            self.shown += chunk.decode("utf-8", "replace")
        err = self.process.stderr.read().decode()
        os.close(self.fd)
        return code, err

"""A process of the live session's own that acts on other applications for it (the
ducking process, the players process), talked to in JSON, one object a line, over pipes.

Started in a session of its own, so Ctrl-C and a closed terminal, which reach the
session's process group, do not reach it; when the session's pipe closes, however the
session ended (``kill -9`` included, which no handler of the session's own sees), it
puts back what it changed and ends. That is why the work is not a thread of the session.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable

SETTLE_S = 0.3  # the longest a session waits for other sound to be lowered or paused
PUT_BACK_WAIT_S = 3.0  # the longest a session's end waits for everything to be put back


class Helper:
    """The session's side: ``start()``, ``send()`` messages, read what it said
    (``wait_until()``, ``heard()``, ``problem()``), and ``finish()`` (end, and wait
    until it has put everything back)."""

    def __init__(self, module: str, *args: str) -> None:
        self.command = [sys.executable, "-m", module, *args]
        self._process: subprocess.Popen[bytes] | None = None
        self._said = b""

    def start(self) -> None:
        self._process = subprocess.Popen(
            self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip

    def send(self, message: dict[str, object]) -> bool:
        """False when it has ended (no server or bus to reach): nothing to tell."""
        try:
            self._process.stdin.write(json.dumps(message).encode() + b"\n")  # type: ignore[union-attr]
            self._process.stdin.flush()  # type: ignore[union-attr]
            return True
        except (OSError, ValueError, AttributeError):
            return False

    def wait_until(self, enough: Callable[[dict[str, object]], bool]) -> None:
        """Return once what it has said is ``enough`` for the session to begin, it has
        ended, or ``SETTLE_S`` has passed (a cue at 0 is not heard over the music while
        it catches up, and a helper that hangs does not hold the session)."""
        deadline = time.monotonic() + SETTLE_S
        out = self._process.stdout  # type: ignore[union-attr]
        while not enough(self.heard()):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([out], [], [], left)[0]:
                return
            chunk = os.read(out.fileno(), 4096)  # type: ignore[union-attr]
            if not chunk:
                return
            self._said += chunk

    def heard(self) -> dict[str, object]:
        """Everything it has said so far, the later of two words on a key winning."""
        said: dict[str, object] = {}
        for line in self._said.splitlines():
            with contextlib.suppress(ValueError):
                said.update(json.loads(line))
        return said

    def problem(self) -> str | None:
        """Why it could not act (no sound server, no bus), once it has said so."""
        said = self.heard().get("problem")
        return None if said is None else str(said)

    def finish(self) -> None:
        """Tell it to end, close the pipe, and read what it says until it has ended (at
        most ``PUT_BACK_WAIT_S``: past that it goes on putting things back without us)."""
        if self._process is None:
            return
        self.send({"end": True})
        try:
            out, _err = self._process.communicate(timeout=PUT_BACK_WAIT_S)
            self._said += out
        except subprocess.TimeoutExpired:
            pass


def say(message: dict[str, object]) -> None:
    """The helper's side: one message to the session."""
    with contextlib.suppress(OSError):  # the session is gone: nobody to tell
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()


def ignore_the_terminal() -> None:
    """The helper's side: Ctrl-C and a closed terminal end the session, not the helper,
    which must outlive it to put things back."""
    import signal

    for sig in (signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)

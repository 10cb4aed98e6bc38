"""`voice-coach run` on a real terminal: a pseudo-terminal (pty) is its keyboard and screen,
and the session plays into the null sink, recorded.

Keys are pressed when the session's own status line says it has reached a place (its
phase, set and rep), never after a guessed delay, so the test holds on a slow machine.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time

import numpy as np
import pytest
from pulse import Tap, record_while

from voice_coach.live import KEY_HELP

pytestmark = [pytest.mark.pulse, pytest.mark.usefixtures("warm_cache")]

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
STATUS = re.compile(
    r"glute-squeeze-sets · (?P<phase>[\w-]+)(?: · rep (?P<rep>\d+) of 1)?"
    r"(?: · set (?P<set>\d+) of 3)? · (?P<left>\d+:\d\d) left"
)


class Terminal:
    """The screen side of a pty: everything the program wrote, escapes removed, and a
    read position so each wait looks only at what came after the last one."""

    def __init__(self, master: int) -> None:
        self.master = master
        self.text = ""
        self.seen = 0

    def _read(self, timeout_s: float) -> None:
        ready, _, _ = select.select([self.master], [], [], timeout_s)
        if ready:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # the program has ended and closed its side
                data = b""
            self.text += ANSI.sub("", data.decode("utf-8", "replace")).replace("\r", "\n")

    def wait_for(self, pattern: str | re.Pattern[str], limit_s: float = 40) -> re.Match[str]:
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            found = regex.search(self.text, self.seen)
            if found:
                self.seen = found.end()
                return found
            self._read(0.05)
        raise AssertionError(f"never shown: {regex.pattern!r}; last: {self.text[-300:]!r}")

    def status(self, phase: str, set_no: int, limit_s: float = 40) -> re.Match[str]:
        """The first status line from here on that shows ``phase`` in set ``set_no``."""
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            found = STATUS.search(self.text, self.seen)
            if found is None:
                self._read(0.05)
                continue
            self.seen = found.end()
            if found["phase"] == phase and found["set"] == str(set_no):
                return found
        raise AssertionError(f"never shown: {phase} in set {set_no}; last: {self.text[-300:]!r}")


def test_keys_status_and_the_terminal_through_a_pty(pulse_server):
    """The key help and status line; `n` while playing (squeeze -> the rest, rest -> the
    next set); space shows "Paused at"; `n` while paused goes on from the next rest; `q`
    while paused plays the closing words and prints "Session ended early."; exit 0; and
    the terminal's settings are what they were before."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 200, 0, 0))
    before = termios.tcgetattr(slave)
    screen = Terminal(master)
    marks: dict[str, int] = {}
    result = {}

    def play(tap: Tap) -> None:
        run = subprocess.Popen(
            # --no-log: on a terminal a logged session ends with the pain question,
            # which waits up to 30 s for an answer (tests/sessions/test_run_log.py tests it).
            [sys.executable, "-m", "voice_coach", "run", "glute-squeeze-sets",
             "--reps", "1", "--rest", "8", "--no-log"],
            stdin=slave, stdout=slave, stderr=slave, env={**os.environ, "TERM": "xterm"},
        )  # fmt: skip
        try:
            screen.wait_for(re.escape(KEY_HELP))
            screen.status("squeeze", 1)
            os.write(master, b"n")  # playing: skip to the rest after set 1
            screen.status("rest", 1, limit_s=3)
            os.write(master, b"n")  # in the rest: skip to set 2
            screen.status("set", 2, limit_s=3)
            screen.status("squeeze", 2)
            os.write(master, b" ")
            screen.wait_for(r"Paused at 0:\d\d; space resumes", limit_s=3)
            os.write(master, b"n")  # paused: go on from the rest after set 2
            screen.status("rest", 2, limit_s=3)
            screen.status("squeeze", 3)
            os.write(master, b" ")
            screen.wait_for(r"Paused at 0:\d\d; space resumes", limit_s=3)
            marks["quit"] = tap.frames()
            os.write(master, b"q")
            screen.wait_for(r"Session ended early\.", limit_s=15)
            result["code"] = run.wait(timeout=15)
            screen._read(0.2)
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()

    try:
        samples, rate = record_while(play, pulse_server, tap=True)
        after = termios.tcgetattr(slave)
    finally:
        os.close(slave)
        os.close(master)
    assert result["code"] == 0, screen.text[-500:]
    assert "Traceback" not in screen.text
    assert after == before, "the terminal's settings were not restored"
    # The closing words ("Well done. That's all 3 sets.", about 2.5 s) after the quit.
    closing = np.flatnonzero(np.abs(samples[marks["quit"] :]) > 0.05)
    assert closing.size and (closing[-1] - closing[0]) / rate > 1.5, "no closing words"

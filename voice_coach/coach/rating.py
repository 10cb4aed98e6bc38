"""How it felt: a 0-10 rating typed on the terminal after a session, or nothing.

The terminal is in its ordinary line mode here (the session's key reader has given it
back), so the user sees what they type and can correct it before Enter. The wait is
bounded: a user who walked away is not kept waiting for, and the session still ends.
"""

from __future__ import annotations

import os
import select
import time
from collections.abc import Callable

PAIN_TIMEOUT_S = 30.0
LOW, HIGH = 0, 10
ALARM_RATING = 7  # a rating this high, or
ALARM_RISE = 2  # this much above the last one, is answered with the safety note


def ask_rating(
    question: str, read_fd: int, write: Callable[[str], None], timeout_s: float = PAIN_TIMEOUT_S
) -> int | None:
    """A whole number from 0 to 10 typed and entered within ``timeout_s``; ``None`` for
    Enter alone, the end of input or the time running out. Anything else asks again."""
    write(f"{question} (0-{HIGH}, Enter skips) ")
    deadline = time.monotonic() + timeout_s
    pending = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            write("\n(no answer; not rated)\n")
            return None
        ready, _, _ = select.select([read_fd], [], [], left)
        if not ready:
            continue
        try:
            chunk = os.read(read_fd, 256)
        except OSError:
            return None
        if not chunk:
            return None
        pending = (pending + chunk).replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            text = line.decode("utf-8", "replace").strip()
            if not text:
                return None
            if text.isdigit() and LOW <= int(text) <= HIGH:
                return int(text)
            write(f"A whole number from {LOW} to {HIGH}, or Enter to skip: ")


def needs_safety_note(rating: int, before: int | None) -> bool:
    """High, or risen sharply since the last rating: time to say stop, never push on."""
    return rating >= ALARM_RATING or (before is not None and rating - before >= ALARM_RISE)

"""How it felt: a 0-10 rating typed on the terminal after a session, or nothing.

The terminal is in its ordinary line mode here (the session's key reader has given it
back), so the user sees what they type and can correct it before Enter. The wait is
bounded: a user who walked away is not kept waiting for, and the session still ends.
"""

from __future__ import annotations

import os
import select
import time
from collections.abc import Callable, Mapping

from voice_coach.coach.programs import PainRules, worrying_rise
from voice_coach.i18n import _

PAIN_TIMEOUT_S = 30.0
LOW, HIGH = 0, 10


def ask_rating(
    question: str, read_fd: int, write: Callable[[str], None], timeout_s: float = PAIN_TIMEOUT_S
) -> int | None:
    """A whole number from 0 to 10 typed and entered within ``timeout_s``; ``None`` for
    Enter alone, the end of input or the time running out. Anything else asks again."""
    write(question + " " + _("({low}-{high}, Enter skips)").format(low=LOW, high=HIGH) + " ")
    deadline = time.monotonic() + timeout_s
    pending = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            write("\n" + _("(no answer; not rated)") + "\n")
            return None
        ready = select.select([read_fd], [], [], left)[0]
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
            write(
                _("A whole number from {low} to {high}, or Enter to skip:").format(
                    low=LOW, high=HIGH
                )
            )
            write(" ")


def answer_lines(
    rating: int, before: int | None, words: Mapping[str, str], safety: str, rules: PainRules
) -> list[str]:
    """What a worrying rating is answered with, phrase by phrase, safety first: stop for
    today, then what was noticed ("That is high.", "Last time it was 3."), then the
    safety note; nothing for any other rating. ``words`` are a language's shipped
    answers; a language with none gets the safety note alone (never English words in
    another language's voice).

    Worrying: ``rules.stop_at`` or more, or a rise as a program would step back on
    (``worrying_rise``, against the rating before).
    """
    high = rating >= rules.stop_at
    if not high and not worrying_rise(rating, before, None, rules):
        return []
    noticed = words.get("pain_high") if high else words.get("pain_up")
    lines = [words.get("stop_today"), noticed.format(before=before) if noticed else None]
    return [line for line in lines if line] + [safety]

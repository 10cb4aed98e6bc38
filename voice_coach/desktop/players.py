"""``--others pause``: the other media players on the session bus (MPRIS2) that are
playing are paused while the session plays, and those, only those, resumed at its end;
a player the user paused or resumed by hand meanwhile is left as the user left it. While
the session is paused they play again (as lowered music comes back in ``ducking.py``).

The pausing and the resuming are done by a process of its own (``players_process.py``,
through ``helper.Helper``), so the players are resumed however the session ends,
``kill -9`` included; the session never imports the D-Bus library for it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from voice_coach.desktop.helper import Helper

WATCH_S = 0.05  # how often the session's pause is looked at: the music back at once

if TYPE_CHECKING:
    from voice_coach.core.timeline import Timeline


class PausedPlayers:
    """``start()`` starts the players process, which reaches the bus while the session
    is prepared; ``follow()``, just before the device plays, has it pause the playing
    players (and returns once they are, at most ``helper.SETTLE_S``), and a thread then
    has them resumed while the session is paused (``playing`` false) and paused again
    when it plays on; ``close()`` has them resumed and waits until they are."""

    def __init__(self, playing: Callable[[], bool]) -> None:
        self.playing = playing
        self.problem: str | None = None
        self._helper = Helper("voice_coach.desktop.players_process", str(os.getpid()))
        self._stop = threading.Event()
        self._watch: threading.Thread | None = None

    def start(self) -> None:
        self._helper.start()

    def follow(self, timeline: Timeline) -> None:
        if not self._helper.send({"pause": True}):
            return
        self._helper.wait_until(lambda said: "paused" in said or "problem" in said)
        self._watch = threading.Thread(target=self._follow_pauses, name="players", daemon=True)
        self._watch.start()

    def close(self) -> None:
        self._stop.set()
        if self._watch is not None:
            self._watch.join(timeout=1)
        self._helper.finish()
        self.problem = self._helper.problem()

    def _follow_pauses(self) -> None:
        was = True
        while not self._stop.wait(WATCH_S):
            now = self.playing()
            if now != was and not self._helper.send({"pause" if now else "resume": True}):
                return
            was = now

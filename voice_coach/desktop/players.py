"""``--others pause``: the other media players on the session bus (MPRIS2) that are
playing are paused while the session plays, and those, only those, resumed at its end;
a player the user paused or resumed by hand meanwhile is left as the user left it.

The pausing and the resuming are done by a process of its own (``players_process.py``,
through ``helper.Helper``), so the players are resumed however the session ends,
``kill -9`` included; the session never imports the D-Bus library for it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from voice_coach.desktop.helper import Helper

if TYPE_CHECKING:
    from voice_coach.core.timeline import Timeline


class PausedPlayers:
    """``start()`` starts the players process, which reaches the bus while the session
    is prepared; ``follow()``, just before the device plays, has it pause the playing
    players (and returns once they are, at most ``helper.SETTLE_S``); ``close()`` has
    it resume them and waits until it has."""

    def __init__(self) -> None:
        self.problem: str | None = None
        self._helper = Helper("voice_coach.desktop.players_process", str(os.getpid()))

    def start(self) -> None:
        self._helper.start()

    def follow(self, timeline: Timeline) -> None:
        if self._helper.send({"pause": True}):
            self._helper.wait_until(lambda said: "paused" in said or "problem" in said)

    def close(self) -> None:
        self._helper.finish()
        self.problem = self._helper.problem()

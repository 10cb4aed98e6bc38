"""Other applications' sound while ``run`` plays (``--others``): lowered under each word
(``desktop/ducking.py``), paused for the session (``desktop/players.py``), or left
alone. Begun while the session is prepared (in a thread of its own), so it is ready for
a cue at the session's first sample and the first sound never waits for it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

from voice_coach.desktop import signals_end_the_session

if TYPE_CHECKING:
    from voice_coach.coach.settings import OthersChoice
    from voice_coach.core.timeline import Timeline
    from voice_coach.live import LiveState


class OtherSound(Protocol):
    problem: str | None

    def start(self) -> None: ...
    def follow(self, timeline: Timeline) -> None: ...
    def close(self) -> None: ...


@contextlib.contextmanager
def other_sound(choice: OthersChoice, state: LiveState) -> Iterator[OtherSound | None]:
    """What acts on other sound for the session (``None`` for ``keep``), begun at once;
    ``follow(timeline)`` it just before the session plays. Closed, and everything it
    changed put back, at the end, on Ctrl-C, SIGTERM, SIGHUP (the session ends as on
    Ctrl-C) or an error."""
    from voice_coach.desktop.ducking import left_behind, restore_left_behind

    if left_behind():  # an earlier session and its ducking process were killed: put it back now
        restore_left_behind()
    if choice.mode == "keep":
        yield None
        return
    acting: OtherSound

    def playing() -> bool:
        # From before the first sound (a cue at 0 starts lowered), not while paused (the
        # music comes back until the session resumes).
        return state.status != "Paused"

    if choice.mode == "pause":
        from voice_coach.desktop.players import PausedPlayers

        acting = PausedPlayers(playing)
    else:
        from voice_coach.desktop.ducking import Ducker

        acting = Ducker(state.heard_s, playing, choice.duck_db)
    with signals_end_the_session():
        acting.start()
        try:
            yield acting
        finally:
            acting.close()

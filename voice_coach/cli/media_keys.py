"""Media keys for ``run``: an MPRIS2 player while the session plays, where a session bus
exists (``desktop/mpris.py``). Imported and connected only then, and started once the
first sound is playing, so the first sound never waits for the bus."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from voice_coach.desktop import session_bus_here
from voice_coach.display import status_of

if TYPE_CHECKING:
    from voice_coach.core.render import RenderedSession
    from voice_coach.desktop.mpris import MediaControls
    from voice_coach.keys import KeyReader
    from voice_coach.live import LiveState


@contextlib.contextmanager
def media_keys(
    keys: KeyReader, state: LiveState, session: RenderedSession, name: str, album: str | None
) -> Iterator[MediaControls | None]:
    """Media controls for the session (``None`` without a bus); ``start()`` them once
    the session plays. Closed, and their thread ended, when the session ends."""
    if not session_bus_here():
        yield None
        return
    from voice_coach.desktop.mpris import MediaControls

    timeline = session.timeline
    keys.accept_pushed()

    def title() -> str:
        status = status_of(timeline, state.at_s)
        return ", ".join(part for part in (status.phase, status.rep_words()) if part)

    controls = MediaControls(
        keys.push,
        lambda: state.status,
        lambda: state.at_s,
        lambda: f"{name}: {title()}",
        length_s=timeline.duration_s,
        album=album,
    )
    try:
        yield controls
    finally:
        controls.close()

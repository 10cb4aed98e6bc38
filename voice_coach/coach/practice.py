"""What the coach does around a session: today's session of a program, and its record.

The small coach-level step ``session.py``'s callers use: it reads the practice log for a
program's next session, and records a live session as it plays. Recording never stops
a session: a log that cannot be opened or written costs the record, said once.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from voice_coach.coach.log import Ended, PracticeLog, SessionShape, local_now
from voice_coach.coach.programs import NextSession, load_program, next_session
from voice_coach.core.protocol import Protocol
from voice_coach.core.timeline import Timeline
from voice_coach.errors import LogError

if TYPE_CHECKING:
    from voice_coach.live import LiveResult
    from voice_coach.session import PreparedSession, SessionOptions

SAME_MOMENT_S = 0.05  # stretches this close together count as one (a pause, a resume)


def todays_session(program: str, now: datetime | None = None) -> NextSession:
    """``program``'s next session today, from the practice log (which is not created)."""
    loaded = load_program(program)
    with PracticeLog(create=False) as log:
        entries = log.entries(program=loaded.name, oldest_first=True)
    return next_session(loaded, entries, now or local_now())


def last_program() -> str | None:
    """The program of the most recent entry in the log, if any."""
    with PracticeLog(create=False) as log:
        return log.last_program()


def session_shape(
    protocol: Protocol, voice: str | None, pace: float, plan: NextSession | None
) -> SessionShape:
    """What shaped a session (the protocol as played), as the log records it."""
    hold = [phase.seconds for phase in protocol.phases if phase.kind == "hold"]
    relax = [phase.seconds for phase in protocol.phases if phase.kind == "relax"]
    return SessionShape(
        protocol=protocol.name,
        reps_planned=protocol.reps * protocol.sets,
        sets=protocol.sets,
        hold_s=hold[0] if hold else None,
        relax_s=relax[0] if relax else None,
        pace=pace,
        language=protocol.language,
        voice=voice,
        program=plan.program.name if plan else None,
        stage=plan.stage_number if plan else None,
    )


def session_record(
    prepared: PreparedSession, options: SessionOptions, plan: NextSession | None
) -> SessionRecord:
    """The session's entry, to ``begin`` when it starts playing."""
    shape = session_shape(prepared.protocol, prepared.voice.id, options.pace.factor, plan)
    return SessionRecord(shape)


def reps_done(timeline: Timeline, heard: Sequence[tuple[float, float]]) -> int:
    """Reps played from their start to their end, across pauses; skipped ones are not."""
    merged: list[list[float]] = []
    for start, end in sorted(heard):
        if merged and start <= merged[-1][1] + SAME_MOMENT_S:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    reps: dict[tuple[int | None, int], list[float]] = {}
    for span in timeline.spans:
        if span.kind == "phase" and span.rep is not None:
            bounds = reps.setdefault((span.set, span.rep), [span.start_s, span.end_s])
            bounds[0], bounds[1] = min(bounds[0], span.start_s), max(bounds[1], span.end_s)
    return sum(
        1
        for start, end in reps.values()
        if any(a <= start + SAME_MOMENT_S and b >= end - SAME_MOMENT_S for a, b in merged)
    )


@dataclass
class SessionRecord:
    """A live session's entry in the log: begun on a helper thread beside the first
    sound (opening SQLite and committing must not delay it), finished after.

    ``problem`` holds why it could not be logged, once; the session plays regardless.
    """

    shape: SessionShape
    entry_id: int | None = None
    problem: str | None = None
    _thread: threading.Thread | None = None

    def begin(self) -> None:
        """Start the entry (``unfinished``) now, on a helper thread."""
        started_at = local_now()
        self._thread = threading.Thread(
            target=self._start, args=(started_at,), name="practice-log", daemon=True
        )
        self._thread.start()

    def _start(self, started_at: datetime) -> None:
        try:
            with PracticeLog() as log:
                self.entry_id = log.start(self.shape, started_at)
        except LogError as exc:
            self.problem = exc.one_line()

    def finish_live(self, result: LiveResult, timeline: Timeline) -> None:
        """How a live session ended, with the reps heard through and the skips."""
        ended: Ended = (
            "interrupted" if result.interrupted else "quit" if result.quit else "completed"
        )
        self.finish(ended, reps_done(timeline, result.heard), result.skips)

    def finish(self, ended: Ended, reps: int, skipped: int) -> None:
        if self._thread is not None:
            self._thread.join()
        if self.entry_id is None:
            return
        try:
            with PracticeLog() as log:
                log.finish(self.entry_id, ended, reps, skipped, local_now())
        except LogError as exc:
            self.problem = self.problem or exc.one_line()

    def rate(self, pain: int) -> int | None:
        """Record the rating; the rating before it, for the safety check (``None``: none)."""
        if self.entry_id is None:
            return None
        try:
            with PracticeLog() as log:
                before = log.last_pain(before_id=self.entry_id)
                log.set_pain(self.entry_id, pain)
        except LogError as exc:
            self.problem = self.problem or exc.one_line()
            return None
        return before

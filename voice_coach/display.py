"""What the user sees while a session plays: where they are and how long is left.

``status_of`` is pure (a timeline and a time in, a status out) so it is tested without
a terminal; ``Display`` draws it with rich on a terminal, prints one plain line per cue
elsewhere, and nothing when quiet.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from types import TracebackType
from typing import IO, Any, Literal

from voice_coach.core.timeline import Timeline, span_at
from voice_coach.i18n import N_, _

DisplayMode = Literal["live", "plain", "quiet"]
# The session's own stretches, as the status line names them; a protocol's phases are
# named as its file names them.
SPAN_WORDS = {"lead-in": N_("lead-in"), "set": N_("set"), "rest": N_("rest"), "end": N_("end")}


@dataclass(frozen=True)
class Status:
    protocol: str
    phase: str
    rep: int | None
    reps: int
    set: int | None
    sets: int
    at_s: float
    left_s: float
    fraction: float

    def line(self) -> str:
        parts = [self.protocol, self.phase, self.rep_words(), self.set_words()]
        parts.append(_("{time} left").format(time=clock(self.left_s)))
        return " · ".join(part for part in parts if part)

    def rep_words(self) -> str:
        """ "rep 3 of 10", or nothing outside the reps."""
        if self.rep is None:
            return ""
        return _("rep {rep} of {reps}").format(rep=self.rep, reps=self.reps)

    def set_words(self) -> str:
        """ "set 2 of 3" in a session of sets, else nothing."""
        if self.sets <= 1 or self.set is None:
            return ""
        return _("set {set} of {sets}").format(set=self.set, sets=self.sets)


def clock(seconds: float) -> str:
    """``m:ss``: a length or what is left of it, as a person reads it."""
    minutes, rest = divmod(max(0, round(seconds)), 60)
    return f"{minutes}:{rest:02d}"


def status_of(timeline: Timeline, at_s: float) -> Status:
    """Where the session is at ``at_s`` (clamped to the session)."""
    at_s = min(max(at_s, 0.0), timeline.duration_s)
    span = span_at(timeline, at_s)
    return Status(
        protocol=timeline.protocol,
        phase=span.phase if span.kind == "phase" else _(SPAN_WORDS.get(span.kind, span.kind)),
        rep=span.rep,
        reps=timeline.reps,
        set=span.set,
        sets=timeline.sets,
        at_s=at_s,
        left_s=timeline.duration_s - at_s,
        fraction=at_s / timeline.duration_s if timeline.duration_s else 1.0,
    )


class Display:
    """Shows the session's progress; a context manager because a live line must be
    cleared and the cursor restored however the session ends."""

    def __init__(
        self, timeline: Timeline, mode: DisplayMode, stream: IO[str] | None = None
    ) -> None:
        self.timeline = timeline
        self.mode = mode
        self.stream = stream if stream is not None else sys.stdout
        self._progress: Any = None
        self._task: Any = None
        self._next_cue = 0

    def __enter__(self) -> Display:
        if self.mode == "live":
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn

            console = Console(file=self.stream)
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                console=console,
                transient=True,
                auto_refresh=False,
            )
            self._task = self._progress.add_task("", total=self.timeline.duration_s)
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def show(self, at_s: float, paused: bool = False) -> None:
        """Bring the display up to ``at_s`` (what the user hears now)."""
        if self.mode == "quiet":
            return
        status = status_of(self.timeline, at_s)
        if self._progress is not None and self._task is not None:
            text = status.line() + (" · " + _("paused (space resumes)") if paused else "")
            self._progress.update(self._task, completed=status.at_s, description=text)
            self._progress.refresh()
            return
        cues = self.timeline.cues
        while self._next_cue < len(cues) and cues[self._next_cue].beat_s <= at_s:
            cue = cues[self._next_cue]
            self._next_cue += 1
            if cue.kind == "say":
                self._print(f"{clock(cue.beat_s)}  {cue.text}")

    def message(self, text: str) -> None:
        """A line that stays (paused, skipped, stopped...), above the live line."""
        if self.mode == "quiet":
            return
        if self._progress is not None:
            self._progress.console.print(text, markup=False, highlight=False)
        else:
            self._print(text)

    def _print(self, text: str) -> None:
        try:
            print(text, file=self.stream, flush=True)
        except OSError:
            # The reader went away (``run | head``) or the disk behind a redirect is
            # full: the session is its sound, so it plays on, without its text.
            self.mode = "quiet"

    def jumped(self, at_s: float) -> None:
        """After a skip or resume, plain output continues from the new place."""
        cues = self.timeline.cues
        self._next_cue = next((i for i, c in enumerate(cues) if c.at_s >= at_s), len(cues))

"""A session played live: the player, the keys and the display, held together.

The device's clock decides when every cue sounds (the player pulls samples as the
device needs them); this loop only watches where playback is, draws it, and turns
key presses into pause, resume, skip and quit. It never sleeps to time a cue.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial

from voice_coach.audio.playback import Player
from voice_coach.core.render import RenderedSession
from voice_coach.core.timeline import end_start_s, skip_target_s, span_at
from voice_coach.display import Display, DisplayMode, clock, status_of
from voice_coach.i18n import N_, _
from voice_coach.keys import KeyReader

POLL_S = 0.05
STOP_FADE_MS = 30.0
KEY_HELP = N_("space pauses, n skips to the next set or rest, q ends, Ctrl-C stops")


@dataclass
class LiveState:
    """What the session is doing now, for a remote control to read from another thread:
    ``status`` is ``Playing``, ``Paused`` or ``Stopped``; ``at_s`` what the user hears
    (as of the display's last look); ``heard_s()`` what the user hears at this moment,
    from the device's clock while it is open (``clock``), and ``at_s`` once it closes."""

    status: str = "Stopped"
    at_s: float = 0.0
    clock: Callable[[], float] | None = None
    # Held while the clock is read, and while it is taken away before the device closes:
    # a thread never reads a closed device.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def heard_s(self) -> float:
        with self._lock:
            return self.clock() if self.clock is not None else self.at_s

    @contextmanager
    def clocked(self, clock: Callable[[], float]) -> Iterator[Callable[[], float]]:
        """``clock`` tells what the user hears until the block ends (before the device
        closes); then ``at_s`` does."""
        self.clock = clock
        try:
            yield clock
        finally:
            with self._lock:
                self.clock = None


@dataclass(frozen=True)
class LiveResult:
    """How a live session ended, and where: ``at_s`` is what the user had heard."""

    at_s: float
    finished: bool
    quit: bool
    interrupted: bool
    # The stretches of the session that played, (from_s, to_s) in session time, and
    # how many times ``n`` skipped ahead: what the practice log counts reps from.
    heard: tuple[tuple[float, float], ...] = ()
    skips: int = 0
    underruns: int = 0  # times the device ran short of samples (heard as a gap)

    def summary(self, session: RenderedSession) -> str:
        timeline = session.timeline
        status = status_of(timeline, self.at_s)
        where = ", ".join(filter(None, [status.rep_words() or status.phase, status.set_words()]))
        return _("{at} of {length} ({where})").format(
            at=clock(self.at_s), length=clock(timeline.duration_s), where=where
        )


def play_live(
    session: RenderedSession,
    *,
    backend: str,
    display_mode: DisplayMode,
    pre_roll_s: float = 0.0,
    display_delay_s: float = 0.0,
    keys: KeyReader | None = None,
    before_start: Callable[[], None] | None = None,
    on_start: Callable[[], None] | None = None,
    state: LiveState | None = None,
) -> LiveResult:
    """Play ``session`` to its end, a quit or Ctrl-C (which fades out and returns).

    ``before_start`` is called once the device is open, just before it plays (other
    sound is lowered there: opening the device gives the work time to be ready).
    ``on_start`` is called once the device is playing (the practice log begins its entry
    there: a session that never played is never logged, and the first sound does not
    wait for the log)."""
    timeline = session.timeline
    keys = keys or KeyReader()
    state = state or LiveState()
    rate = session.sample_rate
    with (
        Player(session, backend, pre_roll_s=pre_roll_s) as player,
        Display(timeline, display_mode) as display,
        # Left first, before the device closes: no thread reads a closed device.
        state.clocked(partial(heard_at, player, rate, display_delay_s)) as heard_s,
    ):
        if keys.active:
            display.message(_(KEY_HELP))
        if before_start is not None:
            before_start()
        player.start()
        state.status = "Playing"
        if on_start is not None:
            on_start()
        resume_at: float | None = None
        quitting = False
        heard: list[tuple[float, float]] = []
        from_s: float | None = 0.0  # where the stretch now playing began; None: paused
        skips = 0

        def jumped(now: float, target: float) -> None:
            nonlocal from_s
            if from_s is not None:
                heard.append((from_s, now))
            from_s = target
            display.jumped(target)

        try:
            while not player.wait(timeout=0 if keys.listening else POLL_S):
                key = keys.read(POLL_S) if keys.listening else None
                now = state.at_s = heard_s()
                skips += key == "n"
                if key == " " and resume_at is None:
                    resume_at = span_at(timeline, now).start_s
                    player.pause()
                    heard.append((from_s or 0.0, now))
                    from_s = None
                    state.status = "Paused"
                    display.message(_("Paused at {time}; space resumes").format(time=clock(now)))
                elif key == " " or (key in ("n", "q") and resume_at is not None):
                    target = resume_at if key == " " else None
                    resume_at = None
                    if key == "n":
                        target = skip_target_s(timeline, now)
                    elif key == "q":
                        target, quitting = end_start_s(timeline), True
                    player.resume(session.at_sample(target or 0.0))
                    state.status = "Playing"
                    jumped(now, target or 0.0)
                elif key == "n":
                    target = skip_target_s(timeline, now)
                    player.seek(session.at_sample(target))
                    jumped(now, target)
                elif key == "q" and not quitting:
                    quitting = True
                    target = end_start_s(timeline)
                    player.seek(session.at_sample(target))
                    jumped(now, target)
                display.show(heard_s(), paused=resume_at is not None)
        except KeyboardInterrupt:
            at = state.at_s = heard_s()
            state.status = "Stopped"
            player.stop(STOP_FADE_MS)
            if from_s is not None:
                heard.append((from_s, at))
            return LiveResult(
                at,
                finished=False,
                quit=False,
                interrupted=True,
                heard=tuple(heard),
                skips=skips,
                underruns=player.underruns,
            )
        state.status, state.at_s = "Stopped", timeline.duration_s
        display.show(timeline.duration_s)
        if from_s is not None:
            heard.append((from_s, timeline.duration_s))
        return LiveResult(
            timeline.duration_s,
            finished=not quitting,
            quit=quitting,
            interrupted=False,
            heard=tuple(heard),
            skips=skips,
            underruns=player.underruns,
        )


def heard_at(player: Player, rate: int, display_delay_s: float) -> float:
    """What the user hears now: what the device was given, less its latency and the
    extra delay of, say, Bluetooth headphones."""
    at = player.position_frames / rate - player.output_latency_s - display_delay_s
    return max(0.0, at)

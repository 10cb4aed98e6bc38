"""What the device hears next: the session block by block, with pause, seek and stop
applied at known frames, a fade wherever sound is cut, and the pre-roll that wakes a
device. Pure (no device, no thread): both back-ends feed their device from it.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

# With the module, not on the way to the first sound: numpy.random's first import takes
# milliseconds, and a Ctrl-C or SIGTERM that lands inside it can be lost (its compiled
# code clears errors), which left a session playing on to its end.
from numpy.random import default_rng

DEFAULT_FADE_MS = 20.0
# Pre-roll noise peaks at -66 dBFS: below clip.AUDIBLE_THRESHOLD (what the project calls
# silence), yet not digital zero, which some devices treat as "nothing to wake up for".
PRE_ROLL_PEAK = 5e-4


class Source(Protocol):
    """What a player plays: a ``RenderedSession``, or anything read the same way."""

    @property
    def sample_rate(self) -> int: ...

    @property
    def total_frames(self) -> int: ...

    def read(self, start: int, frames: int) -> np.ndarray: ...


def fade_out(frames: int) -> np.ndarray:
    """Gains from just under 1 down to 0 (a half cosine): no corner for the ear to hear."""
    return (0.5 + 0.5 * np.cos(np.pi * np.arange(1, frames + 1) / frames)).astype(np.float32)


def pre_roll_noise(frames: int) -> np.ndarray:
    rng = default_rng(0)
    return rng.uniform(-PRE_ROLL_PEAK, PRE_ROLL_PEAK, frames).astype(np.float32)


def pause_point(source: Source, frame: int) -> int | None:
    """Where a pause requested at ``frame`` may fall silent without cutting a word."""
    sounding_until = getattr(source, "sounding_until", None)
    return int(sounding_until(frame)) if callable(sounding_until) else None


def fade_frames(rate: int) -> int:
    return max(1, round(DEFAULT_FADE_MS / 1000 * rate))


class Feed:
    """What the device hears next, block by block, with pause, seek and stop applied.

    Pure and single-threaded (the stream output calls it under a lock from its audio
    callback), so each control takes effect at a known frame of the next block.
    """

    def __init__(self, source: Source, pre_roll_frames: int = 0) -> None:
        self.source = source
        self.end = source.total_frames
        self.pre_roll_frames = pre_roll_frames
        self.pos = 0
        self.started = False
        self.paused = False
        self.finished = False
        self.pause_at: int | None = None
        self._pre_roll = np.zeros(0, dtype=np.float32)
        self._fade = np.zeros(0, dtype=np.float32)
        self._fade_done = 0
        self._after_fade: tuple[str, int | None] | None = None

    @property
    def pausing(self) -> bool:
        """Paused, or going to be once the sounding clip or a fade ends."""
        pending = self._after_fade is not None and self._after_fade[0] == "pause"
        return self.paused or self.pause_at is not None or pending

    def start(self, at_frame: int) -> None:
        self.pos = at_frame
        self._pre_roll = pre_roll_noise(self.pre_roll_frames)
        self.started, self.paused, self.finished, self.pause_at = True, False, False, None

    def pause(self, at_frame: int | None) -> None:
        if self.paused or self.finished or self._after_fade is not None:
            return
        if at_frame is None:
            at_frame = pause_point(self.source, self.pos)
        if at_frame is not None and at_frame >= self.pos:
            self.pause_at = at_frame
        else:
            self._begin_fade(("pause", None))

    def resume(self, at_frame: int | None = None) -> None:
        was_paused = self.paused
        self.paused, self.pause_at = False, None
        if self._after_fade is not None and self._after_fade[0] in ("pause", "park"):
            action, frame = self._after_fade
            fade_end = self.pos + len(self._fade) - self._fade_done
            self._after_fade = ("seek", frame if action == "park" else fade_end)
        if at_frame is None:
            return
        if was_paused:
            self.pos = at_frame
        else:
            self.seek(at_frame)

    def seek(self, frame: int) -> None:
        """Jump to ``frame``; a pause asked for and not yet reached lands there, paused."""
        if self.paused or not self.started or len(self._pre_roll):
            self.pos = frame
            return
        then = "park" if self.pausing else "seek"
        self.pause_at = None
        if self._after_fade is None:
            self._begin_fade((then, frame))
        elif self._after_fade[0] != "stop":
            self._after_fade = (then, frame)

    def stop(self, fade_frames: int) -> None:
        if self.paused or not self.started or self.finished:
            self.finished = True
        elif self._after_fade is not None:
            self._after_fade = ("stop", None)
        else:
            self._begin_fade(("stop", None), fade_frames)

    def lost(self, frames: int) -> None:
        """The device played ``frames`` of silence it was never given (an underrun).

        Move on by as much, so every later cue keeps to the device's clock instead of
        arriving late by the length of the gap. Only plain playing is moved: a pre-roll,
        a fade or a pause has no cue time to keep.
        """
        if not self.started or self.finished or self.paused or frames <= 0:
            return
        if self._after_fade is not None or len(self._pre_roll):
            return
        limit = self.end if self.pause_at is None else min(self.end, self.pause_at)
        self.pos = min(self.pos + frames, max(limit, self.pos))

    def _begin_fade(self, then: tuple[str, int | None], frames: int | None = None) -> None:
        frames = frames or max(1, round(DEFAULT_FADE_MS / 1000 * self.source.sample_rate))
        self._fade, self._fade_done, self._after_fade = fade_out(frames), 0, then

    def fill(self, out: np.ndarray) -> bool:
        """Write the next ``len(out)`` samples; True once nothing more will ever sound."""
        i, n = 0, len(out)
        while i < n:
            if self.finished or not self.started:
                out[i:] = 0
                break
            if self._after_fade is not None:
                k = min(n - i, len(self._fade) - self._fade_done)
                gains = self._fade[self._fade_done : self._fade_done + k]
                out[i : i + k] = self.source.read(self.pos, k) * gains
                self.pos, self._fade_done, i = self.pos + k, self._fade_done + k, i + k
                if self._fade_done == len(self._fade):
                    self._end_fade()
                continue
            if len(self._pre_roll):
                k = min(n - i, len(self._pre_roll))
                out[i : i + k] = self._pre_roll[:k]
                self._pre_roll, i = self._pre_roll[k:], i + k
                continue
            if self.paused:
                out[i:] = 0
                break
            if self.pause_at is not None and self.pos >= self.pause_at:
                self.paused, self.pause_at = True, None
                continue
            if self.pos >= self.end:
                self.finished = True
                continue
            limit = self.end if self.pause_at is None else min(self.end, self.pause_at)
            k = min(n - i, limit - self.pos)
            out[i : i + k] = self.source.read(self.pos, k)
            self.pos, i = self.pos + k, i + k
        return self.finished

    def _end_fade(self) -> None:
        assert self._after_fade is not None
        action, frame = self._after_fade
        self._after_fade = None
        self._fade = np.zeros(0, dtype=np.float32)
        if action == "stop":
            self.finished = True
            return
        if frame is not None:
            self.pos = frame
        self.paused = action in ("pause", "park")

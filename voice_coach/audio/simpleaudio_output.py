"""The simpleaudio back-end: whole buffers only, and no word on where it is.

It plays the session from the chosen frame as one buffer (one device stream, so no drift
between cues) and controls it by rewriting the part of that buffer the device has not
taken yet; its position is estimated from the monotonic clock.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import numpy as np

from voice_coach.audio.devices import EXPORT_HINT, one_line, quiet_alsa, to_int16
from voice_coach.audio.feed import Source, fade_frames, fade_out, pause_point, pre_roll_noise
from voice_coach.errors import AudioDeviceError
from voice_coach.i18n import _


class BufferOutput:
    """simpleaudio: the session from a frame as one int16 buffer, played by one call.

    One buffer is one device stream, so cues keep the device's timing exactly. simpleaudio
    reads the buffer in place as it plays, so pausing and stopping rewrite the samples it
    has not taken yet: silence from the pause point, or a fade from a little ahead of the
    estimated play position (``HANDOFF_S`` covers what ALSA and the sound server hold).
    """

    HANDOFF_S = 0.25

    def __init__(self, source: Source, pre_roll_frames: int, restart_frames: int) -> None:
        import simpleaudio

        quiet_alsa()
        self.sa = simpleaudio
        self.source = source
        self.rate = source.sample_rate
        self.pre_roll_frames = pre_roll_frames
        self.restart_frames = restart_frames
        self.latency_s = 0.0
        self.underruns = 0
        self.play_obj: Any = None
        self.buffer = np.zeros(0, dtype=np.int16)
        self.first_frame = 0
        self.lead = 0
        self.started_at = 0.0
        self.stopped = False
        self.paused_at: int | None = None
        self.silent_from: int | None = None

    def _play(self, at_frame: int, pre_roll: bool) -> None:
        """A new stream from ``at_frame``: the full pre-roll at the start, and after a
        pause or seek the short lead any new stream needs."""
        lead = self.pre_roll_frames if pre_roll else self.restart_frames
        frames = max(self.source.total_frames - at_frame, 0)
        buffer = np.empty(lead + frames, dtype=np.int16)
        buffer[:lead] = to_int16(pre_roll_noise(lead))
        block = 1 << 16
        for offset in range(0, frames, block):
            n = min(block, frames - offset)
            buffer[lead + offset : lead + offset + n] = to_int16(
                self.source.read(at_frame + offset, n)
            )
        if len(buffer) == 0:
            self.stopped = True
            return
        try:
            play_obj = self.sa.play_buffer(buffer, 1, 2, self.rate)
        except Exception as error:
            raise AudioDeviceError(
                _(
                    "no audio output device could be opened (back-end: simpleaudio: {one_line})"
                ).format(one_line=one_line(error)),
                _(EXPORT_HINT),
            ) from error
        self.started_at = time.monotonic()
        self.play_obj, self.buffer = play_obj, buffer
        self.first_frame, self.lead = at_frame, lead
        self.stopped, self.paused_at, self.silent_from = False, None, None

    def _played_frames(self) -> int:
        """Buffer frames the clock says have played since the call (an estimate)."""
        return round((time.monotonic() - self.started_at) * self.rate)

    def position_frames(self) -> int:
        if self.paused_at is not None:
            return self.paused_at
        if self.play_obj is None:
            return self.first_frame
        played = self._played_frames() - self.lead
        return min(self.first_frame + max(played, 0), self.source.total_frames)

    def _index(self, frame: int) -> int:
        return frame - self.first_frame + self.lead

    def _silence_from(self, frame: int, fade_frames: int) -> int:
        """Silence the buffer from ``frame``, or with a fade from the earliest frame the
        device cannot have taken yet; returns the frame where it is silent."""
        safe = self.position_frames() + round(self.HANDOFF_S * self.rate)
        if frame >= safe:
            self.buffer[self._index(frame) :] = 0
            return frame
        start = self._index(safe)
        if start < len(self.buffer):
            ramp = self.buffer[start : start + fade_frames].astype(np.float32)
            ramp *= fade_out(fade_frames)[: len(ramp)]
            self.buffer[start : start + len(ramp)] = ramp.astype(np.int16)
            self.buffer[start + len(ramp) :] = 0
        return safe + fade_frames

    def _wait_until(self, frame: int) -> None:
        """Sleep until the clock says ``frame`` has played (and a little after)."""
        remaining = (self._index(frame) - self._played_frames()) / self.rate
        time.sleep(max(remaining, 0.0) + 0.05)

    def _end_play(self) -> None:
        if self.play_obj is not None:
            self.play_obj.stop()
            self.play_obj = None

    def start(self, at_frame: int) -> None:
        self._play(at_frame, pre_roll=True)

    def pause(self, at_frame: int | None) -> None:
        if self.paused_at is not None or self.play_obj is None:
            return
        now = self.position_frames()
        target = at_frame if at_frame is not None else pause_point(self.source, now)
        if target is None or target < now:
            target = now
        silent = self._silence_from(target, fade_frames(self.rate))
        self.paused_at = silent
        self.silent_from = silent

    def resume(self, at_frame: int | None) -> None:
        if self.paused_at is None:
            if at_frame is not None:
                self.seek(at_frame)
            return
        frame = at_frame if at_frame is not None else self.paused_at
        silent_from = self.silent_from if self.silent_from is not None else frame
        self.paused_at = None
        # The old stream plays silence past this point: ending it cannot click.
        self._wait_until(silent_from)
        self._end_play()
        self._play(frame, pre_roll=False)

    def seek(self, frame: int) -> None:
        if self.paused_at is not None:
            self.paused_at = frame
            return
        if self.play_obj is None:
            self.first_frame = frame
            return
        silent = self._silence_from(self.position_frames(), fade_frames(self.rate))
        self._wait_until(silent)
        self._end_play()
        self._play(frame, pre_roll=False)

    def stop(self, fade_frames: int) -> None:
        if self.play_obj is not None and not self.stopped:
            if self.paused_at is None:
                silent = self._silence_from(self.position_frames(), fade_frames)
                self._wait_until(silent)
            self._end_play()
        self.stopped = True

    def wait(self, timeout: float | None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.is_done:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    @property
    def is_done(self) -> bool:
        if self.stopped or self.play_obj is None:
            return self.stopped
        if self.paused_at is not None:
            return False
        return not self.play_obj.is_playing()

    @property
    def paused(self) -> bool:
        return self.paused_at is not None

    def close(self) -> None:
        if not self.is_done:
            self.stop(fade_frames(self.rate))
        self._end_play()


# simpleaudio 1.0.4 frees its play-list entries with PyMem_Free from its own playback
# thread, without the GIL; since Python 3.12 that reads the interpreter state through a
# null thread state and the whole process dies (SIGSEGV) the moment any sound ends.
# The system allocator (PYTHONMALLOC=malloc) does not need the GIL, so it runs there.
_SIMPLEAUDIO_LAST_CRASHING = (1, 0, 4)


def simpleaudio_problem() -> str | None:
    import importlib.metadata  # slow to import: only when this back-end is asked about

    python = (sys.version_info[0], sys.version_info[1])
    try:
        version = importlib.metadata.version("simpleaudio")
    except importlib.metadata.PackageNotFoundError:
        return (
            "simpleaudio is not installed (pip install 'voice-coach[simpleaudio]'; it builds "
            "from source: gcc and libasound2-dev); or use --backend sounddevice"
        )
    refusal = simpleaudio_refusal(python, version, os.environ.get("PYTHONMALLOC"))
    if refusal:
        return refusal
    try:
        import simpleaudio  # noqa: F401
    except (ImportError, OSError) as error:
        return _("simpleaudio did not load on Python {version}: {error}").format(
            version=f"{python[0]}.{python[1]}", error=one_line(error)
        )
    return None


def simpleaudio_refusal(
    python: tuple[int, int], simpleaudio_version: str, pythonmalloc: str | None
) -> str | None:
    """Why this simpleaudio must not play on this Python, or None where it is safe.

    Refused before anything plays: the crash kills the process from a C thread, so no
    exception could ever report it.
    """
    crashes = _version_tuple(simpleaudio_version) <= _SIMPLEAUDIO_LAST_CRASHING
    if crashes and python >= (3, 12) and pythonmalloc not in ("malloc", "malloc_debug"):
        return (
            f"simpleaudio {simpleaudio_version} crashes Python {python[0]}.{python[1]} when a "
            "sound ends (it works on Python 3.11, or here with PYTHONMALLOC=malloc set); "
            "use --backend sounddevice"
        )
    return None


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for part in version.split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)

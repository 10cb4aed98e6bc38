"""The audio device: a rendered session played live, timed by the device's own clock.

Nothing here decides when a cue sounds: the renderer put every cue at its sample, and
the device consumes samples at its own rate, so a cue is heard exactly as far into the
stream as it was placed, however long the session. Two back-ends sit behind one
``Player``, each in a module of its own that imports its library only when chosen:

- ``sounddevice_output`` (PortAudio, the default) pulls each block from a callback at
  the current play position, so pause, seek and stop act at the next block.
- ``simpleaudio_output`` can only play whole buffers and cannot say where it is (how it
  copes: that module's own docstring).

Both read the session through a ``Feed`` (``feed``), which applies pause, seek and stop.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

import numpy as np

from voice_coach.audio.devices import EXPORT_HINT
from voice_coach.audio.feed import DEFAULT_FADE_MS, Source
from voice_coach.audio.simpleaudio_output import BufferOutput, simpleaudio_problem
from voice_coach.audio.sounddevice_output import (
    StreamOutput,
    import_sounddevice,
    sounddevice_problem,
)
from voice_coach.errors import AudioDeviceError, UsageError
from voice_coach.i18n import _

BACKENDS = ("sounddevice", "simpleaudio")
DEFAULT_BACKEND = "sounddevice"
# Every new device stream swallows its first few milliseconds (docs/internals.md), which
# would clip and delay a cue at sample 0; so at least this much near-silence leads.
MIN_PRE_ROLL_S = 0.05
# How much the device is given ahead of what it plays: with PortAudio's "high" a loaded
# machine ran the device short (docs/RELIABILITY.md); this holds, at the cost of a stop
# or pause heard that much later (figures: docs/BENCHMARKS.md, the soak).
DEVICE_LATENCY_S = 0.1


@dataclass(frozen=True, eq=False)
class ArraySource:
    """A few samples in memory read like a session: the test tone, and tests' stand-ins."""

    samples: np.ndarray
    sample_rate: int

    @property
    def total_frames(self) -> int:
        return len(self.samples)

    def read(self, start: int, frames: int) -> np.ndarray:
        out = np.zeros(frames, dtype=np.float32)
        lo, hi = max(start, 0), min(start + frames, len(self.samples))
        if lo < hi:
            out[lo - start : hi - start] = self.samples[lo:hi]
        return out


def test_tone(sample_rate: int = 44_100, seconds: float = 1.0, hz: float = 440.0) -> ArraySource:
    """The doctor's tone: a soft sine with 20 ms ramps at both ends, so the check itself
    does not click."""
    frames = round(seconds * sample_rate)
    t = np.arange(frames) / sample_rate
    tone = 0.25 * np.sin(2 * np.pi * hz * t)
    ramp = min(frames // 2, round(0.02 * sample_rate))
    if ramp:
        edge = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, ramp))
        tone[:ramp] *= edge
        tone[frames - ramp :] *= edge[::-1]
    return ArraySource(tone.astype(np.float32), sample_rate)


test_tone.__test__ = False  # type: ignore[attr-defined]  # pytest: a helper, not a test


def available_backends() -> dict[str, str | None]:
    """Each back-end and why it cannot be used here (``None`` when it can)."""
    return {name: backend_problem(name) for name in BACKENDS}


def backend_problem(backend: str) -> str | None:
    """Why one back-end cannot be used here (``None`` when it can); loads only that one."""
    _check_name(backend)
    return sounddevice_problem() if backend == "sounddevice" else simpleaudio_problem()


def default_output_device(backend: str = DEFAULT_BACKEND) -> str | None:
    """The device a session would play on, by name; ``None`` when there is none."""
    if backend_problem(backend) is not None:
        return None
    if backend == "simpleaudio":
        return "ALSA default" if sys.platform.startswith("linux") else "system default"
    sd = import_sounddevice()
    try:
        device = sd.query_devices(kind="output")
        hostapi = sd.query_hostapis(device["hostapi"])["name"]
    except (sd.PortAudioError, ValueError):
        return None
    return f"{device['name']} ({hostapi})"


def play_test_tone(backend: str = DEFAULT_BACKEND, seconds: float = 1.0) -> None:
    """A one-second tone on the default device, for ``voice-coach doctor``."""
    with Player(test_tone(44_100, seconds), backend) as player:
        player.start()
        player.wait(timeout=seconds + 10)


class Player:
    """A source playing on an output device; opened and closed (``with Player(...) as p``).

    ``start(at_frame)`` begins after ``pre_roll_s`` of near-silence (never less than
    ``MIN_PRE_ROLL_S``), so a device that wakes slowly does not swallow the first word.
    ``pause(at_frame)`` lets what is sounding finish (by default up to
    ``source.sounding_until`` where the source knows it) and then holds silence;
    ``resume(at_frame)`` continues from a frame, e.g. the start of the paused phase;
    ``seek`` jumps; ``stop`` fades out so nothing clicks. ``position_frames`` is the
    source frame the player has reached (handed to the device with sounddevice, by the
    clock with simpleaudio); ``output_latency_s`` later it is heard.
    """

    def __init__(
        self,
        source: Source,
        backend: str = DEFAULT_BACKEND,
        *,
        pre_roll_s: float = 0.0,
        device: int | str | None = None,
        latency: float | str = DEVICE_LATENCY_S,
    ) -> None:
        _check_name(backend)
        if pre_roll_s < 0 or not math.isfinite(pre_roll_s):
            raise UsageError(
                _("pre-roll must be 0 or more seconds, not {pre_roll_s}").format(
                    pre_roll_s=pre_roll_s
                )
            )
        self.source = source
        self.backend = backend
        self.pre_roll_s = pre_roll_s
        self._device = device
        self._latency = latency
        self._out: _Output | None = None

    def __enter__(self) -> Player:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def open(self) -> None:
        """Load the back-end and open the device; AudioDeviceError if either fails."""
        if self._out is not None:
            return
        problem = backend_problem(self.backend)
        if problem is not None:
            raise AudioDeviceError(
                _("the {backend} audio back-end cannot be used: {problem}").format(
                    backend=self.backend, problem=problem
                ),
                _(EXPORT_HINT),
            )
        rate = self.source.sample_rate
        pre_roll_frames = round(max(self.pre_roll_s, MIN_PRE_ROLL_S) * rate)
        if self.backend == "sounddevice":
            self._out = StreamOutput(self.source, pre_roll_frames, self._device, self._latency)
        else:
            self._out = BufferOutput(self.source, pre_roll_frames, round(MIN_PRE_ROLL_S * rate))

    def close(self) -> None:
        """Fade out whatever still plays, then release the device."""
        if self._out is not None:
            out, self._out = self._out, None
            out.close()

    @property
    def _output(self) -> _Output:
        if self._out is None:
            raise RuntimeError("the player is not open: use it as `with Player(...) as p`")
        return self._out

    def start(self, at_frame: int = 0) -> None:
        self._output.start(self._frame(at_frame))

    def pause(self, at_frame: int | None = None) -> None:
        """Silence from ``at_frame`` (default: where what sounds now ends) until resumed."""
        self._output.pause(None if at_frame is None else self._frame(at_frame))

    def resume(self, at_frame: int | None = None) -> None:
        """Play on from ``at_frame`` (default: where the pause fell silent)."""
        self._output.resume(None if at_frame is None else self._frame(at_frame))

    def seek(self, frame: int) -> None:
        """Continue from ``frame``, after a short fade of what sounds now."""
        self._output.seek(self._frame(frame))

    def stop(self, fade_ms: float = DEFAULT_FADE_MS) -> None:
        """Fade out over ``fade_ms`` and end; returns once the device has gone quiet."""
        self._output.stop(max(1, round(fade_ms / 1000 * self.source.sample_rate)))

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the session has ended or stopped; False if ``timeout`` came first."""
        return self._output.wait(timeout)

    @property
    def is_done(self) -> bool:
        return self._output.is_done

    @property
    def paused(self) -> bool:
        """True from the moment a pause is asked for (the sounding clip may still finish)
        until ``resume``."""
        return self._output.paused

    @property
    def position_frames(self) -> int:
        return self._output.position_frames()

    @property
    def output_latency_s(self) -> float:
        """How long after ``position_frames`` a sample is heard, as the device reports it."""
        return self._output.latency_s

    @property
    def underruns(self) -> int:
        """Blocks the device had to play before they were ready (each shifts later cues)."""
        return self._output.underruns

    def _frame(self, frame: int) -> int:
        return min(max(int(frame), 0), self.source.total_frames)


class _Output(Protocol):
    latency_s: float
    underruns: int

    def start(self, at_frame: int) -> None: ...
    def pause(self, at_frame: int | None) -> None: ...
    def resume(self, at_frame: int | None) -> None: ...
    def seek(self, frame: int) -> None: ...
    def stop(self, fade_frames: int) -> None: ...
    def wait(self, timeout: float | None) -> bool: ...
    def close(self) -> None: ...
    def position_frames(self) -> int: ...

    @property
    def is_done(self) -> bool: ...

    @property
    def paused(self) -> bool: ...


def _check_name(backend: str) -> None:
    if backend not in BACKENDS:
        raise UsageError(
            _("unknown audio back-end {backend!r}").format(backend=backend),
            _("choose one of: {items}").format(items=", ".join(BACKENDS)),
        )

"""The audio device: a rendered session played live, timed by the device's own clock.

Nothing here decides when a cue sounds: the renderer put every cue at its sample, and
the device consumes samples at its own rate, so a cue is heard exactly as far into the
stream as it was placed, however long the session. Two back-ends sit behind one
``Player``; their libraries are imported only here, and only when chosen:

- ``sounddevice`` (PortAudio, the default) pulls each block from a callback at the
  current play position, so pause, seek and stop act at the next block.
- ``simpleaudio`` can only play whole buffers and cannot say where it is. It plays the
  session from the chosen frame as one buffer (one device stream, so no drift between
  cues) and controls it by rewriting the part of that buffer the device has not taken
  yet; its position is estimated from the monotonic clock.
"""

from __future__ import annotations

import importlib.metadata
import math
import os
import sys
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol

import numpy as np

from voice_coach.errors import AudioDeviceError, UsageError

BACKENDS = ("sounddevice", "simpleaudio")
DEFAULT_BACKEND = "sounddevice"
EXPORT_HINT = "to listen later, write it to a file: voice-coach export -o session.wav"
DEFAULT_FADE_MS = 20.0
# Pre-roll noise peaks at -66 dBFS: below clip.AUDIBLE_THRESHOLD (what the project calls
# silence), yet not digital zero, which some devices treat as "nothing to wake up for".
PRE_ROLL_PEAK = 5e-4
# Every new device stream swallows its first few milliseconds (measured through
# PulseAudio: 28 ms with sounddevice, 5-10 ms with simpleaudio), which would clip and
# delay a cue at sample 0; so at least this much near-silence always leads.
MIN_PRE_ROLL_S = 0.1


class Source(Protocol):
    """What a player plays: a ``RenderedSession``, or anything read the same way."""

    @property
    def sample_rate(self) -> int: ...

    @property
    def total_frames(self) -> int: ...

    def read(self, start: int, frames: int) -> np.ndarray: ...


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
    return _sounddevice_problem() if backend == "sounddevice" else _simpleaudio_problem()


def default_output_device(backend: str = DEFAULT_BACKEND) -> str | None:
    """The device a session would play on, by name; ``None`` when there is none."""
    if backend_problem(backend) is not None:
        return None
    if backend == "simpleaudio":
        return "ALSA default" if sys.platform.startswith("linux") else "system default"
    sd = _import_sounddevice()
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
        latency: float | str = "high",
    ) -> None:
        _check_name(backend)
        if pre_roll_s < 0 or not math.isfinite(pre_roll_s):
            raise UsageError(f"pre-roll must be 0 or more seconds, not {pre_roll_s}")
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
                f"the {self.backend} audio back-end cannot be used: {problem}", EXPORT_HINT
            )
        rate = self.source.sample_rate
        pre_roll_frames = round(max(self.pre_roll_s, MIN_PRE_ROLL_S) * rate)
        if self.backend == "sounddevice":
            self._out = _StreamOutput(self.source, pre_roll_frames, self._device, self._latency)
        else:
            self._out = _BufferOutput(self.source, pre_roll_frames, round(MIN_PRE_ROLL_S * rate))

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


def fade_out(frames: int) -> np.ndarray:
    """Gains from just under 1 down to 0 (a half cosine): no corner for the ear to hear."""
    return (0.5 + 0.5 * np.cos(np.pi * np.arange(1, frames + 1) / frames)).astype(np.float32)


def pre_roll_noise(frames: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.uniform(-PRE_ROLL_PEAK, PRE_ROLL_PEAK, frames).astype(np.float32)


def _pause_point(source: Source, frame: int) -> int | None:
    """Where a pause requested at ``frame`` may fall silent without cutting a word."""
    sounding_until = getattr(source, "sounding_until", None)
    return int(sounding_until(frame)) if callable(sounding_until) else None


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
            at_frame = _pause_point(self.source, self.pos)
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


class _StreamOutput:
    """sounddevice: an OutputStream whose callback pulls every block from the feed."""

    def __init__(
        self, source: Source, pre_roll_frames: int, device: int | str | None, latency: float | str
    ) -> None:
        self.sd = _import_sounddevice()
        _quiet_alsa()
        self.feed = Feed(source, pre_roll_frames)
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.underruns = 0
        self.rate = source.sample_rate
        self.heard_by: float | None = None
        self.next_dac: float | None = None
        self.stream = self._open(source.sample_rate, device, latency)
        self.latency_s = float(self.stream.latency)

    def _open(self, rate: int, device: int | str | None, latency: float | str) -> Any:
        sd = self.sd
        try:
            sd.query_devices(device, kind="output")
        except (sd.PortAudioError, ValueError) as error:
            raise AudioDeviceError(
                f"no audio output device found (back-end: sounddevice: {_one_line(error)})",
                EXPORT_HINT,
            ) from error
        last: Exception | None = None
        # Mono first; a device that takes only stereo gets the same samples on both sides.
        for channels in (1, 2):
            try:
                return sd.OutputStream(
                    samplerate=rate,
                    channels=channels,
                    dtype="float32",
                    device=device,
                    latency=latency,
                    callback=self._callback,
                    finished_callback=self.done.set,
                )
            except (sd.PortAudioError, ValueError) as error:
                last = error
        raise AudioDeviceError(
            f"the audio output device failed to open (back-end: sounddevice: {_one_line(last)})",
            EXPORT_HINT,
        ) from last

    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        dac = time_info.outputBufferDacTime
        mono = np.empty(frames, dtype=np.float32)
        with self.lock:
            if status.output_underflow:
                self.underruns += 1
                # The device clock ran on through the gap: skip what it played as
                # silence, so the session stays on that clock (no drift after a stall).
                if self.next_dac is not None and dac > 0:
                    self.feed.lost(round((dac - self.next_dac) * self.rate))
            self.next_dac = dac + frames / self.rate if dac > 0 else None
            finished = self.feed.fill(mono)
        outdata[:] = mono[:, None]
        if not finished:
            return
        # Done when the device says the last sample has been heard. PortAudio's own drain
        # (CallbackStop) would do, but through ALSA's pulse plugin it lingers for seconds.
        if self.heard_by is None:
            if time_info.outputBufferDacTime <= 0:
                raise self.sd.CallbackStop
            self.heard_by = time_info.outputBufferDacTime + frames / self.rate
        elif (time_info.currentTime or self.stream.time) >= self.heard_by:
            raise self.sd.CallbackAbort

    def start(self, at_frame: int) -> None:
        with self.lock:
            self.feed.start(at_frame)
            self.heard_by = None
        self.done.clear()
        try:
            self.stream.start()
        except self.sd.PortAudioError as error:
            raise AudioDeviceError(
                f"the audio output device failed to start (back-end: sounddevice: "
                f"{_one_line(error)})",
                EXPORT_HINT,
            ) from error

    def pause(self, at_frame: int | None) -> None:
        with self.lock:
            self.feed.pause(at_frame)

    def resume(self, at_frame: int | None) -> None:
        with self.lock:
            self.feed.resume(at_frame)

    def seek(self, frame: int) -> None:
        with self.lock:
            self.feed.seek(frame)

    def stop(self, fade_frames: int) -> None:
        with self.lock:
            self.feed.stop(fade_frames)
            started = self.feed.started
        if started and self.stream.active:
            fade_s = fade_frames / self.feed.source.sample_rate
            if not self.done.wait(fade_s + self.latency_s + 1.0):
                self.stream.abort()
        self.done.set()

    def wait(self, timeout: float | None) -> bool:
        return self.done.wait(timeout)

    @property
    def is_done(self) -> bool:
        return self.done.is_set()

    @property
    def paused(self) -> bool:
        with self.lock:
            return self.feed.pausing

    def position_frames(self) -> int:
        with self.lock:
            return self.feed.pos

    def close(self) -> None:
        if not self.done.is_set():
            self.stop(round(DEFAULT_FADE_MS / 1000 * self.feed.source.sample_rate))
        self.stream.close()


class _BufferOutput:
    """simpleaudio: the session from a frame as one int16 buffer, played by one call.

    One buffer is one device stream, so cues keep the device's timing exactly. simpleaudio
    reads the buffer in place as it plays, so pausing and stopping rewrite the samples it
    has not taken yet: silence from the pause point, or a fade from a little ahead of the
    estimated play position (``HANDOFF_S`` covers what ALSA and the sound server hold).
    """

    HANDOFF_S = 0.25

    def __init__(self, source: Source, pre_roll_frames: int, restart_frames: int) -> None:
        import simpleaudio

        _quiet_alsa()
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
        buffer[:lead] = _to_int16(pre_roll_noise(lead))
        block = 1 << 16
        for offset in range(0, frames, block):
            n = min(block, frames - offset)
            buffer[lead + offset : lead + offset + n] = _to_int16(
                self.source.read(at_frame + offset, n)
            )
        if len(buffer) == 0:
            self.stopped = True
            return
        try:
            play_obj = self.sa.play_buffer(buffer, 1, 2, self.rate)
        except Exception as error:
            raise AudioDeviceError(
                f"no audio output device could be opened (back-end: simpleaudio: "
                f"{_one_line(error)})",
                EXPORT_HINT,
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
        target = at_frame if at_frame is not None else _pause_point(self.source, now)
        if target is None or target < now:
            target = now
        silent = self._silence_from(target, _fade_frames(self.rate))
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
        silent = self._silence_from(self.position_frames(), _fade_frames(self.rate))
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
            self.stop(_fade_frames(self.rate))
        self._end_play()


_ALSA_SILENCER: Any = None


def _quiet_alsa() -> None:
    """Keep ALSA's own diagnostics ("ALSA lib pcm.c: Unknown PCM default", "underrun
    occurred" as PortAudio aborts a stream) off the user's terminal: the errors that
    matter reach us as exceptions and become one line."""
    global _ALSA_SILENCER
    if _ALSA_SILENCER is not None or not sys.platform.startswith("linux"):
        return
    import ctypes
    import ctypes.util

    try:
        asound = ctypes.CDLL(ctypes.util.find_library("asound") or "libasound.so.2")
        handler_type = ctypes.CFUNCTYPE(
            None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p
        )
        silencer = handler_type(lambda *_: None)
        asound.snd_lib_error_set_handler(silencer)
    except (OSError, AttributeError):
        return
    _ALSA_SILENCER = silencer  # ALSA keeps only the pointer: the callback must live on


def _fade_frames(rate: int) -> int:
    return max(1, round(DEFAULT_FADE_MS / 1000 * rate))


def _to_int16(samples: np.ndarray) -> np.ndarray:
    return np.round(np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16)


def _one_line(error: BaseException | None) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _check_name(backend: str) -> None:
    if backend not in BACKENDS:
        raise UsageError(
            f"unknown audio back-end {backend!r}", f"choose one of: {', '.join(BACKENDS)}"
        )


def _import_sounddevice() -> Any:
    import sounddevice

    return sounddevice


def _sounddevice_problem() -> str | None:
    try:
        _import_sounddevice()
    except ImportError:
        return "the sounddevice package is not installed (pip install sounddevice)"
    except OSError as error:
        return f"the PortAudio library did not load ({_one_line(error)}; on Debian: libportaudio2)"
    return None


# simpleaudio 1.0.4 frees its play-list entries with PyMem_Free from its own playback
# thread, without the GIL; since Python 3.12 that reads the interpreter state through a
# null thread state and the whole process dies (SIGSEGV) the moment any sound ends.
# The system allocator (PYTHONMALLOC=malloc) does not need the GIL, so it runs there.
_SIMPLEAUDIO_LAST_CRASHING = (1, 0, 4)


def _simpleaudio_problem() -> str | None:
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
        return f"simpleaudio did not load on Python {python[0]}.{python[1]}: {_one_line(error)}"
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

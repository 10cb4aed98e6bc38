"""The sounddevice back-end (PortAudio, the default): an output stream whose callback
pulls each block from the feed at the current play position, so pause, seek and stop
act at the next block and the device's own clock times every cue."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from voice_coach.audio.devices import EXPORT_HINT, one_line, quiet_alsa
from voice_coach.audio.feed import DEFAULT_FADE_MS, Feed, Source
from voice_coach.errors import AudioDeviceError
from voice_coach.i18n import _


class StreamOutput:
    """sounddevice: a raw output stream whose callback pulls every block from the feed.

    Raw, so the callback writes into PortAudio's buffer through a numpy view of its own:
    sounddevice's ``OutputStream`` reshapes each block by setting ``ndarray.shape``, which
    NumPy 2.5 deprecates (a warning on every callback, and an error when it is removed).
    """

    def __init__(
        self, source: Source, pre_roll_frames: int, device: int | str | None, latency: float | str
    ) -> None:
        self.sd = import_sounddevice()
        quiet_alsa()
        self.feed = Feed(source, pre_roll_frames)
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.underruns = 0
        self.rate = source.sample_rate
        self.heard_by: float | None = None
        self.next_dac: float | None = None
        self.channels = 1
        self.stream = self._open(source.sample_rate, device, latency)
        self.latency_s = float(self.stream.latency)

    def _open(self, rate: int, device: int | str | None, latency: float | str) -> Any:
        sd = self.sd
        try:
            sd.query_devices(device, kind="output")
        except (sd.PortAudioError, ValueError) as error:
            raise AudioDeviceError(
                _("no audio output device found (back-end: sounddevice: {one_line})").format(
                    one_line=one_line(error)
                ),
                _(EXPORT_HINT),
            ) from error
        last: Exception | None = None
        # Mono first; a device that takes only stereo gets the same samples on both sides.
        for channels in (1, 2):
            try:
                self.channels = channels
                return sd.RawOutputStream(
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
            _("the audio output device failed to open (back-end: sounddevice: {one_line})").format(
                one_line=one_line(last)
            ),
            _(EXPORT_HINT),
        ) from last

    def _callback(self, outdata: Any, frames: int, time_info: Any, status: Any) -> None:
        dac = time_info.outputBufferDacTime
        out = np.frombuffer(outdata, dtype=np.float32).reshape(frames, self.channels)
        mono = out[:, 0] if self.channels == 1 else np.empty(frames, dtype=np.float32)
        with self.lock:
            if status.output_underflow:
                self.underruns += 1
                # The device clock ran on through the gap: skip what it played as
                # silence, so the session stays on that clock (no drift after a stall).
                if self.next_dac is not None and dac > 0:
                    self.feed.lost(round((dac - self.next_dac) * self.rate))
            self.next_dac = dac + frames / self.rate if dac > 0 else None
            finished = self.feed.fill(mono)
        if self.channels > 1:
            out[:] = mono[:, None]
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
                _(
                    "the audio output device failed to start (back-end: sounddevice: {one_line})"
                ).format(one_line=one_line(error)),
                _(EXPORT_HINT),
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


def import_sounddevice() -> Any:
    import sounddevice

    return sounddevice


def sounddevice_problem() -> str | None:
    try:
        import_sounddevice()
    except ImportError:
        return "the sounddevice package is not installed (pip install sounddevice)"
    except OSError as error:
        return _("the PortAudio library did not load ({error}; on Debian: libportaudio2)").format(
            error=one_line(error)
        )
    return None

"""A music bed under an exported session: the music streamed from its file, looped or
cut to the session's length with fades, lowered under every word and tone ahead of it
(the timeline says where each will be before the first sample), and the mix brought to
the session's loudness with its true peak under the ceiling.

Two passes, both streamed, so memory does not grow with the session: the first measures
the speech and the music (K-weighted power per 100 ms hop, true peaks per block) and sets
the gains; the second is the export's own reading of the mix, block by block.
"""

from __future__ import annotations

import bisect
import contextlib
import math
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import numpy as np

from voice_coach.audio.loudness import (
    HOP_STEPS,
    OVERSAMPLE,
    PEAK_MARGIN_DB,
    STEP_S,
    TRUE_PEAK_CEILING_DBTP,
    KWeighting,
    gated_lufs_hops,
)
from voice_coach.core.render import RenderedSession
from voice_coach.core.timeline import Timeline
from voice_coach.errors import UsageError
from voice_coach.i18n import _

DEFAULT_MUSIC_DB = -12.0  # the music between words, against the speech's loudness
MIN_MUSIC_DB, MAX_MUSIC_DB = -40.0, -6.0
UNDER_WORDS_DB = -20.0  # the music under words, against the speech: 10 LU with room
DUCK_LEAD_S = 0.25  # the ramp down ends at a word's first sample
DUCK_RELEASE_S = 0.5  # and back up after its last
DUCK_HOLD_S = 1.5  # words closer than this share one duck: no pumping between counts
FADE_IN_S = 2.0
FADE_OUT_S = 3.0
SEAM_S = 0.05  # each pass of a looped file fades in and out this fast: no click
READ_FRAMES = 16384
MEASURE_HOPS = 30  # the first pass reads whole hops at a time: their sums are a reshape


@dataclass(frozen=True)
class MusicLevels:
    """The gains of a music bed and what they were computed to give."""

    path: Path
    music_gain: float  # the music between words (linear, on the file's own samples)
    duck_gain: float  # further, under words
    mix_gain: float  # the whole mix, speech included
    expected_lufs: float
    expected_peak_dbtp: float
    target_lufs: float | None
    speech_ceiling: float = 1.0  # the words' true peak after ``mix_gain`` (linear)

    @property
    def short_of_target(self) -> bool:
        return self.target_lufs is not None and self.expected_lufs < self.target_lufs - 0.5


class MusicStream:
    """The music file as mono float32 at ``sample_rate``, looped, read in order; the
    session's fades applied by frame of the session."""

    def __init__(self, path: Path, sample_rate: int, total_frames: int) -> None:
        import soundfile

        try:
            with _quiet_decoder():
                self._file = soundfile.SoundFile(str(path))
        except (RuntimeError, OSError, TypeError):  # LibsndfileError is a RuntimeError
            # libsndfile's reason for a file no decoder takes ("possibly a pipe?") misleads.
            raise UsageError(
                _(
                    "--music {file}: is not an audio file voice-coach can read (WAV, FLAC, "
                    "OGG, MP3...)"
                ).format(file=path)
            ) from None
        self.path = path
        self.sample_rate = sample_rate
        self.total_frames = total_frames
        self._source_frames = self._file.frames
        if self._source_frames <= 0:
            self._file.close()
            raise UsageError(_("--music {file}: holds no sound").format(file=path))
        self._resampler = None
        if self._file.samplerate != sample_rate:
            import soxr

            self._resampler = soxr.ResampleStream(
                self._file.samplerate, sample_rate, 1, dtype="float32", quality="HQ"
            )
        self._seam = max(1, round(SEAM_S * self._file.samplerate))
        self._pending = np.zeros(0, dtype=np.float32)
        self._read_frames = 0  # frames of the file read in its current pass
        self.position = 0  # the session frame the next read starts at

    def close(self) -> None:
        self._file.close()

    def read(self, frames: int) -> np.ndarray:
        """The next ``frames`` samples of the bed, the session's fades applied."""
        parts = [self._pending]
        have = len(self._pending)
        while have < frames:
            chunk = self._next_chunk()
            parts.append(chunk)
            have += len(chunk)
        joined = np.concatenate(parts) if len(parts) > 1 else parts[0]
        out, self._pending = joined[:frames].copy(), joined[frames:]
        out *= self._fades(self.position, frames)
        self.position += frames
        return out

    def _next_chunk(self) -> np.ndarray:
        # Where in the file the chunk begins, counted here: libsndfile's tell() on an MP3
        # stays at 0, which put a seam's fade at the start of every chunk.
        at = self._read_frames
        with _quiet_decoder():
            data = self._file.read(READ_FRAMES, dtype="float32", always_2d=True)
            if len(data) == 0:
                self._file.seek(0)
                at = 0
                data = self._file.read(READ_FRAMES, dtype="float32", always_2d=True)
        if len(data) == 0:
            raise UsageError(_("--music {file}: holds no sound").format(file=self.path))
        self._read_frames = at + len(data)
        mono = data.mean(axis=1, dtype=np.float32)
        if at < self._seam or at + len(mono) > self._source_frames - self._seam:
            where = np.arange(at, at + len(mono))
            seam = np.minimum((where + 1) / self._seam, (self._source_frames - where) / self._seam)
            mono *= np.clip(seam, 0.0, 1.0).astype(np.float32)
        if self._resampler is None:
            return mono
        return self._resampler.resample_chunk(mono)

    def _fades(self, start: int, frames: int) -> np.ndarray:
        where = np.arange(start, start + frames, dtype=np.float64)
        fade_in = where / max(1.0, FADE_IN_S * self.sample_rate)
        fade_out = (self.total_frames - where) / max(1.0, FADE_OUT_S * self.sample_rate)
        return np.clip(np.minimum(fade_in, fade_out), 0.0, 1.0).astype(np.float32)


@contextlib.contextmanager
def _quiet_decoder() -> Iterator[None]:
    """The decoders under libsndfile (mpg123 above all) write their own notes to the
    process's standard error ("Note: Illegal Audio-MPEG-Header"); what matters reaches
    us as an exception and becomes one line. Nothing else writes while a file is read."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with Path(os.devnull).open("wb") as null:
            os.dup2(null.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def word_spans(timeline: Timeline) -> list[tuple[float, float]]:
    """Where words and tones sound, merged where less than ``DUCK_HOLD_S`` apart."""
    spans: list[tuple[float, float]] = []
    for cue in sorted(timeline.cues, key=lambda c: c.at_s):
        start, end = cue.at_s, cue.at_s + cue.duration_s
        if spans and start - spans[-1][1] < DUCK_HOLD_S:
            spans[-1] = (spans[-1][0], max(spans[-1][1], end))
        else:
            spans.append((start, end))
    return spans


def duck_weights(
    spans: Sequence[tuple[float, float]], sample_rate: int, start: int, frames: int
) -> np.ndarray:
    """How far ducked each sample of ``[start, start + frames)`` is, from 0 (not at all)
    to 1 (under a word): raised-cosine ramps, down before a span and up after it."""
    weights = np.zeros(frames, dtype=np.float64)
    t = (start + np.arange(frames)) / sample_rate
    t0, t1 = t[0] - DUCK_RELEASE_S, t[-1] + DUCK_LEAD_S
    first = bisect.bisect_left(spans, t0, key=lambda span: span[1])  # ends rise with starts
    for begin, end in spans[first:]:
        if begin - DUCK_LEAD_S > t1:
            break
        inside = np.clip((t - (begin - DUCK_LEAD_S)) / DUCK_LEAD_S, 0.0, 1.0)
        after = np.clip(1.0 - (t - end) / DUCK_RELEASE_S, 0.0, 1.0)
        ramp = np.minimum(inside, after)
        weights = np.maximum(weights, 0.5 - 0.5 * np.cos(np.pi * ramp))
    return weights


def duck_gains(
    spans: Sequence[tuple[float, float]],
    duck_gain: float,
    sample_rate: int,
    start: int,
    frames: int,
) -> np.ndarray:
    weights = duck_weights(spans, sample_rate, start, frames)
    return (1.0 - (1.0 - duck_gain) * weights).astype(np.float32)


class _Hops:
    """K-weighted power per 100 ms hop of a stream of ``total`` frames (an array sized
    once: an hour is 36,000 hops), and with ``peak`` its true peak."""

    def __init__(self, sample_rate: int, total: int, *, peak: bool = False) -> None:
        self.sample_rate = sample_rate
        self.weighting = KWeighting(sample_rate)
        self.per_step = sample_rate * STEP_S
        self.per_hop = self.per_step * HOP_STEPS
        self.sums = np.zeros(math.ceil(total / self.per_hop) + 1)
        self.peak = 0.0
        self.frames = 0
        self._oversampler = None
        if peak:
            import soxr

            self._oversampler = soxr.ResampleStream(
                sample_rate, OVERSAMPLE * sample_rate, 1, dtype="float32", quality="HQ"
            )

    def add(self, block: np.ndarray) -> None:
        squares = np.square(self.weighting(block))
        hop = int(self.per_hop)
        first = int(self.frames // self.per_hop)
        if hop == self.per_hop and self.frames % hop == 0 and len(block) % hop == 0:
            sums = squares.reshape(-1, hop).sum(axis=1)  # whole hops: the usual case
        else:
            where = ((self.frames + np.arange(len(block))) // self.per_hop).astype(np.int64)
            sums = np.bincount(where - first, weights=squares)
        self.sums[first : first + len(sums)] += sums
        if self._oversampler is not None:
            over = self._oversampler.resample_chunk(block)
            self.peak = max(self.peak, float(np.abs(over).max(initial=0.0)))
        self.frames += len(block)

    def hops(self) -> np.ndarray:
        return self.sums / self.per_step

    def lufs(self) -> float:
        return gated_lufs_hops(self.hops(), math.ceil(self.frames / self.per_step))


def measure_bed(
    session: RenderedSession, path: Path, music_db: float = DEFAULT_MUSIC_DB
) -> MusicLevels:
    """The gains that put the music ``music_db`` under the speech between words,
    ``UNDER_WORDS_DB`` under it beneath them, and the mix at the session's target (its
    speech's own loudness without one), true peak under the ceiling."""
    rate, total = session.sample_rate, session.total_frames
    spans = word_spans(session.timeline)
    levels = session.levels
    speech = _Hops(rate, total, peak=levels is None)  # with levels, its peak is known
    music, ducked = _Hops(rate, total, peak=True), _Hops(rate, total)
    duck = 10 ** ((UNDER_WORDS_DB - music_db) / 20)
    stream = MusicStream(path, rate, total)
    block = round(MEASURE_HOPS * rate * STEP_S * HOP_STEPS)
    try:
        for start in range(0, total, block):
            frames = min(block, total - start)
            bed = stream.read(frames)
            speech.add(session.read(start, frames))
            music.add(bed)
            ducked.add(bed * duck_gains(spans, duck, rate, start, frames))
    finally:
        stream.close()
    music_lufs = music.lufs()
    if not math.isfinite(music_lufs):
        raise UsageError(_("--music {file}: is silent").format(file=path))
    speech_lufs = speech.lufs()
    target = levels.target_lufs if levels is not None else None
    aim = target if target is not None else speech_lufs
    music_gain = 10 ** ((speech_lufs + music_db - music_lufs) / 20)
    mix = speech.hops() + music_gain**2 * ducked.hops()
    mix_lufs = gated_lufs_hops(mix, math.ceil(total / speech.per_step))
    # Music between words fills the gaps that gating left out of the speech's loudness,
    # so the mix measures lower than the speech alone: the whole is raised to the aim,
    # and the words' peaks are limited under what the ducked music leaves of the ceiling.
    mix_gain = 10 ** ((aim - mix_lufs) / 20)
    ceiling = 10 ** ((TRUE_PEAK_CEILING_DBTP - PEAK_MARGIN_DB) / 20)
    music_peak = music.peak * music_gain * mix_gain
    if music_peak > ceiling / 2:  # a loud, peaky bed: it gives way, not the words
        music_gain *= ceiling / 2 / music_peak
        music_peak = ceiling / 2
    # Ramps end before a word's first sample: under a word the bed is ducked all the way.
    under_words = music_peak * duck
    speech_ceiling = ceiling - under_words
    words_peak = 10 ** (levels.expected_peak_dbtp / 20) if levels is not None else speech.peak
    speech_peak = words_peak * mix_gain
    peak = max(min(speech_peak, speech_ceiling) + under_words, music_peak)
    return MusicLevels(
        path=path,
        music_gain=music_gain,
        duck_gain=duck,
        mix_gain=mix_gain,
        expected_lufs=aim if math.isfinite(mix_lufs) else -math.inf,
        expected_peak_dbtp=20 * math.log10(peak) if peak > 0 else -math.inf,
        target_lufs=target,
        speech_ceiling=speech_ceiling,
    )


@dataclass(frozen=True, eq=False)
class MixedSession(RenderedSession):
    """A rendered session with a music bed under it, read as the export reads a session:
    in order, block by block. Nothing in it is silence, so a writer skips nothing."""

    bed: MusicLevels | None = None
    spans: tuple[tuple[float, float], ...] = ()  # where the bed is ducked (``word_spans``)
    _state: dict[str, object] = field(default_factory=dict, repr=False)

    @staticmethod
    def of(session: RenderedSession, bed: MusicLevels) -> MixedSession:
        """The session's words raised by the bed's ``mix_gain`` and limited under its
        ``speech_ceiling`` (each distinct clip once, as the render placed it once), with
        the bed under them."""
        from voice_coach.audio.loudness import limit_true_peak

        made: dict[int, np.ndarray] = {}
        placements = []
        for placement in session.placements:
            key = id(placement.samples)
            if key not in made:
                raised = placement.samples * np.float32(bed.mix_gain)
                made[key] = limit_true_peak(raised, session.sample_rate, bed.speech_ceiling)[0]
            placements.append(replace(placement, samples=made[key]))
        values = {f.name: getattr(session, f.name) for f in fields(RenderedSession)}
        values["placements"] = tuple(placements)
        values["longest"] = max((len(p.samples) for p in placements), default=0)
        return MixedSession(**values, bed=bed, spans=tuple(word_spans(session.timeline)))

    def read(self, start: int, frames: int) -> np.ndarray:
        assert self.bed is not None
        stream = self._stream(start)
        bed = stream.read(frames)
        bed *= duck_gains(self.spans, self.bed.duck_gain, self.sample_rate, start, frames)
        speech = RenderedSession.read(self, start, frames)  # raised and limited by ``of``
        mixed = speech + np.float32(self.bed.music_gain * self.bed.mix_gain) * bed
        np.clip(mixed, -1.0, 1.0, out=mixed)
        if stream.position >= self.total_frames:  # the export's last block: the file goes
            self.close()
        return mixed

    def _stream(self, start: int) -> MusicStream:
        stream = self._state.get("stream")
        if not isinstance(stream, MusicStream) or stream.position != start:
            if isinstance(stream, MusicStream):
                stream.close()
            assert self.bed is not None
            stream = MusicStream(self.bed.path, self.sample_rate, self.total_frames)
            while stream.position < start:  # a jump back or ahead: read up to it again
                stream.read(min(READ_FRAMES, start - stream.position))
            self._state["stream"] = stream
        return stream

    def content_key(self, start: int, frames: int) -> tuple[object, ...]:
        return ("mixed", start, frames)  # every block its own: the music never repeats

    def sounding(self) -> Iterator[tuple[int, int]]:
        if self.total_frames:
            yield (0, self.total_frames)

    def close(self) -> None:
        stream = self._state.pop("stream", None)
        if isinstance(stream, MusicStream):
            stream.close()

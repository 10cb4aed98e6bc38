"""Cues plus clips in, sample blocks out, each cue at an exact sample.

One renderer feeds both live playback and export, so what you hear is, sample for
sample, what an export writes. It is random access (``read(start, frames)``): playback
can pause, resume at a phase and skip to a set without re-rendering, and export streams
blocks, so a 60-minute session costs no more memory than a 1-minute one.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

from voice_coach.core.clip import Clip
from voice_coach.core.timeline import Timeline

DEFAULT_BLOCK_FRAMES = 4096


@dataclass(frozen=True)
class Placement:
    """A clip's samples starting at ``at_sample`` of the session."""

    at_sample: int
    samples: np.ndarray


@dataclass(frozen=True)
class SessionLevels:
    """The gains a session is rendered with, and the loudness and true peak they were
    computed to give (``voice_coach.audio.loudness.session_levels``)."""

    speech_gain: float
    tone_gain: float
    target_lufs: float
    expected_lufs: float
    expected_peak_dbtp: float
    # Phrases brought down or up to the others (text -> their gain, for speech_gain).
    phrase_gains: Mapping[str, float] = field(default_factory=dict)

    @property
    def short_of_target(self) -> bool:
        """True when the true-peak ceiling kept the session below its target by more than
        the half LU a loudness target is met within."""
        return self.expected_lufs < self.target_lufs - 0.5


@dataclass(frozen=True, eq=False)
class RenderedSession:
    """The whole session as placements, read as samples on demand.

    ``placements`` are sorted by ``at_sample``; ``longest`` bounds how far back a clip
    that still sounds at a given sample can have started, so a read looks at only the
    few placements that can overlap it.
    """

    timeline: Timeline
    sample_rate: int
    total_frames: int
    placements: tuple[Placement, ...]
    starts: tuple[int, ...]
    longest: int
    levels: SessionLevels | None = None

    def at_sample(self, seconds: float) -> int:
        """The sample a time falls on: the one rule every part of the program uses."""
        return round(seconds * self.sample_rate)

    def read(self, start: int, frames: int) -> np.ndarray:
        """``frames`` mono float32 samples from ``start``; silence past the end."""
        out = np.zeros(frames, dtype=np.float32)
        for placement, lo, hi in self._sounding_in(start, start + frames):
            out[lo - start : hi - start] += placement.samples[
                lo - placement.at_sample : hi - placement.at_sample
            ]
        np.clip(out, -1.0, 1.0, out=out)
        return out

    def content_key(self, start: int, frames: int) -> tuple[object, ...]:
        """What ``read(start, frames)`` is made of: its length, and for each clip sounding
        in it, where in the block it starts sounding, from which of its samples, and
        which samples they are (clips of the same words share one array; where each
        ends follows from these). Within one session, equal keys read equal samples, so
        a writer converts a block once and reuses it wherever the session repeats it: a
        10-minute session is 404 cues made of 8 distinct clips. (A key names arrays by
        ``id``: it means nothing beside another session's.)"""
        parts = self._sounding_in(start, start + frames)
        return (
            frames,
            *((lo - start, lo - p.at_sample, id(p.samples)) for p, lo, _ in parts),
        )

    def _sounding_in(self, start: int, end: int) -> Iterator[tuple[Placement, int, int]]:
        """Each placement that sounds in ``[start, end)``, with the part ``[lo, hi)`` where."""
        first = bisect.bisect_left(self.starts, start - self.longest)
        last = bisect.bisect_left(self.starts, end)
        for placement in self.placements[first:last]:
            lo = max(start, placement.at_sample)
            hi = min(end, placement.at_sample + len(placement.samples))
            if lo < hi:
                yield placement, lo, hi

    def sounding_until(self, frame: int) -> int:
        """The first frame at or after ``frame`` when no clip that started before it still
        sounds: where a pause can fall silent without cutting a word."""
        first = bisect.bisect_left(self.starts, frame - self.longest)
        last = bisect.bisect_right(self.starts, frame)
        ends = [
            p.at_sample + len(p.samples)
            for p in self.placements[first:last]
            if p.at_sample + len(p.samples) > frame
        ]
        return max(ends, default=frame)

    def sounding(self) -> Iterator[tuple[int, int]]:
        """The stretches ``[start, end)`` where some clip sounds, in order and merged where
        clips touch or overlap; every sample outside them is silence (exactly zero).

        A writer that can seek skips the silence instead of rendering and writing it:
        in a default session three quarters of the samples are silence.
        """
        run: tuple[int, int] | None = None
        for placement in self.placements:
            start = placement.at_sample
            end = start + len(placement.samples)
            if start == end:
                continue
            if run is not None and start <= run[1]:
                run = (run[0], max(run[1], end))
                continue
            if run is not None:
                yield run
            run = (start, end)
        if run is not None:
            yield run

    def blocks(
        self, block_frames: int = DEFAULT_BLOCK_FRAMES, start: int = 0
    ) -> Iterator[np.ndarray]:
        """The session from ``start`` to its end, ``block_frames`` at a time."""
        for block_start in range(start, self.total_frames, block_frames):
            yield self.read(block_start, min(block_frames, self.total_frames - block_start))


def resample(clip: Clip, sample_rate: int) -> Clip:
    """The clip at another rate, with a proper anti-aliasing filter (soxr, high quality).

    soxr's one-shot resampler compensates its own filter delay, so the first audible
    sample stays where it was in time and cue times stay exact.
    """
    if clip.sample_rate == sample_rate:
        return clip
    import soxr  # only a rate change needs it

    samples = soxr.resample(clip.samples, clip.sample_rate, sample_rate, quality="HQ")
    return Clip(np.ascontiguousarray(samples, dtype=np.float32), sample_rate)


def render(
    timeline: Timeline,
    speech: Mapping[str, Clip],
    tones: Mapping[str, Clip],
    sample_rate: int,
    speech_volume: float = 1.0,
    levels: SessionLevels | None = None,
) -> RenderedSession:
    """Place every cue's clip at ``round(at_s * sample_rate)``.

    ``speech`` maps each spoken text to its trimmed clip and ``tones`` each tone name to
    its clip; each distinct clip is resampled once and shared by every cue that uses it.
    ``levels`` (computed before, from the clips' loudness figures) sets the gains of
    speech and tones; without them the speech is scaled by ``speech_volume`` alone. The
    gain is applied here, once per distinct clip, so live playback and export, which
    both read this session, play the same samples.
    """
    speech_gain = levels.speech_gain if levels is not None else speech_volume
    tone_gain = levels.tone_gain if levels is not None else 1.0
    ready: dict[tuple[str, str], np.ndarray] = {}

    def samples_for(kind: str, key: str, clip: Clip, gain: float) -> np.ndarray:
        if (kind, key) not in ready:
            data = resample(clip, sample_rate).samples.astype(np.float32, copy=False)
            ready[(kind, key)] = data * np.float32(gain) if gain != 1.0 else data
        return ready[(kind, key)]

    placements: list[Placement] = []
    for cue in timeline.cues:
        if cue.kind == "say":
            assert cue.text is not None
            gain = speech_gain if levels is None else levels.phrase_gains.get(cue.text, speech_gain)
            data = samples_for("say", cue.text, speech[cue.text], gain)
        else:
            assert cue.tone is not None
            data = samples_for("tone", cue.tone, tones[cue.tone], tone_gain)
        placements.append(Placement(round(cue.at_s * sample_rate), data))
    placements.sort(key=lambda p: p.at_sample)
    ends = [p.at_sample + len(p.samples) for p in placements]
    total = max([round(timeline.duration_s * sample_rate), *ends])
    return RenderedSession(
        timeline=timeline,
        sample_rate=sample_rate,
        total_frames=total,
        placements=tuple(placements),
        starts=tuple(p.at_sample for p in placements),
        longest=max((len(p.samples) for p in placements), default=0),
        levels=levels,
    )

"""Finding where sounds start in real audio, in samples: how every timing test measures.

An energy detector: a sound is a stretch louder than ``level`` (well above noise and
codec hiss); stretches closer than ``min_gap_s`` are one sound (the syllables of a
phrase, a tone and the word right after it). Each onset is then refined back to the
first sample above ``floor`` that still belongs to the sound, because speech and tones
fade in: the loud part starts milliseconds after the sound does.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile

AUDIBLE = 1e-3  # the renderer's "first audible sample" (voice_coach.core.clip.AUDIBLE_THRESHOLD)


def read_audio(path: Path | str) -> tuple[np.ndarray, int]:
    """Mono float32 samples and the rate of an audio file."""
    data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    return data.mean(axis=1), rate


def find_onsets(
    samples: np.ndarray,
    rate: int,
    *,
    min_gap_s: float = 0.12,
    level: float = 0.02,
    floor: float | None = None,
    refine_s: float = 0.03,
) -> list[int]:
    """The first sample of each sound that follows at least ``min_gap_s`` of quiet.

    ``floor`` defaults to the renderer's audible threshold, raised above the noise of a
    recording (four times the level of its quietest tenth), so the same call works on an
    export and on a recording from a sound card's monitor.
    """
    magnitude = np.abs(np.asarray(samples, dtype=np.float32))
    loud = np.flatnonzero(magnitude > level)
    if loud.size == 0:
        return []
    if floor is None:
        floor = max(AUDIBLE, 4.0 * noise_level(magnitude, rate))
    breaks = np.flatnonzero(np.diff(loud) > min_gap_s * rate)
    starts = np.concatenate([[loud[0]], loud[breaks + 1]])
    refine = round(refine_s * rate)
    joined = round(0.01 * rate)
    onsets = []
    for start in starts:
        onset = int(start)
        window_start = max(0, onset - refine)
        above = np.flatnonzero(magnitude[window_start:onset] > floor) + window_start
        for index in above[::-1]:
            if onset - index > joined:
                break
            onset = int(index)
        onsets.append(onset)
    return onsets


def noise_level(magnitude: np.ndarray, rate: int) -> float:
    """The level of the quietest tenth of 10 ms windows: the recording's noise floor."""
    window = max(1, rate // 100)
    usable = len(magnitude) // window * window
    if usable == 0:
        return 0.0
    peaks = magnitude[:usable].reshape(-1, window).max(axis=1)
    return float(np.quantile(peaks, 0.1))


def expected_onsets(cues: Sequence[dict], rate: int, min_gap_s: float = 0.12) -> list[int]:
    """Where ``find_onsets`` should find sounds, from ``script --json`` cues.

    Only cues that start after ``min_gap_s`` of quiet are separate onsets (a word right
    after its tone is part of the tone's sound), so those are the ones to expect.
    """
    expected = []
    sounding_until = -np.inf
    for cue in sorted(cues, key=lambda c: c["at_s"]):
        if cue["at_s"] - sounding_until >= min_gap_s:
            expected.append(round(cue["at_s"] * rate))
        sounding_until = max(sounding_until, cue["at_s"] + cue["duration_s"])
    return expected


def cue_onsets(found: Sequence[int], cues: Sequence[dict], rate: int, offset: int = 0) -> list[int]:
    """The found onsets that start sounds, leaving out pauses inside a phrase.

    A sentence has pauses at its commas and full stops; an onset after one lies inside
    a cue's own span (``at_s`` to ``at_s + duration_s``, shifted by ``offset`` samples
    for a codec's delay or a recording's start), so it is a syllable, not a cue.
    """
    margin = round(0.02 * rate)
    spans = [
        (round(c["at_s"] * rate) + offset, round((c["at_s"] + c["duration_s"]) * rate) + offset)
        for c in cues
    ]
    return [f for f in found if not any(start + margin < f <= end for start, end in spans)]


def onset_errors(expected: Sequence[int], found: Sequence[int], rate: int) -> list[float]:
    """Each expected onset's error in milliseconds against the nearest found one.

    Fails loudly (AssertionError) when the counts differ, because a missing or extra
    sound is a timing failure in itself.
    """
    assert len(found) == len(expected), f"found {len(found)} onsets, expected {len(expected)}"
    return [(f - e) * 1000.0 / rate for e, f in zip(expected, found, strict=True)]


def fit_drift(expected: Sequence[int], found: Sequence[int], rate: int) -> tuple[float, float]:
    """How far found onsets run away from the expected ones: (slope error in parts per
    million, largest residual in milliseconds) of a straight-line fit, found against
    expected. A clock that runs fast or slow shows as the slope, however small each gap's
    own error; what is left after the fit is the detector's and the device's jitter."""
    assert len(found) == len(expected) >= 3, (len(found), len(expected))
    x = (np.asarray(expected, dtype=np.float64) - expected[0]) / rate
    y = (np.asarray(found, dtype=np.float64) - found[0]) / rate
    slope, intercept = np.polyfit(x, y, 1)
    residuals_ms = (y - (slope * x + intercept)) * 1000.0
    return float((slope - 1.0) * 1e6), float(np.max(np.abs(residuals_ms)))


def heard_at_s(samples: np.ndarray, rate: int) -> float:
    """Where a sound is heard, by the issue's words, written out step by step and apart
    from ``voice_coach.audio.onset`` so each checks the other: at each whole millisecond
    from the start, the RMS of the 10 ms centred on it (silence outside the samples);
    the first millisecond whose RMS reaches half the largest one."""
    padded = np.concatenate([np.zeros(rate), np.asarray(samples, dtype=np.float64), np.zeros(rate)])
    width = round(rate / 100)
    levels = []
    for ms in range(len(samples) * 1000 // rate + 1):
        first = rate + round(ms * rate / 1000) - width // 2
        window = padded[first : first + width]
        levels.append(float(np.sqrt(np.mean(window * window))))
    loudest = max(levels)
    if loudest == 0.0:
        return 0.0
    return next(ms for ms, level in enumerate(levels) if level >= loudest / 2) / 1000

"""Where a word is heard: its perceived onset, measured on the clip alone.

A word is placed by its first sample, but it is heard where its energy arrives: "Squeeze"
starts with a soft hiss and is heard some 160 ms later, at its vowel. So that counts
sound on their beat, the timeline places each word by this onset instead.

The measure (pure numpy; the README and the end-to-end test use the same words): the RMS
at a time is taken over the 10 ms centred on it (samples outside the clip count as
silence); the onset is the first whole millisecond from the clip's start at which that
RMS reaches half the largest such RMS anywhere in the clip.
"""

from __future__ import annotations

import numpy as np

STEPS_PER_S = 1000
WINDOW_S = 0.010
ONSET_FRACTION = 0.5


def perceived_onset_s(samples: np.ndarray, sample_rate: int) -> float:
    """Seconds from the clip's first sample to where it is heard (0.0 for silence)."""
    data = np.asarray(samples, dtype=np.float64)
    if data.size == 0:
        return 0.0
    rms = windowed_rms(data, sample_rate)
    loudest = float(rms.max())
    if loudest <= 0.0:
        return 0.0
    first = int(np.argmax(rms >= ONSET_FRACTION * loudest))
    return first / STEPS_PER_S


def windowed_rms(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """The RMS over the 10 ms centred on each whole millisecond of the clip.

    One cumulative sum of squares serves every window, so a clip costs one pass however
    many steps it has.
    """
    window = max(1, round(WINDOW_S * sample_rate))
    half = window // 2
    steps = len(samples) * STEPS_PER_S // sample_rate + 1
    centres = np.round(np.arange(steps) * sample_rate / STEPS_PER_S).astype(np.int64)
    energy = np.concatenate([[0.0], np.cumsum(samples * samples)])
    lo = np.clip(centres - half, 0, len(samples))
    hi = np.clip(centres - half + window, 0, len(samples))
    return np.sqrt((energy[hi] - energy[lo]) / window)

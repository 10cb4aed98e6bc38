"""A short piece of mono audio: a spoken phrase or a tone, as a value."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Clip:
    """Mono float32 samples in [-1, 1] at ``sample_rate``.

    Clips are values: operations return new clips, so a cached clip can be shared by
    every cue that speaks the same words.
    """

    samples: np.ndarray
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


# -60 dBFS: quieter than this is silence. espeak-ng pads with exact zeros and its
# consonants rise past this within a sample or two, so trimming here cuts only padding.
AUDIBLE_THRESHOLD = 1e-3


def trim_silence(clip: Clip, threshold: float = AUDIBLE_THRESHOLD) -> Clip:
    """The clip from its first audible sample to its last.

    A cue is placed by its first sample, so any silence the engine leaves in front of a
    phrase would make every word land late, and silence behind it would make a phrase
    look longer than it is when the timeline checks whether it fits. A clip with no
    audible sample comes back empty; the caller decides whether that is an error.
    """
    loud = np.flatnonzero(np.abs(clip.samples) > threshold)
    if loud.size == 0:
        return Clip(clip.samples[:0], clip.sample_rate)
    return Clip(clip.samples[loud[0] : loud[-1] + 1], clip.sample_rate)

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

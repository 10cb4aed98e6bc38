"""Loudness (ITU-R BS.1770): each clip measured once, the session's gain computed from that.

A session is a few distinct clips placed hundreds of times, so its integrated loudness
follows from where they are placed and each clip's K-weighted power, step by step: the
gain is known before the first sample is rendered (``run`` and ``-o -`` cannot render
first), and the same gain serves live playback and export.

Two halves, kept apart so a warm start never imports a loudness library:

- **When a clip is made** (a phrase entering the phrase cache, a tone written by
  ``scripts/make_sounds.py``): ``prepare_clip`` limits its true peak and measures it,
  with pyloudnorm's K-weighting filters and soxr's 4x oversampling.
- **Every session** (numpy only): ``session_levels`` lays the clips' figures on a grid
  of 10 ms steps, gates them as BS.1770 does (400 ms blocks every 100 ms, the absolute
  gate at -70 LUFS, the relative gate 10 LU below), and returns the gains.

Speech's peak-to-loudness ratio (21-23 dB) exceeds what -19 LUFS under -1 dBTP allows
(18 dB), so each phrase's true peak is limited to ``CLIP_PEAK_ABOVE_LU`` above its own
loudness when it is made; a gain alone then meets both.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from voice_coach.clip import Clip
from voice_coach.render import SessionLevels

STEP_S = 0.01
BLOCK_STEPS = 40  # 400 ms gating blocks
HOP_STEPS = 10  # every 100 ms (75 % overlap)
ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = 10.0
K_OFFSET_DB = -0.691
TRUE_PEAK_CEILING_DBTP = -1.0
PEAK_MARGIN_DB = 0.2  # under the ceiling, for what the grid's estimate can miss
CLIP_PEAK_ABOVE_LU = 12.0
LIMITER_ROUNDS = 4
PHRASE_ABOVE_MEDIAN_LU = 3.0
TONES_BELOW_SPEECH_LU = 3.0
DEFAULT_LUFS = -19.0  # mono (AES TD1008: spoken word; a stereo file would be -16)
MIN_LUFS = -30.0
MAX_LUFS = -10.0
OVERSAMPLE = 4
_TAIL_S = 0.05  # the K-weighting filter's ring-out after a clip's last sample
RECORD_VERSION = 1


@dataclass(frozen=True, eq=False)
class ClipLoudness:
    """A clip's loudness figures: its K-weighted power in each 10 ms step from its first
    sample (mean square, so the same at any sample rate) and its true peak (linear)."""

    power: np.ndarray
    true_peak: float

    def to_record(self) -> dict[str, object]:
        """The figures as a JSON-ready record, for the phrase cache entry's metadata."""
        return {
            "version": RECORD_VERSION,
            "true_peak": float(self.true_peak),
            "power": [float(f"{value:.6g}") for value in self.power],
        }

    @staticmethod
    def from_record(record: object) -> ClipLoudness | None:
        """The figures from ``to_record``'s form, or ``None`` if it is not that form."""
        if not isinstance(record, dict) or record.get("version") != RECORD_VERSION:
            return None
        try:
            power = np.asarray(record["power"], dtype=np.float64)
            peak = float(record["true_peak"])
        except (KeyError, TypeError, ValueError):
            return None
        if power.ndim != 1 or not np.all(np.isfinite(power)) or not math.isfinite(peak):
            return None
        return ClipLoudness(power, peak)


def parse_loudness(value: str) -> float | None:
    """``--loudness``: a target in LUFS from -30 to -10, or ``off`` (``None``)."""
    from voice_coach.errors import UsageError

    if value.strip().lower() == "off":
        return None
    try:
        target = float(value)
    except ValueError:
        target = math.nan
    if not MIN_LUFS <= target <= MAX_LUFS:
        raise UsageError(
            f"--loudness {value!r} must be a loudness from {MIN_LUFS:g} to {MAX_LUFS:g} "
            "LUFS, or off",
            f"the default is {DEFAULT_LUFS:g}",
        )
    return target


# --- the session: numpy only ------------------------------------------------------------


def gated_lufs(power: np.ndarray) -> float:
    """Integrated loudness of a signal given as K-weighted power per 10 ms step, gated
    as BS.1770-4 gates it (``-inf`` for silence)."""
    if len(power) < BLOCK_STEPS:
        power = np.pad(power, (0, BLOCK_STEPS - len(power)))
    sums = np.concatenate(([0.0], np.cumsum(power)))
    starts = np.arange(0, len(power) - BLOCK_STEPS + 1, HOP_STEPS)
    blocks = (sums[starts + BLOCK_STEPS] - sums[starts]) / BLOCK_STEPS
    with np.errstate(divide="ignore"):
        loudness = K_OFFSET_DB + 10 * np.log10(blocks)
    kept = blocks[loudness >= ABSOLUTE_GATE_LUFS]
    if kept.size == 0:
        return -math.inf
    relative = K_OFFSET_DB + 10 * math.log10(kept.mean()) - RELATIVE_GATE_LU
    kept = blocks[(loudness > relative) & (loudness >= ABSOLUTE_GATE_LUFS)]
    return K_OFFSET_DB + 10 * math.log10(kept.mean()) if kept.size else -math.inf


def session_power(placed: Iterable[tuple[float, ClipLoudness]], duration_s: float) -> np.ndarray:
    """The session's K-weighted power per step: each clip's figures laid at its start.

    A start between two steps is shared between them by its fraction. Clips that sound
    at once add their powers (their cross term averages out): they rarely do.
    """
    steps = math.ceil(duration_s / STEP_S) + 2
    placed = list(placed)
    steps = max([steps, *(int(at_s / STEP_S) + len(f.power) + 2 for at_s, f in placed)])
    grid = np.zeros(steps)
    for at_s, figures in placed:
        first, fraction = divmod(at_s / STEP_S, 1.0)
        index = int(first)
        count = len(figures.power)
        grid[index : index + count] += (1.0 - fraction) * figures.power
        grid[index + 1 : index + 1 + count] += fraction * figures.power
    return grid


def session_levels(
    speech: Iterable[tuple[float, str, ClipLoudness]],
    tones: Iterable[tuple[float, ClipLoudness]],
    duration_s: float,
    target_lufs: float,
    volume: float = 1.0,
) -> SessionLevels:
    """The gains that bring the session to ``target_lufs``, with the tones
    ``TONES_BELOW_SPEECH_LU`` below the speech (``volume`` then scales the speech), and
    no true peak above the ceiling: where the target would break it, the gain stops there.

    ``speech`` is (start in seconds, text, figures) for every spoken cue, ``tones``
    (start, figures) for every tone. A phrase more than ``PHRASE_ABOVE_MEDIAN_LU`` louder
    than the session's median phrase is brought down to that: a voice that makes short
    words loud (Piper scales every sentence to the same peak) would otherwise hold the
    whole session's gain down by its loudest count word.
    """
    speech, tones = list(speech), list(tones)
    own = {text: clip_lufs(figures) for _, text, figures in speech}
    finite = [value for value in own.values() if math.isfinite(value)]
    cap = float(np.median(finite)) + PHRASE_ABOVE_MEDIAN_LU if finite else math.inf
    trim_db = {text: min(0.0, cap - value) if math.isfinite(value) else 0.0
               for text, value in own.items()}  # fmt: skip
    speech_power = (
        session_power(
            [(at_s, _scaled(figures, trim_db[text])) for at_s, text, figures in speech], duration_s
        )
        * volume**2
    )
    tone_power = session_power(tones, duration_s)
    speech_lufs, tone_lufs = gated_lufs(speech_power), gated_lufs(tone_power)
    tone_db = 0.0
    if math.isfinite(speech_lufs) and math.isfinite(tone_lufs):
        tone_db = speech_lufs - TONES_BELOW_SPEECH_LU - tone_lufs
    steps = max(len(speech_power), len(tone_power))
    mix = np.pad(speech_power, (0, steps - len(speech_power)))
    mix += np.pad(tone_power, (0, steps - len(tone_power))) * 10 ** (tone_db / 10)
    mix_lufs = gated_lufs(mix)
    if not math.isfinite(mix_lufs):  # nothing sounds: nothing to scale
        return SessionLevels(volume, 1.0, target_lufs, mix_lufs, -math.inf)
    gain_db = target_lufs - mix_lufs
    peaks = [_db(f.true_peak * volume) + trim_db[text] for _, text, f in speech]
    peaks += [_db(f.true_peak) + tone_db for _, f in tones]
    peak_db = max(peaks, default=-math.inf)
    ceiling = TRUE_PEAK_CEILING_DBTP - PEAK_MARGIN_DB
    gain_db = min(gain_db, ceiling - peak_db)
    speech_gain = volume * 10 ** (gain_db / 20)
    return SessionLevels(
        speech_gain=speech_gain,
        tone_gain=10 ** ((gain_db + tone_db) / 20),
        target_lufs=target_lufs,
        expected_lufs=mix_lufs + gain_db,
        expected_peak_dbtp=peak_db + gain_db,
        phrase_gains={
            text: speech_gain * 10 ** (trim / 20) for text, trim in trim_db.items() if trim < 0
        },
    )


def _scaled(figures: ClipLoudness, gain_db: float) -> ClipLoudness:
    if gain_db == 0.0:
        return figures
    return ClipLoudness(
        figures.power * 10 ** (gain_db / 10), figures.true_peak * 10 ** (gain_db / 20)
    )


def _db(linear: float) -> float:
    return 20 * math.log10(linear) if linear > 0 else -math.inf


# --- a clip as it is made: pyloudnorm and soxr ---------------------------------------------


def measure_clip(samples: np.ndarray, sample_rate: int) -> ClipLoudness:
    """The clip's figures: K-weighted (pyloudnorm's BS.1770 filters) power per 10 ms step
    from its first sample, its ring-out included, and its true peak."""
    import pyloudnorm

    meter = pyloudnorm.Meter(sample_rate)
    weighted = np.concatenate([samples, np.zeros(round(_TAIL_S * sample_rate))]).astype(np.float64)
    for stage in meter._filters.values():  # the K-weighting stages integrated_loudness uses
        weighted = stage.apply_filter(weighted)
    squares = np.concatenate(([0.0], np.cumsum(weighted**2)))
    per_step = sample_rate * STEP_S
    edges = np.minimum(
        np.round(np.arange(math.ceil(len(weighted) / per_step) + 1) * per_step).astype(int),
        len(weighted),
    )
    power = (squares[edges[1:]] - squares[edges[:-1]]) / per_step
    return ClipLoudness(power, true_peak(samples, sample_rate))


def true_peak(samples: np.ndarray, sample_rate: int) -> float:
    """The largest magnitude of the signal oversampled 4x (BS.1770-4, Annex 2)."""
    if len(samples) == 0:
        return 0.0
    return float(np.max(np.abs(_oversampled(samples, sample_rate))))


def clip_lufs(figures: ClipLoudness) -> float:
    """A clip's own loudness: its power over the steps where it sounds, ungated (a word
    is shorter than a gating block)."""
    power = figures.power[: -round(_TAIL_S / STEP_S)] if len(figures.power) > 5 else figures.power
    mean = float(np.mean(power)) if len(power) else 0.0
    return K_OFFSET_DB + 10 * math.log10(mean) if mean > 0 else -math.inf


def limit_true_peak(samples: np.ndarray, sample_rate: int, ceiling: float) -> np.ndarray:
    """The samples with every true peak above ``ceiling`` (linear) brought down to it.

    A look-ahead limiter: the gain each sample needs (from the 4x oversampled signal) is
    held over 5 ms either side and smoothed over 5 ms, so it falls before a peak and
    rises after it without clicks. Checked afterwards, and repeated (a little lower) in
    the rare case the smoothing let an inter-sample peak through.
    """
    out = np.asarray(samples, dtype=np.float32)
    window = max(1, round(0.005 * sample_rate))
    for attempt in range(4):
        over = _oversampled(out, sample_rate)
        frames = len(out)
        peaks = np.abs(over[: frames * OVERSAMPLE]).reshape(frames, OVERSAMPLE).max(axis=1)
        goal = ceiling * (0.99**attempt)
        if peaks.max(initial=0.0) <= ceiling:
            return out
        needed = np.minimum(1.0, goal / np.maximum(peaks, 1e-12))
        held = _running_min(needed, window)
        kernel = np.ones(window) / window
        smooth = np.convolve(np.pad(held, (window, window), mode="edge"), kernel, mode="same")
        out = (out * smooth[window:-window]).astype(np.float32)
    return out


def _running_min(values: np.ndarray, half: int) -> np.ndarray:
    """The smallest value within ``half`` samples either side of each sample."""
    padded = np.pad(values, (half, half), constant_values=1.0)
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
    return windows.min(axis=1)


def _oversampled(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    import soxr

    padded = np.concatenate([samples, np.zeros(32, dtype=samples.dtype)])
    return soxr.resample(padded, sample_rate, sample_rate * OVERSAMPLE, quality="VHQ")


def limit_for_cache(clip: Clip) -> Clip:
    """A new phrase as the phrase cache keeps it: its true peak limited (``prepare_clip``)."""
    samples, _ = prepare_clip(clip.samples, clip.sample_rate)
    return clip if samples is clip.samples else Clip(samples, clip.sample_rate)


def loudness_record(clip: Clip) -> dict[str, object]:
    """A clip's figures as the phrase cache keeps them among its facts."""
    return measure_clip(clip.samples, clip.sample_rate).to_record()


def prepare_clip(samples: np.ndarray, sample_rate: int) -> tuple[np.ndarray, ClipLoudness]:
    """A clip as it enters the phrase cache: its true peak limited to
    ``CLIP_PEAK_ABOVE_LU`` above its own loudness, and its figures measured after that.

    Limiting lowers the loudness too (by up to a few LU for a voice whose peaks are
    broad), so the ceiling is set again from the limited clip's loudness, a few times,
    until the peak sits within it."""
    current, figures = samples, measure_clip(samples, sample_rate)
    for _ in range(LIMITER_ROUNDS):
        loudness = clip_lufs(figures)
        if not math.isfinite(loudness):
            break
        ceiling = 10 ** ((loudness + CLIP_PEAK_ABOVE_LU) / 20)
        if figures.true_peak <= ceiling * 1.01:
            break
        current = limit_true_peak(current, sample_rate, ceiling)
        figures = measure_clip(current, sample_rate)
    return current, figures

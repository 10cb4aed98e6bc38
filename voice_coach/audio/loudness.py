"""Loudness (ITU-R BS.1770): each clip measured once, the session's gain computed from that.

A session is a few distinct clips placed hundreds of times, so its integrated loudness
follows from where they are placed and each clip's K-weighted power, step by step: the
gain is known before the first sample is rendered (``run`` and ``-o -`` cannot render
first), and the same gain serves live playback and export.

Two halves, kept apart so a warm start never imports a loudness library:

- **When a clip is made** (a phrase entering the phrase cache, a tone written by
  ``scripts/make_sounds.py``): ``prepare_clip`` limits its true peak and measures it,
  with BS.1770's K-weighting filters (numpy's FFT) and soxr's 4x oversampling.
- **Every session** (numpy only): ``session_levels`` lays the clips' figures on a grid
  of 10 ms steps, gates them as BS.1770 does (400 ms blocks every 100 ms, the absolute
  gate at -70 LUFS, the relative gate 10 LU below), and returns the gains.

Speech's peak-to-loudness ratio (21-23 dB) exceeds what -19 LUFS under -1 dBTP allows
(18 dB), so each phrase's true peak is limited to ``CLIP_PEAK_ABOVE_LU`` above its own
loudness when it is made; a gain alone then meets both.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from voice_coach.core.clip import Clip
from voice_coach.core.render import SessionLevels

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
PEAK_SLACK = 1.01  # a peak this close to its ceiling fits it
# A limited peak this close to its ceiling (0.01 dB) fits it: the smoothed gain lets a
# few parts in 10^5 through, and a second pass for those cost a third of the limiter.
LIMITED_SLACK = 1.001
PHRASE_ABOVE_MEDIAN_LU = 3.0
# A quiet phrase is brought up to the median by at most this: one further down is not a
# word said softly but a breath or a failed synthesis, and raising it raises its noise.
PHRASE_LIFT_MAX_LU = 6.0
TONES_BELOW_SPEECH_LU = 3.0
DEFAULT_LUFS = -19.0  # mono (AES TD1008: spoken word; a stereo file would be -16)
MIN_LUFS = -30.0
MAX_LUFS = -10.0
OVERSAMPLE = 4
_TAIL_S = 0.05  # the K-weighting filter's ring-out after a clip's last sample
_RING_S = 0.25  # padding that keeps the frequency-domain filter's wrap-around inaudible
# 1: unchanged when pyloudnorm's filters gave way to BS.1770's own: the figures of
# entries made before differ by under 0.1 dB, well within what a target is met by.
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


# --- the session: numpy only ------------------------------------------------------------


def gated_lufs(power: np.ndarray) -> float:
    """Integrated loudness of a signal given as K-weighted power per 10 ms step, gated
    as BS.1770-4 gates it (``-inf`` for silence)."""
    return gated_lufs_hops(hop_power(power), len(power))


def hop_power(power: np.ndarray) -> np.ndarray:
    """Power per 10 ms step summed per 100 ms hop (a last, partial hop included)."""
    hops = math.ceil(len(power) / HOP_STEPS)
    padded = np.pad(power, (0, hops * HOP_STEPS - len(power)))
    return padded.reshape(hops, HOP_STEPS).sum(axis=1)


def gated_lufs_hops(hops: np.ndarray, steps: int) -> float:
    """``gated_lufs`` of a signal of ``steps`` steps given as power per hop: every 400 ms
    block (four hops, one hop apart) lies within the signal's whole hops, so a session's
    loudness needs a tenth of the memory a per-step array would."""
    per_block = BLOCK_STEPS // HOP_STEPS
    if steps < BLOCK_STEPS:  # one block, the signal padded with silence
        blocks = np.array([hops.sum() / BLOCK_STEPS])
    else:
        whole = hops[: steps // HOP_STEPS]
        sums = np.concatenate(([0.0], np.cumsum(whole)))
        blocks = (sums[per_block:] - sums[:-per_block]) / BLOCK_STEPS
    with np.errstate(divide="ignore"):
        loudness = K_OFFSET_DB + 10 * np.log10(blocks)
    kept = blocks[loudness >= ABSOLUTE_GATE_LUFS]
    if kept.size == 0:
        return -math.inf
    relative = K_OFFSET_DB + 10 * math.log10(kept.mean()) - RELATIVE_GATE_LU
    kept = blocks[(loudness > relative) & (loudness >= ABSOLUTE_GATE_LUFS)]
    return K_OFFSET_DB + 10 * math.log10(kept.mean()) if kept.size else -math.inf


def session_power(placed: Iterable[tuple[float, ClipLoudness]], duration_s: float) -> np.ndarray:
    """The session's K-weighted power per step: each clip's figures laid at its start
    (``session_hops`` gives the same per hop, in a tenth of the memory)."""
    hops, steps = session_hops(placed, duration_s, per_step=True)
    return hops[:steps]


def session_hops(
    placed: Iterable[tuple[float, ClipLoudness]], duration_s: float, *, per_step: bool = False
) -> tuple[np.ndarray, int]:
    """The session's K-weighted power per 100 ms hop (per 10 ms step with ``per_step``),
    and its length in steps: each clip's figures laid at its start.

    A start between two steps is shared between them by its fraction. Clips that sound
    at once add their powers (their cross term averages out): they rarely do. Only the
    clips' own steps are allocated, never an array of the session's every step.
    """
    placed = list(placed)
    steps = math.ceil(duration_s / STEP_S) + 2
    steps = max([steps, *(int(at_s / STEP_S) + len(f.power) + 2 for at_s, f in placed)])
    size = 1 if per_step else HOP_STEPS
    grid = np.zeros(math.ceil(steps / size) + 1)
    for at_s, figures in placed:
        first, fraction = divmod(at_s / STEP_S, 1.0)
        index = int(first)
        count = len(figures.power)
        for start, weight in ((index, 1.0 - fraction), (index + 1, fraction)):
            where = np.arange(start, start + count) // size
            low = int(where[0]) if count else 0
            added = np.bincount(where - low, weights=weight * figures.power)
            grid[low : low + len(added)] += added
    return grid, steps


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
    (start, figures) for every tone. Each phrase is set against the session's median
    phrase (``_phrase_db``): a loud one brought down, a quiet one brought up.
    """
    speech, tones = list(speech), list(tones)
    phrase_db = _phrase_db({text: figures for _, text, figures in speech})
    scaled = {text: _scaled(figures, phrase_db[text]) for _, text, figures in speech}
    speech_hops, speech_steps = session_hops(
        [(at_s, scaled[text]) for at_s, text, _ in speech], duration_s
    )
    speech_hops *= volume**2
    tone_hops, tone_steps = session_hops(tones, duration_s)
    speech_lufs = gated_lufs_hops(speech_hops, speech_steps)
    tone_lufs = gated_lufs_hops(tone_hops, tone_steps)
    tone_db = 0.0
    if math.isfinite(speech_lufs) and math.isfinite(tone_lufs):
        tone_db = speech_lufs - TONES_BELOW_SPEECH_LU - tone_lufs
    steps = max(speech_steps, tone_steps)
    hops = max(len(speech_hops), len(tone_hops))
    mix = np.pad(speech_hops, (0, hops - len(speech_hops)))
    mix += np.pad(tone_hops, (0, hops - len(tone_hops))) * 10 ** (tone_db / 10)
    mix_lufs = gated_lufs_hops(mix, steps)
    if not math.isfinite(mix_lufs):  # nothing sounds: nothing to scale
        return SessionLevels(volume, 1.0, target_lufs, mix_lufs, -math.inf)
    gain_db = target_lufs - mix_lufs
    peaks = [_db(f.true_peak * volume) + phrase_db[text] for _, text, f in speech]
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
            text: speech_gain * 10 ** (db / 20) for text, db in phrase_db.items() if db != 0
        },
    )


def _phrase_db(figures: Mapping[str, ClipLoudness]) -> dict[str, float]:
    """Each distinct phrase's gain (dB) against the others, from its own loudness.

    A phrase more than ``PHRASE_ABOVE_MEDIAN_LU`` louder than the median phrase is
    brought down to that: a voice that makes short words loud (Piper scales every
    sentence to the same peak) would otherwise hold the whole session's gain down by its
    loudest count word. A phrase quieter than the median is brought up to it (by at most
    ``PHRASE_LIFT_MAX_LU``), as far as its true peak stays at or under the loudest
    phrase's, so no phrase peaks higher than one did already: "Halfway there." or "Last
    one." is not the word lost in a noisy room (Piper said them 4.6 LU below its count
    words; espeak-ng its "Well done." 5.6 LU below its loudest phrase).
    """
    own = {text: clip_lufs(clip) for text, clip in figures.items()}
    finite = [value for value in own.values() if math.isfinite(value)]
    if not finite:
        return dict.fromkeys(figures, 0.0)
    median = _median(finite)
    db = {text: min(0.0, median + PHRASE_ABOVE_MEDIAN_LU - value) if math.isfinite(value)
          else 0.0 for text, value in own.items()}  # fmt: skip
    peak_db = {text: _db(clip.true_peak) + db[text] for text, clip in figures.items()}
    top = max(peak_db.values())
    for text, value in own.items():
        if math.isfinite(value) and value < median:
            db[text] = max(0.0, min(median - value, PHRASE_LIFT_MAX_LU, top - peak_db[text]))
    return db


def _median(values: list[float]) -> float:
    """The median (numpy's first ``median`` call imports a module of its own on every
    start)."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    return (ordered[middle] + ordered[~middle]) / 2


def _scaled(figures: ClipLoudness, gain_db: float) -> ClipLoudness:
    if gain_db == 0.0:
        return figures
    return ClipLoudness(
        figures.power * 10 ** (gain_db / 10), figures.true_peak * 10 ** (gain_db / 20)
    )


def _db(linear: float) -> float:
    return 20 * math.log10(linear) if linear > 0 else -math.inf


# --- a clip as it is made: numpy and soxr ----------------------------------------------


def measure_clip(samples: np.ndarray, sample_rate: int) -> ClipLoudness:
    """The clip's figures: K-weighted power per 10 ms step from its first sample, its
    ring-out included, and its true peak."""
    weighted = _ringing_out(samples, sample_rate)
    return ClipLoudness(_step_power(weighted, sample_rate), true_peak(samples, sample_rate))


def _ringing_out(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """The clip K-weighted, followed by the filters' ``_TAIL_S`` of ring-out."""
    tail = np.zeros(round(_TAIL_S * sample_rate))
    return k_weighted(np.concatenate([samples, tail]), sample_rate)


def _step_power(weighted: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mean square of ``weighted`` in each 10 ms step from its first sample.

    Each step summed on its own (``reduceat``), not as differences of one running sum:
    as exact, and a third of the time for a 4 s phrase."""
    per_step = sample_rate * STEP_S
    count = math.ceil(len(weighted) / per_step)
    if count == 0:
        return np.zeros(0)
    # A zero after the last sample: the sum of a step that starts at the end.
    squares = np.concatenate((np.square(weighted, dtype=np.float64), [0.0]))
    starts = np.minimum(np.round(np.arange(count) * per_step).astype(int), len(weighted))
    return np.add.reduceat(squares, starts) / per_step


def k_weighting(sample_rate: int) -> tuple[tuple[list[float], list[float]], ...]:
    """BS.1770's two K-weighting stages (a high shelf, then the RLB high-pass) as biquad
    coefficients (b, a) at ``sample_rate``.

    The standard tabulates them at 48 kHz only; these are the analogue prototypes those
    numbers come from (the parameters libebur128 and FFmpeg's ebur128 derive them with),
    put through the bilinear transform, so they give the standard's table at 48 kHz
    exactly (tests/audio/test_loudness.py). At 22.05 kHz the response lies a flat 0.05 dB above
    48 kHz's (the high-pass's numerator is not normalised), as libebur128's does.
    """
    k = math.tan(math.pi * 1681.974450955533 / sample_rate)
    q = 0.7071752369554196
    high = 10 ** (3.999843853973347 / 20)
    band = high**0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf = (
        [(high + band * k / q + k * k) / a0, 2 * (k * k - high) / a0,
         (high - band * k / q + k * k) / a0],
        [1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0],
    )  # fmt: skip
    k = math.tan(math.pi * 38.13547087602444 / sample_rate)
    q = 0.5003270373238773
    a0 = 1 + k / q + k * k
    high_pass = ([1.0, -2.0, 1.0], [1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0])
    return shelf, high_pass


def k_weighted(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """The samples through the K-weighting filters, as a causal filter would give them.

    Filtered in the frequency domain, as a convolution with the filters' impulse response
    (an FFT each way, and one of the response where the length is new) rather than
    sample by sample: the library that runs IIR filters (scipy, through pyloudnorm) takes
    longer to import than a whole cold export of the peer. The FFT is at least as long as
    the signal and the response together, so nothing wraps round onto the start, and of a
    length with no prime factor above 5 (pocketfft is as quick there as at a power of two,
    which could be twice as long).
    """
    length = len(samples)
    size = _fft_size(length + len(_k_impulse(sample_rate)))
    spectrum = np.fft.rfft(np.asarray(samples, dtype=np.float64), size)
    return np.fft.irfft(spectrum * _k_spectrum(size, sample_rate), size)[:length]


class KWeighting:
    """``k_weighted`` for a stream, block by block: each block convolved with the
    filters' impulse response, what rings past its end carried into the next (overlap-
    add), so a stream read in blocks is weighted as it would be whole."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self._tail = np.zeros(len(_k_impulse(sample_rate)) - 1)

    def __call__(self, block: np.ndarray) -> np.ndarray:
        ring = len(self._tail)
        size = _fft_size(len(block) + ring)
        spectrum = np.fft.rfft(np.asarray(block, dtype=np.float64), size)
        full = np.fft.irfft(spectrum * _k_spectrum(size, self.sample_rate), size)
        full = full[: len(block) + ring]
        full[:ring] += self._tail
        self._tail = full[len(block) :].copy()
        return full[: len(block)]


def _fft_size(length: int) -> int:
    """The smallest length of at least ``length`` whose only prime factors are 2, 3, 5."""
    best = 1 << (length - 1).bit_length()
    fives = 1
    while fives < best:
        size = fives
        while size < best:
            best = min(best, size << ((length - 1) // size).bit_length())  # x 2^k
            size *= 3
        fives *= 5
    return best


@functools.lru_cache(maxsize=4)
def _k_impulse(sample_rate: int) -> np.ndarray:
    """The K-weighting's impulse response, ``_RING_S`` long: it has decayed below 1e-22
    by then (the high-pass's poles lie 0.989 from the origin at 22.05 kHz).

    Taken from the filters' frequency response on a grid two to four times as long, so
    what the grid wraps round onto the kept part is the response after twice ``_RING_S``
    or more (below 1e-40): a longer grid gives the same response, slower, on a cold
    export's path."""
    kept = round(_RING_S * sample_rate)
    size = 1 << (2 * kept - 1).bit_length()
    z = np.exp(-2j * np.pi * np.arange(size // 2 + 1) / size)  # z^-1 at each bin
    response = np.ones(len(z), dtype=np.complex128)
    for b, a in k_weighting(sample_rate):
        response *= (b[0] + z * (b[1] + z * b[2])) / (a[0] + z * (a[1] + z * a[2]))
    impulse = np.fft.irfft(response, size)[:kept]
    impulse.flags.writeable = False
    return impulse


@functools.lru_cache(maxsize=8)
def _k_spectrum(size: int, sample_rate: int) -> np.ndarray:
    """The impulse response's spectrum for a ``size``-point real FFT (kept for the tones
    and phrases of equal length a process filters: rarely shared otherwise)."""
    spectrum = np.fft.rfft(_k_impulse(sample_rate), size)
    spectrum.flags.writeable = False
    return spectrum


def true_peak(samples: np.ndarray, sample_rate: int) -> float:
    """The largest magnitude of the signal oversampled 4x (BS.1770-4, Annex 2)."""
    if len(samples) == 0:
        return 0.0
    return float(_magnitude(samples, sample_rate).max())


def clip_lufs(figures: ClipLoudness) -> float:
    """A clip's own loudness: its power over the steps where it sounds, ungated (a word
    is shorter than a gating block)."""
    power = figures.power[: -round(_TAIL_S / STEP_S)] if len(figures.power) > 5 else figures.power
    mean = float(np.mean(power)) if len(power) else 0.0
    return K_OFFSET_DB + 10 * math.log10(mean) if mean > 0 else -math.inf


def limit_true_peak(
    samples: np.ndarray,
    sample_rate: int,
    ceiling: float,
    peaks: tuple[np.ndarray, float] | None = None,
    first_gain: np.ndarray | None = None,
) -> tuple[np.ndarray, float, np.ndarray]:
    """The samples with every true peak above ``ceiling`` (linear) brought down to it,
    their true peak then (found by the last check, so not measured again), and the gain
    each sample was given.

    A look-ahead limiter: the gain each sample needs (from the 4x oversampled signal) is
    held over 5 ms either side and smoothed over 5 ms, so it falls before a peak and
    rises after it without clicks. Checked afterwards, and repeated (a little lower) in
    the rare case the smoothing let an inter-sample peak through by more than
    ``LIMITED_SLACK``. ``peaks`` is ``_held_peaks`` of the samples, and ``first_gain``
    the first pass's gain curve (``_gain_curve`` of those peaks at ``ceiling``), where the
    caller has them already.
    """
    out = np.asarray(samples, dtype=np.float32)
    given = np.ones(len(out))
    held, peak = _held_peaks(out, sample_rate) if peaks is None else peaks
    for attempt in range(5):  # up to four passes, each checked
        if attempt > 0:
            # The check: the peak alone, held only if another pass needs it (rare).
            magnitude = _magnitude(out, sample_rate)
            peak = float(magnitude.max(initial=0.0))
            if peak <= ceiling * LIMITED_SLACK or attempt == 4:
                return out, peak, given
            held = _held(magnitude, len(out), sample_rate)
        elif peak <= ceiling:
            return out, peak, given
        if attempt == 0 and first_gain is not None:
            gain = first_gain
        else:
            gain = _gain_curve(held, ceiling * (0.99**attempt), sample_rate)
        given *= gain
        out = (out * gain).astype(np.float32)
    raise AssertionError("unreachable: the last check returns")


def _held_peaks(samples: np.ndarray, sample_rate: int) -> tuple[np.ndarray, float]:
    """The largest true peak within 5 ms either side of each sample, and the true peak
    (the ring-out after the last sample included).

    A sample's gain is held that long, and the least of the gains near a sample is what
    the largest peak near it needs: so the hold is taken on the peaks, once, whatever
    the ceiling."""
    magnitude = _magnitude(samples, sample_rate)
    return _held(magnitude, len(samples), sample_rate), float(magnitude.max(initial=0.0))


def _magnitude(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """The signal's magnitude, oversampled ``OVERSAMPLE`` times (its ring-out included)."""
    return np.abs(_oversampled(samples, sample_rate))


def _held(magnitude: np.ndarray, count: int, sample_rate: int) -> np.ndarray:
    """``_held_peaks``'s hold, from the oversampled magnitude of ``count`` samples."""
    frames = count * OVERSAMPLE
    peaks = magnitude[:frames:OVERSAMPLE]
    for phase in range(1, OVERSAMPLE):
        peaks = np.maximum(peaks, magnitude[phase:frames:OVERSAMPLE])
    return _running_max(peaks, max(1, round(0.005 * sample_rate)))


def _gain_curve(held: np.ndarray, ceiling: float, sample_rate: int) -> np.ndarray:
    """The limiter's gain for each sample: what keeps its held peak (``_held_peaks``) at
    ``ceiling``, smoothed over 5 ms."""
    window = max(1, round(0.005 * sample_rate))
    return _running_mean(np.minimum(1.0, ceiling / np.maximum(held, 1e-12)), window)


def _running_max(values: np.ndarray, half: int) -> np.ndarray:
    """The largest value within ``half`` samples either side of each sample (nothing
    counts beyond the ends).

    Van Herk and Gil-Werman's way: cut into blocks as long as the window, take running
    maxima forwards and backwards within each block, and any window is the larger of one
    block's backward maximum and the next block's forward maximum; a few passes over the
    samples, whatever the window's length.
    """
    width = 2 * half + 1
    count = len(values)
    padded = np.pad(values, (half, half + (-(count + 2 * half)) % width), constant_values=-np.inf)
    blocks = padded.reshape(-1, width)
    forward = np.maximum.accumulate(blocks, axis=1).ravel()
    backward = np.maximum.accumulate(blocks[:, ::-1], axis=1)[:, ::-1].ravel()
    return np.maximum(backward[:count], forward[width - 1 : width - 1 + count])


def _running_mean(values: np.ndarray, width: int) -> np.ndarray:
    """The mean of ``width`` samples centred on each sample, the ends held beyond the
    signal (by running sums: the cost does not grow with the window)."""
    before, after = width // 2, width - 1 - width // 2
    padded = np.pad(values.astype(np.float64), (before + 1, after), mode="edge")
    sums = np.cumsum(padded)
    return (sums[width:] - sums[:-width]) / width


def _oversampled(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    import soxr

    padded = np.concatenate([samples, np.zeros(32, dtype=samples.dtype)])
    return soxr.resample(padded, sample_rate, sample_rate * OVERSAMPLE, quality="VHQ")


def limit_for_cache(clip: Clip) -> tuple[Clip, dict[str, object]]:
    """A new phrase as the phrase cache keeps it: its true peak limited (``prepare_clip``),
    with its figures found on the way (``loudness_record``'s form), so they are not
    measured again."""
    samples, figures = prepare_clip(clip.samples, clip.sample_rate)
    kept = clip if samples is clip.samples else Clip(samples, clip.sample_rate)
    return kept, figures.to_record()


def loudness_record(clip: Clip) -> dict[str, object]:
    """A clip's figures as the phrase cache keeps them among its facts."""
    return measure_clip(clip.samples, clip.sample_rate).to_record()


def prepare_clip(samples: np.ndarray, sample_rate: int) -> tuple[np.ndarray, ClipLoudness]:
    """A clip as it enters the phrase cache: its true peak limited to
    ``CLIP_PEAK_ABOVE_LU`` above its own loudness, and its figures as limited.

    Limiting lowers the loudness too (3 to 5 LU for speech), so the ceiling is set again
    from the limited clip's loudness, up to ``LIMITER_ROUNDS`` times. No more: where a
    voice's waveform itself peaks far above its loudness (a buzzy vowel: every pitch
    period peaks), slow gain riding cannot lower that ratio, only the whole clip, and the
    rounds would turn it down without end (Piper's "Halfway there." fell 16 LU when the
    rounds ran until the peak fitted). The rounds run on a model, the limiter's gain
    curve applied to the clip's K-weighted samples (the gain moves slowly beside the
    filters, so nothing is filtered again); then the clip is limited once, and its
    figures are the same model with the gain it was given: within 0.002 LU of filtering
    the limited clip again on real phrases of both engines (tests/audio/test_loudness.py),
    at a fraction of the cost of limiting and measuring each round."""
    samples = np.asarray(samples, dtype=np.float32)
    weighted = _ringing_out(samples, sample_rate)  # filtered and oversampled once each,
    held, peak = _held_peaks(samples, sample_rate)  # for the figures and the model
    figures = ClipLoudness(_step_power(weighted, sample_rate), peak)
    loudness = clip_lufs(figures)
    if not math.isfinite(loudness) or figures.true_peak <= _ceiling(loudness) * PEAK_SLACK:
        return samples, figures
    weighted_power = weighted[: len(samples)] ** 2
    ceiling = _ceiling(loudness)
    at_ceiling: np.ndarray | None = None  # the model's gain curve at ``ceiling``
    for _ in range(LIMITER_ROUNDS - 1):
        at_ceiling = _gain_curve(held, ceiling, sample_rate)
        modelled = float(np.mean(at_ceiling * at_ceiling * weighted_power))
        if modelled <= 0:
            break
        again = _ceiling(K_OFFSET_DB + 10 * math.log10(modelled))
        if ceiling <= again * PEAK_SLACK:  # its peak, at the ceiling, fits: done
            break
        ceiling, at_ceiling = again, None
    limited, peak, gain = limit_true_peak(samples, sample_rate, ceiling, (held, peak), at_ceiling)
    # The ring-out after the last sample keeps the gain the last sample was given.
    held_gain = np.pad(gain, (0, len(weighted) - len(gain)), mode="edge")
    return limited, ClipLoudness(_step_power(weighted * held_gain, sample_rate), peak)


def _ceiling(loudness: float) -> float:
    """The highest true peak (linear) a clip of ``loudness`` LUFS may keep."""
    return 10 ** ((loudness + CLIP_PEAK_ABOVE_LU) / 20)

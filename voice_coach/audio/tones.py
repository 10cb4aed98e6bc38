"""The session's tones: made in code, shipped as WAVs, loaded as clips.

Each beat has its own sound, so a user with no words (``--cues tones``) still knows
what to do: a rising pair to squeeze, a falling pair to relax, a chime at the end.
Every note starts and ends with a raised-cosine fade, so nothing clicks, and the
attack is short so the tone's first audible sample is on the beat.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence

import numpy as np

from voice_coach.audio.loudness import ClipLoudness
from voice_coach.core.clip import Clip, trim_silence
from voice_coach.core.render import resample
from voice_coach.package_data import read_package_file

SOUNDS_PACKAGE = "voice_coach.sounds"
LOUDNESS_FILE = "loudness.json"
SOUNDS_RATE = 22050
ATTACK_S = 0.004
RELEASE_S = 0.025
PEAK = 0.5

# name -> notes as (frequency Hz, seconds, relative level); played one after another.
TONE_NOTES: dict[str, tuple[tuple[float, float, float], ...]] = {
    "squeeze": ((659.25, 0.09, 0.9), (880.00, 0.13, 1.0)),
    "relax": ((587.33, 0.10, 0.8), (392.00, 0.16, 0.7)),
    "start": ((523.25, 0.08, 0.8), (659.25, 0.08, 0.85), (783.99, 0.14, 0.9)),
    "set_start": ((783.99, 0.07, 0.9), (783.99, 0.11, 0.9)),
    "set_end": ((698.46, 0.08, 0.8), (523.25, 0.18, 0.75)),
    "end": ((523.25, 0.12, 0.8), (659.25, 0.12, 0.85), (1046.50, 0.30, 0.9)),
}
TONE_NAMES: tuple[str, ...] = tuple(TONE_NOTES)


def make_tone(name: str, sample_rate: int) -> Clip:
    """The named tone at ``sample_rate``: the one definition both code and WAVs come from."""
    notes = TONE_NOTES[name]
    samples = np.concatenate(
        [_note(freq, seconds, level, sample_rate) for freq, seconds, level in notes]
    )
    return Clip((samples * PEAK).astype(np.float32), sample_rate)


def _note(freq: float, seconds: float, level: float, rate: int) -> np.ndarray:
    """A soft bell-like note: a few harmonics, a quick attack, a gentle decay and a
    raised-cosine release to exactly zero."""
    frames = round(seconds * rate)
    t = np.arange(frames) / rate
    wave = (
        np.sin(2 * np.pi * freq * t)
        + 0.25 * np.sin(2 * np.pi * 2 * freq * t)
        + 0.08 * np.sin(2 * np.pi * 3 * freq * t)
    ) / 1.33
    envelope = np.exp(-t * 6.0)
    attack = min(frames, round(ATTACK_S * rate))
    release = min(frames - attack, round(RELEASE_S * rate))
    envelope[:attack] *= 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, attack))
    envelope[frames - release :] *= 0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, release))
    return level * wave * envelope


def load_tones(sample_rate: int, names: Sequence[str] = TONE_NAMES) -> dict[str, Clip]:
    """The shipped tones at ``sample_rate``, each trimmed so its first sample is audible.

    Read from the package's WAVs (``scripts/make_sounds.py`` writes them); a missing
    file falls back to the code that made it, so a stripped install still has tones.
    """
    if not names:
        return {}
    import soundfile  # here, not above: a session without tones never loads libsndfile

    tones = {}
    for name in names:
        shipped = read_package_file(SOUNDS_PACKAGE, f"{name}.wav")
        if shipped is not None:
            data, rate = soundfile.read(io.BytesIO(shipped), dtype="float32")
            clip = Clip(np.ascontiguousarray(data if data.ndim == 1 else data.mean(axis=1)), rate)
        else:
            clip = make_tone(name, SOUNDS_RATE)
        tones[name] = trim_silence(resample(clip, sample_rate))
    return tones


def tone_lengths_s(sample_rate: int) -> dict[str, float]:
    """How long each tone sounds, for the timeline."""
    return {name: clip.duration_s for name, clip in load_tones(sample_rate).items()}


def tone_loudness(names: Sequence[str] = TONE_NAMES) -> dict[str, ClipLoudness]:
    """Each tone's loudness figures, as ``scripts/make_sounds.py`` measured them on the
    shipped WAV (so a session needs no loudness library); measured now where missing."""
    shipped = read_package_file(SOUNDS_PACKAGE, LOUDNESS_FILE)
    records = json.loads(shipped.decode("utf-8")) if shipped is not None else {}
    figures = {}
    for name in names:
        found = ClipLoudness.from_record(records.get(name))
        figures[name] = found if found is not None else measure_tone(name)
    return figures


def measure_tone(name: str) -> ClipLoudness:
    """A tone's figures, measured on it as ``load_tones`` gives it (trimmed)."""
    from voice_coach.audio.loudness import measure_clip

    clip = trim_silence(make_tone(name, SOUNDS_RATE))
    return measure_clip(clip.samples, clip.sample_rate)

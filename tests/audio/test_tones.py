"""Tones: distinct, clickless, on the beat, and the shipped WAVs equal the code."""

import importlib.resources
import io

import numpy as np
import pytest
import soundfile
from onsets import find_onsets

from voice_coach.audio.tones import SOUNDS_RATE, TONE_NAMES, load_tones, make_tone, tone_lengths_s
from voice_coach.core.clip import AUDIBLE_THRESHOLD

EDGE_STEP = 0.01  # the largest sample-to-sample jump allowed at a tone's edges


@pytest.mark.parametrize("name", TONE_NAMES)
@pytest.mark.parametrize("rate", [22050, 44100, 48000])
def test_tone_has_no_click_at_its_edges(name, rate):
    samples = make_tone(name, rate).samples
    assert abs(samples[0]) < 1e-6 and abs(samples[-1]) < 1e-6
    edge = round(0.0005 * rate)
    assert np.max(np.abs(np.diff(samples[:edge]))) < EDGE_STEP
    assert np.max(np.abs(np.diff(samples[-edge:]))) < EDGE_STEP


@pytest.mark.parametrize("name", TONE_NAMES)
def test_tone_is_short_and_below_full_scale(name):
    clip = make_tone(name, SOUNDS_RATE)
    assert 0.12 <= clip.duration_s <= 0.6
    assert 0.2 < np.max(np.abs(clip.samples)) <= 0.5


@pytest.mark.parametrize("name", TONE_NAMES)
def test_loaded_tone_is_audible_from_its_first_sample(name):
    clip = load_tones(44100, [name])[name]
    assert abs(clip.samples[0]) > 1e-3
    padded = np.concatenate([np.zeros(4410, np.float32), clip.samples])
    assert find_onsets(padded, 44100) == [4410]


@pytest.mark.parametrize("name", TONE_NAMES)
def test_shipped_wav_equals_the_code_that_makes_it(name):
    data = (importlib.resources.files("voice_coach.sounds") / f"{name}.wav").read_bytes()
    samples, rate = soundfile.read(io.BytesIO(data), dtype="float32")
    assert rate == SOUNDS_RATE
    np.testing.assert_array_equal(samples, make_tone(name, SOUNDS_RATE).samples)


def dominant_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples, n=1 << 16))
    return float(np.argmax(spectrum) * rate / (1 << 16))


def test_tones_are_distinct():
    rate = SOUNDS_RATE
    tones = {name: make_tone(name, rate).samples for name in TONE_NAMES}
    signatures = {name: (round(dominant_hz(s, rate) / 10), len(s)) for name, s in tones.items()}
    assert len(set(signatures.values())) == len(TONE_NAMES), signatures
    # squeeze rises, relax falls: the later half is higher (lower) than the first.
    for name, rising in (("squeeze", True), ("relax", False)):
        s = tones[name]
        first, second = dominant_hz(s[: len(s) // 3], rate), dominant_hz(s[-len(s) // 2 :], rate)
        assert (second > first) == rising, (name, first, second)


@pytest.mark.parametrize("rate", [SOUNDS_RATE, 48000])
def test_tone_lengths_are_the_shipped_sounds_from_their_first_audible_sample(rate):
    """What the timeline is told a tone lasts, against the shipped WAV read here with
    soundfile: from its first sample above the audible threshold to its last, in time (a
    resampled tone may differ by a sample or two at the edges)."""
    lengths = tone_lengths_s(rate)
    assert set(lengths) == set(TONE_NAMES)
    for name in TONE_NAMES:
        data = (importlib.resources.files("voice_coach.sounds") / f"{name}.wav").read_bytes()
        samples, shipped_rate = soundfile.read(io.BytesIO(data), dtype="float32")
        audible = np.flatnonzero(np.abs(samples) > AUDIBLE_THRESHOLD)
        heard_s = (audible[-1] + 1 - audible[0]) / shipped_rate
        assert lengths[name] == pytest.approx(heard_s, abs=2.5 / rate), (name, heard_s)


@pytest.mark.parametrize("name", TONE_NAMES)
def test_the_shipped_loudness_figures_are_the_tones_own(name):
    """sounds/loudness.json (scripts/make_sounds.py) holds what measuring the tone gives."""
    import json

    from voice_coach.audio.loudness import ClipLoudness
    from voice_coach.audio.tones import LOUDNESS_FILE, SOUNDS_PACKAGE, measure_tone
    from voice_coach.package_data import read_package_file

    shipped = json.loads(read_package_file(SOUNDS_PACKAGE, LOUDNESS_FILE))
    figures = ClipLoudness.from_record(shipped[name])
    fresh = measure_tone(name)
    assert figures is not None
    assert np.allclose(figures.power, fresh.power, rtol=1e-5, atol=1e-12)
    assert figures.true_peak == pytest.approx(fresh.true_peak, rel=1e-6)

"""The onset detector every timing test relies on finds sounds where they really are."""

import subprocess

import numpy as np
import pytest
from onsets import cue_onsets, expected_onsets, find_onsets, fit_drift, read_audio

RATE = 22050


def test_bursts_in_noise_are_found_to_the_sample():
    rng = np.random.default_rng(7)
    samples = rng.normal(0, 2e-5, RATE * 10).astype(np.float32)
    starts = sorted(int(x) for x in rng.choice(np.arange(1000, RATE * 9, 8000), 12, replace=False))
    t = np.arange(2000) / RATE
    burst = (0.4 * np.sin(2 * np.pi * 440 * t) * np.minimum(1, t / 0.003)).astype(np.float32)
    for start in starts:
        samples[start : start + 2000] += burst
    found = find_onsets(samples, RATE)
    assert len(found) == len(starts)
    assert max(abs(f - s) for f, s in zip(found, starts, strict=True)) <= round(0.001 * RATE)


@pytest.mark.parametrize("word", ["Squeeze", "relax", "three"])
def test_real_espeak_words_are_found_where_they_were_placed(tmp_path, word):
    path = tmp_path / "w.wav"
    subprocess.run(["espeak-ng", "-w", str(path), word], check=True)
    clip, rate = read_audio(path)
    first = int(np.flatnonzero(np.abs(clip) > 1e-3)[0])
    session = np.zeros(rate * 4, np.float32)
    for at in (rate // 2, 2 * rate):
        session[at : at + len(clip) - first] += clip[first:]
    assert find_onsets(session, rate) == [rate // 2, 2 * rate]


def test_expected_onsets_merge_a_word_into_the_tone_it_follows():
    cues = [
        {"at_s": 0.0, "duration_s": 0.2},
        {"at_s": 0.2, "duration_s": 0.5},
        {"at_s": 1.0, "duration_s": 0.3},
    ]
    assert expected_onsets(cues, 1000) == [0, 1000]


def test_cue_onsets_drop_pauses_inside_a_phrase():
    cues = [{"at_s": 0.0, "duration_s": 2.0}, {"at_s": 3.0, "duration_s": 0.5}]
    assert cue_onsets([0, 1200, 3000], cues, 1000) == [0, 3000]


def test_fit_drift_sees_a_clock_100_ppm_fast_and_a_single_late_cue():
    """The drift measure's own check: 100 ppm over a minute is 6 ms, spread evenly over
    every gap (each gap's error tiny); the fit reads it back, and one cue 3 ms late
    shows in the residuals, not the slope."""
    rate = 48000
    expected = [round(s * rate) for s in np.linspace(0, 60, 40)]
    fast = [round(e * (1 + 100e-6)) for e in expected]
    ppm, residual_ms = fit_drift(expected, fast, rate)
    assert ppm == pytest.approx(100, abs=1) and residual_ms < 0.05
    late = list(expected)
    late[20] += round(0.003 * rate)
    ppm, residual_ms = fit_drift(expected, late, rate)
    assert abs(ppm) < 30 and residual_ms == pytest.approx(3, abs=0.3)

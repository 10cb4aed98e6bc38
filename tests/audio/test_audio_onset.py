"""A word's perceived onset: where it is heard, measured on its clip alone."""

import subprocess

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onsets import heard_at_s, read_audio

from voice_coach.audio.onset import perceived_onset_s
from voice_coach.core.clip import Clip, trim_silence

RATE = 22050


def tone(seconds: float, amplitude: float, rate: int = RATE, hz: float = 440.0) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def hiss(seconds: float, amplitude: float, rate: int = RATE) -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.uniform(-amplitude, amplitude, round(seconds * rate)).astype(np.float32)


@pytest.mark.parametrize("rate", [16000, 22050, 44100, 48000])
def test_a_tone_burst_after_silence_is_heard_where_it_starts(rate):
    clip = np.concatenate([np.zeros(round(0.2 * rate), np.float32), tone(0.3, 0.5, rate)])
    # The 10 ms window centred 2.5 ms ahead of the burst already holds a quarter of it:
    # half the full RMS. So the burst is heard from 197-198 ms at any rate.
    assert 0.1965 <= perceived_onset_s(clip, rate) <= 0.2


def test_a_soft_consonant_then_a_vowel_is_heard_at_the_vowel():
    consonant = hiss(0.15, 0.03)
    vowel = tone(0.25, 0.5, hz=220.0) + tone(0.25, 0.2, hz=660.0)
    clip = np.concatenate([consonant, vowel])
    assert trim_silence(Clip(clip, RATE)).samples[0] == clip[0], "the hiss is not silence"
    assert 0.145 <= perceived_onset_s(clip, RATE) <= 0.15


def test_a_vowel_that_swells_is_heard_halfway_up():
    # Rising linearly over 100 ms to a steady level: the RMS reaches half at 50 ms.
    swell = np.minimum(1.0, np.arange(round(0.4 * RATE)) / (0.1 * RATE))
    clip = (tone(0.4, 0.6) * swell).astype(np.float32)
    assert perceived_onset_s(clip, RATE) == pytest.approx(0.05, abs=0.002)


def test_a_sound_loud_from_its_first_sample_is_heard_at_once():
    assert perceived_onset_s(tone(0.2, 0.5), RATE) == 0.0


def test_silence_and_nothing_are_heard_at_zero():
    assert perceived_onset_s(np.zeros(RATE, np.float32), RATE) == 0.0
    assert perceived_onset_s(np.zeros(0, np.float32), RATE) == 0.0


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    lead_s=st.floats(0.0, 0.3),
    soft=st.floats(0.0, 0.2),
    loud=st.floats(0.05, 1.0),
    length_s=st.floats(0.001, 0.4),
    rate=st.sampled_from([8000, 22050, 44100]),
)
def test_the_measure_matches_the_issue_written_out_step_by_step(lead_s, soft, loud, length_s, rate):
    clip = np.concatenate([hiss(lead_s, soft * loud, rate), tone(length_s, loud, rate)])
    assert perceived_onset_s(clip, rate) == heard_at_s(clip, rate)


@pytest.mark.parametrize(("word", "at_least_ms"), [("Squeeze", 100), ("three", 50)])
def test_real_espeak_words_are_heard_after_their_first_sample(tmp_path, word, at_least_ms):
    path = tmp_path / "w.wav"
    subprocess.run(["espeak-ng", "-w", str(path), word], check=True)
    samples, rate = read_audio(path)
    clip = trim_silence(Clip(samples, rate)).samples
    onset = perceived_onset_s(clip, rate)
    assert at_least_ms / 1000 <= onset < len(clip) / rate
    assert onset == heard_at_s(clip, rate)

"""A music bed under an export (`export --music`): the mix at the session's loudness and
under the true-peak ceiling (FFmpeg's ebur128 measures), the music well under every word
(the stems, separated from the file itself), every cue where the export without music has
it, the music looped, faded and ducked ahead of each word, and bad music refused.

The music is a tone of known frequency, so what is music in the file can be told apart.
"""

from __future__ import annotations

import subprocess
import sys
from itertools import pairwise

import numpy as np
import pytest
import soundfile
from onsets import read_audio
from test_loudness import ebur128

from voice_coach.audio.loudness import KWeighting, k_weighted
from voice_coach.audio.music import (
    DUCK_HOLD_S,
    DUCK_LEAD_S,
    DUCK_RELEASE_S,
    FADE_IN_S,
    MusicStream,
    duck_weights,
    word_spans,
)
from voice_coach.cli import main
from voice_coach.session import SessionOptions, prepare_session

pytestmark = pytest.mark.usefixtures("warm_cache")

TONE_HZ = 3000.0  # a line the words' spectrum does not hide


def music_file(path, seconds: float = 3.7, rate: int = 44100, level: float = 0.3) -> None:
    """A stereo tone: resampled, looped (it is shorter than any session), made mono."""
    t = np.arange(round(seconds * rate)) / rate
    tone = level * np.sin(2 * np.pi * TONE_HZ * t)
    soundfile.write(str(path), np.stack([tone, 0.8 * tone], axis=1), rate)


def has_tone(samples: np.ndarray, rate: int) -> bool:
    """The music's tone stands out of the spectrum as a line (words spread wide): its
    peak against the median 20 to 100 Hz either side of it."""
    spectrum = np.abs(np.fft.rfft(samples))
    per_hz = len(samples) / rate
    at, near, far = round(TONE_HZ * per_hz), round(20 * per_hz), round(100 * per_hz)
    around = np.concatenate([spectrum[at - far : at - near], spectrum[at + near : at + far]])
    return bool(spectrum[at - near // 4 : at + near // 4].max() > 20 * np.median(around))


@pytest.fixture
def exported(tmp_path):
    """The queue session exported with the tone as music, and without, as WAV."""
    music = tmp_path / "music.flac"
    music_file(music)
    mixed, plain = tmp_path / "mixed.wav", tmp_path / "plain.wav"
    assert main(["export", "glute-squeeze-queue", "-o", str(plain), "-q"]) == 0
    assert main(["export", "glute-squeeze-queue", "-o", str(mixed), "-q",
                 "--music", str(music)]) == 0  # fmt: skip
    return mixed, plain


def stems(mixed, plain) -> tuple[np.ndarray, np.ndarray, int]:
    """The speech and the music of the mixed file: the words are the export without
    music scaled by the one gain that fits them best (the music is a tone the words do
    not correlate with); the music is what is left (a limited word's change counts as
    music, so this errs against the bed)."""
    mix, rate = read_audio(mixed)
    words, _ = read_audio(plain)
    gain = float(np.dot(mix, words) / np.dot(words, words))
    return gain * words, mix - gain * words, rate


def test_the_mix_is_at_the_target_and_under_the_ceiling(exported):
    integrated, peak = ebur128(exported[0])
    assert abs(integrated - -19.0) <= 0.5, integrated
    assert peak <= -1.0, peak


def test_every_word_and_tone_is_10_lu_or_more_above_the_music_under_it(exported):
    speech, music, rate = stems(*exported)
    timeline = prepare_session("glute-squeeze-queue", SessionOptions()).timeline
    margins = []
    for cue in timeline.cues:
        lo, hi = round(cue.at_s * rate), round((cue.at_s + cue.duration_s) * rate)
        said = np.sqrt(np.mean(k_weighted(speech[lo:hi], rate) ** 2))
        under = np.sqrt(np.mean(k_weighted(music[lo:hi], rate) ** 2))
        margins.append(20 * np.log10(said / under))
    # 10 LU is asked for; the duck aims at 20, and without it the -12 dB bed would give
    # about 12: 15 tells a working duck from none.
    assert min(margins) >= 15.0, margins
    assert has_tone(music[: 10 * rate], rate) and not has_tone(speech[: 10 * rate], rate)


def test_between_words_the_music_is_where_music_db_puts_it(exported):
    """In the longest gap between words the music is about 12 dB under the words."""
    speech, music, rate = stems(*exported)
    timeline = prepare_session("glute-squeeze-queue", SessionOptions()).timeline
    spans = word_spans(timeline)
    gaps = [(a[1], b[0]) for a, b in pairwise(spans)]
    start, end = max(gaps, key=lambda gap: gap[1] - gap[0])
    inner = slice(round((start + DUCK_RELEASE_S) * rate), round((end - DUCK_LEAD_S) * rate))
    words = np.concatenate([speech[round(a * rate) : round(b * rate)] for a, b in spans])
    level = 20 * np.log10(
        np.sqrt(np.mean(k_weighted(music[inner], rate) ** 2))
        / np.sqrt(np.mean(k_weighted(words, rate) ** 2))
    )
    assert -16.0 <= level <= -8.0, level


def test_every_cue_starts_on_the_sample_the_export_without_music_has(exported):
    rate = read_audio(exported[0])[1]
    mix, _ = read_audio(exported[0])
    plain, _ = read_audio(exported[1])
    timeline = prepare_session("glute-squeeze-queue", SessionOptions()).timeline
    for cue in timeline.cues:
        at = round(cue.at_s * rate)
        width = round(0.05 * rate)
        at = min(max(at, 3), len(plain) - width - 3)
        part = plain[at : at + width]
        lags = range(-3, 4)
        fits = [np.dot(mix[at + lag : at + lag + width], part) for lag in lags]
        assert lags[int(np.argmax(fits))] == 0, cue


def test_the_bed_fades_in_and_out_and_loops_past_the_file_s_end(exported):
    _speech, music, rate = stems(*exported)
    assert abs(music[0]) < 1e-3 and np.max(np.abs(music[-50:])) < 1e-3, "faded at both ends"
    later = music[round(10 * rate) : round(11 * rate)]  # the 3.7 s file's third pass
    assert np.sqrt(np.mean(later**2)) > 1e-3, "looped"


def test_tags_name_the_music_and_an_album_carries_it_on_every_file(tmp_path):
    import mutagen

    music = tmp_path / "bed.wav"
    music_file(music, seconds=2.0, rate=22050)
    out = tmp_path / "s.mp3"
    assert main(["export", "glute-squeeze-queue", "-o", str(out), "-q", "--music", str(music),
                 "--music-db", "-18"]) == 0  # fmt: skip
    assert [frame.text for frame in mutagen.File(out).tags.getall("TXXX:MUSIC")] == [["bed.wav"]]
    album = tmp_path / "album"
    assert main(["export", "--album", str(album), "--format", "flac", "-q",
                 "glute-squeeze-queue", "glute-squeeze", "--music", str(music)]) == 0  # fmt: skip
    files = sorted(album.glob("*.flac"))
    assert len(files) == 2
    for path in files:
        assert mutagen.File(path)["MUSIC"] == ["bed.wav"]
        samples, rate = read_audio(path)
        assert has_tone(samples[: 10 * rate], rate), path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_text("not audio"), "is not an audio file voice-coach can read"),
        (lambda p: soundfile.write(str(p), np.zeros(22050), 22050), "is silent"),
        (lambda p: None, "no such file"),
    ],
)
def test_music_that_cannot_serve_is_one_line_and_exit_2_with_nothing_written(
    tmp_path, make, message
):
    music = tmp_path / "music.mp3"
    make(music)
    out = tmp_path / "s.wav"
    done = subprocess.run(
        [sys.executable, "-m", "voice_coach", "export", "-o", str(out), "--music", str(music)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr
    assert not out.exists()


def test_music_db_out_of_its_range_is_refused(tmp_path, capsys):
    music = tmp_path / "m.wav"
    music_file(music, seconds=1.0)
    assert main(["export", "-o", str(tmp_path / "s.wav"), "--music", str(music),
                 "--music-db", "0"]) == 2  # fmt: skip
    assert "--music-db 0 must be from -40 to -6" in capsys.readouterr().err


# --- the parts, on their own ---------------------------------------------------------------


def test_words_closer_than_the_hold_share_one_duck():
    timeline = prepare_session("glute-squeeze", SessionOptions()).timeline
    spans = word_spans(timeline)
    assert all(b[0] - a[1] >= DUCK_HOLD_S for a, b in pairwise(spans))
    cues = [(c.at_s, c.at_s + c.duration_s) for c in timeline.cues]
    assert all(any(s <= a and b <= e for s, e in spans) for a, b in cues), "every cue inside"


def test_the_duck_is_down_at_a_word_s_first_sample_and_ramps_around_it():
    rate = 1000
    weights = duck_weights([(2.0, 3.0)], rate, 0, 5 * rate)
    assert weights[round((2.0 - DUCK_LEAD_S) * rate) - 1] == 0.0, "not before the lead"
    assert weights[2 * rate] == pytest.approx(1.0) and weights[3 * rate] == pytest.approx(1.0)
    assert weights[round((3.0 + DUCK_RELEASE_S) * rate) + 1] == 0.0, "back up after release"
    down = weights[round((2.0 - DUCK_LEAD_S) * rate) : 2 * rate]
    assert np.all(np.diff(down) >= 0) and np.max(np.diff(down)) < 0.02, "a smooth ramp"
    assert np.array_equal(duck_weights([(2.0, 3.0)], rate, 1500, 2000), weights[1500:3500])


def test_the_stream_loops_resamples_and_fades_in(tmp_path):
    music = tmp_path / "m.flac"
    music_file(music, seconds=0.5, rate=44100)
    rate, total = 22050, 10 * 22050
    stream = MusicStream(music, rate, total)
    read = np.concatenate([stream.read(1000) for _ in range(total // 1000)])
    stream.close()
    assert len(read) == total // 1000 * 1000
    fade = round(FADE_IN_S * rate)
    assert np.max(np.abs(read[:100])) < 0.01 and np.max(np.abs(read[fade : fade + rate])) > 0.2
    spectrum = np.abs(np.fft.rfft(read[fade : fade + rate]))
    assert abs(np.argmax(spectrum) - TONE_HZ) <= 1, "the tone, at the session's rate"


def test_k_weighting_a_stream_block_by_block_is_weighting_it_whole():
    rng = np.random.default_rng(1)
    signal = rng.normal(size=30_000)
    weighting = KWeighting(22050)
    pieces = [weighting(signal[i : i + 4096]) for i in range(0, len(signal), 4096)]
    assert np.allclose(np.concatenate(pieces), k_weighted(signal, 22050), atol=1e-9)

"""Every option of `run`, `export` and `doctor`, end to end through the CLI.

Each test changes one option and checks what it changes where a user would notice it:
in the exported audio (read back with soundfile and measured in samples), in the files
written, in what is printed, or in what the null sink heard. Each also checks that the
option did change something, so an option the CLI silently ignored would fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from onsets import cue_onsets, expected_onsets, find_onsets, onset_errors, read_audio
from pulse import Tap, record_while

from voice_coach.audio.simpleaudio_output import simpleaudio_refusal
from voice_coach.cli import main
from voice_coach.core.clip import AUDIBLE_THRESHOLD
from voice_coach.speech.phrase_cache import ENTRY_SUFFIX
from voice_coach.userdirs import CACHE_DIR_ENV

pytestmark = pytest.mark.usefixtures("warm_cache")

ESPEAK_NG = ("--engine", "espeak-ng")


def script_json(capsys, *args: str) -> dict:
    assert main(["script", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def export(tmp_path: Path, *args: str, name: str = "s.wav") -> tuple[np.ndarray, int]:
    out = tmp_path / name
    assert main(["export", "-o", str(out), "--quiet", "--force", *args]) == 0
    return read_audio(out)


def one_line_error(capsys, code: int, *args: str) -> str:
    assert main(list(args)) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("voice-coach: error: "), err
    return err


# --- the session's shape: heard where script --json says, and changed by the option -----


@pytest.mark.parametrize(
    ("protocol", "option"),
    [
        ("glute-squeeze", ["--relax", "5"]),
        ("glute-squeeze-sets", ["--rest", "7", "--reps", "2"]),
        ("glute-squeeze", ["--cues", "voice"]),
    ],
    ids=["relax", "rest", "cues-voice"],
)
def test_a_session_option_moves_every_cue_in_the_export_to_where_script_says(
    tmp_path, capsys, protocol, option
):
    # Spoken by espeak-ng: the energy detector finds its phrases as single sounds (see
    # ESPEAK_NG in tests/files/test_export.py); where the renderer puts them is the same for any.
    default = script_json(capsys, protocol, *ESPEAK_NG, *option[2:])
    changed = script_json(capsys, protocol, *ESPEAK_NG, *option)
    assert changed["cues"] != default["cues"], "the option changed nothing"
    samples, rate = export(tmp_path, protocol, *ESPEAK_NG, *option)
    cues = changed["cues"]
    errors = onset_errors(
        expected_onsets(cues, rate), cue_onsets(find_onsets(samples, rate), cues, rate), rate
    )
    assert max(abs(e) for e in errors) <= 1000 / rate, errors  # to the sample
    assert len(samples) >= round(changed["duration_s"] * rate)


def test_relax_and_rest_are_the_phase_and_the_gap_they_name(capsys):
    def squeeze_times(*args: str) -> list[float]:
        cues = script_json(capsys, *args)["cues"]
        return [c["at_s"] for c in cues if c["tone"] == "squeeze"]

    plain, relaxed = squeeze_times(), squeeze_times("--relax", "5")
    hold_relax = plain[1] - plain[0]
    assert relaxed[1] - relaxed[0] == pytest.approx(hold_relax + 5 - 3, abs=1e-9), (plain, relaxed)
    short = squeeze_times("glute-squeeze-sets", "--reps", "2", "--rest", "7")
    long = squeeze_times("glute-squeeze-sets", "--reps", "2", "--rest", "12")
    # The third squeeze opens set 2: only the rest before it is 5 s longer.
    assert long[1] - long[0] == pytest.approx(short[1] - short[0], abs=1e-9)
    assert long[2] - long[1] == pytest.approx(short[2] - short[1] + 5, abs=1e-9), (short, long)


def test_cues_voice_says_every_beat_and_plays_no_tone(capsys):
    voice = script_json(capsys, "--cues", "voice")["cues"]
    both = script_json(capsys)["cues"]
    assert all(c["kind"] == "say" for c in voice)
    # A word is heard on every beat a tone marked (it starts its onset ahead of it); the
    # opening words start the session where its tone did.
    beats = {round(c["at_s"], 3) for c in both if c["kind"] == "tone" and c["role"] != "start"}
    assert beats <= {round(c["beat_s"], 3) for c in voice}, "a word on every beat a tone marked"
    assert voice[0]["role"] == "start" and voice[0]["at_s"] == 0.0
    assert {c["text"] for c in voice} == {c["text"] for c in both if c["text"]}


# --- loudness and voice -----------------------------------------------------------------


def test_volume_one_half_halves_the_speech_peak(tmp_path):
    """`--cues voice` so every sample is speech, `--loudness off` so no session gain
    brings the quieter one back up (with it on, --volume sets speech against the tones)."""
    full, _ = export(tmp_path, "--cues", "voice", "--loudness", "off", name="full.wav")
    half, _ = export(
        tmp_path, "--cues", "voice", "--volume", "0.5", "--loudness", "off", name="half.wav"
    )
    assert len(full) == len(half)
    ratio = float(np.max(np.abs(half)) / np.max(np.abs(full)))
    # 16-bit WAV: each peak is exact to 1/32768, so the ratio to well under 0.1 %.
    assert ratio == pytest.approx(0.5, abs=0.001), ratio
    np.testing.assert_allclose(half, full * 0.5, atol=2 / 32768)


def test_voice_chooses_who_speaks_with_its_own_cache_entries(tmp_path, capsys):
    phrases = Path(os.environ[CACHE_DIR_ENV]) / "phrases"
    before = {p.name for p in phrases.glob("*" + ENTRY_SUFFIX)}
    default, rate = export(tmp_path, "--reps", "1", name="default.wav")
    assert {p.name for p in phrases.glob("*" + ENTRY_SUFFIX)} == before, "the default was warm"
    other, other_rate = export(
        tmp_path, "--reps", "1", "--voice", "gmw/en-GB-x-rp", name="other.wav"
    )
    added = {p.name for p in phrases.glob("*" + ENTRY_SUFFIX)} - before
    texts = {c["text"] for c in script_json(capsys, "--reps", "1")["cues"] if c["text"]}
    assert len(added) == len(texts), "one new entry per phrase, spoken in the chosen voice"
    assert rate == other_rate
    assert len(default) != len(other) or not np.array_equal(default, other)


# --- files and what is printed ----------------------------------------------------------


def test_subtitles_vtt_are_written_beside_the_audio_with_every_spoken_cue(tmp_path, capsys):
    out = tmp_path / "s.ogg"
    assert main(["export", "-o", str(out), "--subtitles", "vtt", "--quiet"]) == 0
    spoken = [c for c in script_json(capsys)["cues"] if c["kind"] == "say"]
    vtt = (tmp_path / "s.vtt").read_text(encoding="utf-8")
    assert vtt.startswith("WEBVTT\n\n")
    blocks = [b.splitlines() for b in vtt.split("\n\n")[1:] if b.strip()]
    assert [b[-1] for b in blocks] == [c["text"] for c in spoken]
    for block, cue in zip(blocks, spoken, strict=True):
        start = block[-2].split(" --> ")[0]
        minutes, seconds = start.rsplit(":", 1)[0], start.rsplit(":", 1)[1]
        shown_s = int(minutes.split(":")[-1]) * 60 + float(seconds)  # from when it is heard
        assert shown_s == pytest.approx(cue["beat_s"], abs=0.0005), (block, cue["beat_s"])


def test_export_says_what_it_wrote_and_how_long_unless_quiet(tmp_path, capsys):
    out = tmp_path / "s.wav"
    assert main(["export", "-o", str(out), "--subtitles", "srt"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith(f"Wrote {out}, {tmp_path / 's.srt'} (1:"), err
    assert main(["export", "-o", str(out), "--force", "--quiet"]) == 0
    assert capsys.readouterr() == ("", "")


def test_standard_output_takes_wav_only(tmp_path, capsys):
    err = one_line_error(capsys, 2, "export", "-o", "-", "--format", "flac")
    assert "takes WAV only" in err
    assert list(tmp_path.iterdir()) == []


# --- run and doctor, heard through the null sink ------------------------------------------


def voice_coach(*args: str, **kwargs) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "voice_coach", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def first_audible(samples: np.ndarray, level: float) -> int:
    above = np.flatnonzero(np.abs(samples) > level)
    assert above.size, f"nothing above {level}"
    return int(above[0])


# Where a printed line may land against the sound it names, --latency-ms aside: the live
# loop checks the position every POLL_S (50 ms), and the pipe and parecord's fragment
# (20 ms) add a little. Measured 2026-11-30 with --latency-ms 700: lags of 0.713 to
# 0.743 s (pre-roll heard 0.973 s, peaking 0.00076).
LINE_SLACK_S = 0.12


@pytest.mark.pulse
def test_run_lines_come_latency_ms_after_their_sound_after_a_pre_roll(pulse_server, capsys):
    """`run --latency-ms 700 --pre-roll 1` through a pipe: each cue's line arrives 0.7 s
    after its words were heard at the sink (timed against the recording as it grows); the
    session starts after a second of near-silence; the last line is "Session complete."
    """
    timeline = script_json(capsys, "--reps", "1")
    # A line is printed when its words are heard (beat_s), not at their first sample.
    spoken = {c["text"]: c["beat_s"] for c in timeline["cues"] if c["kind"] == "say"}
    arrivals: list[tuple[str, int]] = []
    result = {}

    def play(tap: Tap) -> None:
        run = voice_coach("run", "--reps", "1", "--latency-ms", "700", "--pre-roll", "1")
        assert run.stdout is not None
        for line in run.stdout:
            arrivals.append((line.rstrip("\n"), tap.frames()))
        result["code"], result["err"] = run.wait(timeout=60), run.stderr.read()  # type: ignore[union-attr]

    samples, rate = record_while(play, pulse_server, tap=True)
    assert result["code"] == 0 and result["err"] == "", result
    lines = [line for line, _ in arrivals]
    assert lines[0].startswith("Safety: ") and lines[-1] == "Session complete.", lines
    start = first_audible(samples, 0.05)  # the start tone: session time 0
    pre_roll = first_audible(samples, 0.0)
    pre_roll_s = (start - pre_roll) / rate
    lead_peak = float(np.max(np.abs(samples[pre_roll : start - round(0.05 * rate)])))
    lags = []
    for line, frame in arrivals[1:-1]:
        text = line.split("  ", 1)[1]
        heard = start + round(spoken[text] * rate)
        lags.append((frame - heard) / rate)
    print(f"pre-roll {pre_roll_s:.3f} s peaking {lead_peak:.5f}; line lags {np.round(lags, 3)} s")
    assert len(lags) == len(spoken)
    assert 0.95 <= pre_roll_s <= 1.05, pre_roll_s
    # Near-silent: under the audible threshold (the sink's resampling to 48 kHz lifts the
    # pre-roll's own peak, PRE_ROLL_PEAK, a little: 0.00076 measured).
    assert 0 < lead_peak < AUDIBLE_THRESHOLD, lead_peak
    assert all(abs(lag - 0.7) <= LINE_SLACK_S for lag in lags), lags


@pytest.mark.pulse
def test_run_quiet_prints_nothing_and_still_plays(pulse_server):
    result = {}

    def play() -> None:
        run = voice_coach("run", "--reps", "1", "--quiet")
        result["out"], result["err"] = run.communicate(timeout=60)
        result["code"] = run.returncode

    samples, _rate = record_while(play, pulse_server)
    assert result == {"out": "", "err": "", "code": 0}
    assert np.max(np.abs(samples)) > 0.1, "the session was heard"


@pytest.mark.pulse
@pytest.mark.parametrize("backend", [None, "simpleaudio"])
def test_doctor_plays_its_test_tone_through_the_backend_asked_for(pulse_server, backend):
    """`doctor` without --silent plays a one-second tone: heard on the sink, for about a
    second. simpleaudio runs with PYTHONMALLOC=malloc on 3.12+ (as README says it must)."""
    args = ["doctor"] if backend is None else ["doctor", "--backend", backend]
    env = {**os.environ, "PYTHONMALLOC": "malloc"} if sys.version_info >= (3, 12) else None
    result = {}

    def play() -> None:
        doctor = voice_coach(*args, env=env)
        result["out"], result["err"] = doctor.communicate(timeout=60)
        result["code"] = doctor.returncode

    samples, rate = record_while(play, pulse_server)
    assert result["code"] == 0, result
    name = backend or "sounddevice"
    assert f"played a 1 s tone through {name}" in result["out"], result["out"]
    assert "A session can play here" in result["out"]
    loud = np.flatnonzero(np.abs(samples) > 0.02)
    assert loud.size and 0.9 <= (loud[-1] - loud[0]) / rate <= 1.05


@pytest.mark.pulse
def test_simpleaudio_is_refused_on_python_3_12_and_later_unless_pythonmalloc_is_malloc(
    pulse_server,
):
    """Through the CLI, on whichever Python runs the tests: where simpleaudio crashes
    (3.12+ without PYTHONMALLOC=malloc) `run --backend simpleaudio` is one line and exit
    1 before anything plays; with PYTHONMALLOC=malloc, or on 3.11, it plays."""
    plain = {k: v for k, v in os.environ.items() if k != "PYTHONMALLOC"}
    crashes = simpleaudio_refusal(sys.version_info[:2], "1.0.4", None) is not None
    result = {}

    def play() -> None:
        for name, env in (("plain", plain), ("malloc", {**plain, "PYTHONMALLOC": "malloc"})):
            run = voice_coach("run", "--reps", "1", "--quiet", "--backend", "simpleaudio", env=env)
            out, err = run.communicate(timeout=60)
            result[name] = (run.returncode, out, err)

    samples, _rate = record_while(play, pulse_server)
    code, _out, err = result["malloc"]
    assert (code, err) == (0, ""), result["malloc"]
    code, _out, err = result["plain"]
    if crashes:
        assert code == 1 and err.count("\n") == 1 and "PYTHONMALLOC=malloc" in err, err
    else:
        assert (code, err) == (0, ""), result["plain"]
    assert np.max(np.abs(samples)) > 0.1

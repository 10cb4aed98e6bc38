"""Other sound lowered under words: the arithmetic of the server's volumes, the state
file a killed session leaves, and a session with no sound server to reach."""

import json
import math
import os
import signal
import stat
import subprocess
import time

import pytest
from isolation import NOWHERE

from voice_coach.cli import main
from voice_coach.coach.settings import DEFAULT_DUCK_DB
from voice_coach.desktop import signals_end_the_session
from voice_coach.desktop.ducking import (
    Ducked,
    Ducker,
    ducked_volume,
    left_behind,
    read_state,
    same_volume,
    write_state,
)


@pytest.mark.parametrize("duck_db", [3.0, 15.0, 40.0])
def test_the_cubic_volume_lowers_the_amplitude_by_the_decibels_asked(duck_db):
    saved = [65536, 40000]
    lowered = ducked_volume(saved, duck_db, 1.0)
    for before, after in zip(saved, lowered, strict=True):
        amplitude_db = 20 * 3 * math.log10(after / before)  # cubic scale
        assert amplitude_db == pytest.approx(-duck_db, abs=0.01)
    assert ducked_volume(saved, duck_db, 0.0) == saved  # weight 0: exactly as it was


def test_a_stream_is_ours_only_at_a_volume_we_set():
    stream = Ducked(3, "mpv", saved=[100, 100], set=[60, 60], was=[80, 80])
    assert stream.ours([60, 61]) and stream.ours([80, 80])  # the server's rounding
    assert not stream.ours([30, 30]) and not stream.ours([100, 100])
    assert same_volume([1, 2], [2, 1]) and not same_volume([1], [1, 1])


def test_the_state_file_is_private_whole_and_read_back(tmp_path):
    path = tmp_path / "run" / "voice-coach" / "ducked-1.json"
    streams = [Ducked(3, "mpv", [65536, 65536], [36000, 36000], [50000, 50000])]
    write_state(path, streams)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert read_state(path) == streams
    assert not list(path.parent.glob("*.part"))
    path.write_text("{not json")
    assert read_state(path) == []


def test_only_files_of_ended_sessions_are_left_behind(tmp_path):
    ended = subprocess.Popen(["true"])
    ended.wait()
    (tmp_path / f"ducked-{ended.pid}.json").write_text(json.dumps({"streams": []}))
    (tmp_path / f"ducked-{os.getpid()}.json").write_text(json.dumps({"streams": []}))
    (tmp_path / "ducked-junk.json").write_text("")
    assert left_behind(tmp_path) == [tmp_path / f"ducked-{ended.pid}.json"]


def test_with_no_sound_server_the_ducker_says_why_and_holds_nothing_up(monkeypatch):
    monkeypatch.setenv("PULSE_SERVER", NOWHERE["PULSE_SERVER"])  # the test server may be up
    ducker = Ducker(lambda: 0.0, lambda: True, DEFAULT_DUCK_DB)
    ducker.start()
    started = time.monotonic()
    from voice_coach.core.timeline import Timeline

    ducker.follow(Timeline("none", cues=(), spans=(), duration_s=1.0, reps=1, sets=1))
    assert time.monotonic() - started < 0.5  # the ducking process said so, or gave up
    ducker.close()
    assert ducker.problem == "no sound server (PulseAudio or PipeWire) reached"


def test_sigterm_and_sighup_end_a_session_as_ctrl_c_does():
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGHUP)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        with pytest.raises(KeyboardInterrupt), signals_end_the_session():
            os.kill(os.getpid(), sig)
            time.sleep(1)
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGHUP)) == before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--others", "loud"], "--others: must be one of duck, pause, keep, not 'loud'"),
        (["--duck-db", "50"], "--duck-db"),
    ],
)
def test_a_bad_others_option_is_one_line_exit_2(argv, message, capsys):
    assert main(["run", "--quiet", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err

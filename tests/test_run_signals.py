"""`voice-coach run` as a user runs it: Ctrl-C, no device, and `doctor`, as real processes."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from isolation import NOWHERE, has_sound_card
from pulse import record_while


def voice_coach(*args: str, env: dict[str, str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "voice_coach", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


@pytest.fixture
def env(pulse_server, warm_cache) -> dict[str, str]:
    """The test server and this test's own warm cache, so a run starts at once."""
    return dict(os.environ)


@pytest.mark.pulse
def test_ctrl_c_fades_out_within_100_ms_reports_and_exits_130(pulse_server, env):
    result = {}

    def play() -> None:
        run = voice_coach("run", env=env)
        time.sleep(7.6)  # about 7 s into the session: inside rep 1's counted squeeze
        result["signalled"] = time.monotonic()
        run.send_signal(signal.SIGINT)
        out, err = run.communicate(timeout=30)
        result.update(code=run.returncode, out=out, err=err)

    samples, rate = record_while(play, pulse_server, tail_s=1.0)
    assert result["code"] == 130, result
    assert "Traceback" not in result["err"]
    assert "Stopped at 0:0" in result["err"] and "rep 1 of 10" in result["err"], result["err"]
    # The session was heard, and nothing sounded in the second after it stopped. (The
    # fade itself is measured on a steady tone, where a click can be told from speech:
    # tests/test_playback.py::test_stop_fades_out_without_a_click.)
    assert np.max(np.abs(samples)) > 0.1
    assert np.max(np.abs(samples[-round(0.9 * rate) :])) < 1e-3


class InterruptAt:
    """A keyboard that presses Ctrl-C (raises KeyboardInterrupt, as the signal does in
    the main thread) once ``at_s`` seconds have passed."""

    active = True

    def __init__(self, at_s: float) -> None:
        self.at_s = at_s
        self.started: float | None = None

    def read(self, timeout_s: float) -> str | None:
        now = time.monotonic()
        self.started = self.started or now
        if now - self.started >= self.at_s:
            raise KeyboardInterrupt
        time.sleep(timeout_s)
        return None


@pytest.mark.pulse
def test_ctrl_c_is_heard_to_stop_within_100_ms(pulse_server, env):
    """Timed from the audio: where the sound ends against what the user was hearing."""
    from voice_coach.live import play_live
    from voice_coach.session import SessionOptions, prepare_session

    session = prepare_session(None, SessionOptions()).render(44100)
    result = {}

    def play() -> None:
        result["live"] = play_live(
            session, backend="sounddevice", display_mode="quiet", keys=InterruptAt(1.6)
        )

    samples, rate = record_while(play, pulse_server, tail_s=1.0)
    live = result["live"]
    assert live.interrupted and 0.8 < live.at_s < 2.5, live
    loud = np.flatnonzero(np.abs(samples) > 1e-3)
    first, last = loud[0], loud[-1]
    # The start tone sounds at session time 0: the recording's first sound.
    stopped_s = (last - first) / rate
    assert session.timeline.cues[1].at_s < live.at_s < 3.0, "stopped inside the opening words"
    assert -0.05 <= stopped_s - live.at_s <= 0.1, (stopped_s, live.at_s)


def test_run_without_a_device_says_so_and_how_to_export():
    if has_sound_card():
        pytest.skip("this machine has a sound card, so there is a device")
    env = {**os.environ, **NOWHERE}
    run = voice_coach("run", env=env)
    _out, err = run.communicate(timeout=60)
    assert run.returncode == 1, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "sounddevice" in err and "voice-coach export -o session.wav" in err


@pytest.mark.pulse
def test_doctor_passes_where_a_session_can_play(env):
    doctor = voice_coach("doctor", "--silent", env=env)
    out, err = doctor.communicate(timeout=60)
    assert doctor.returncode == 0, out + err
    for check in (
        "speech engine",
        "voices",
        "phrase cache",
        "back-end sounddevice",
        "output device",
    ):
        assert check in out
    assert "A session can play here" in out


def test_doctor_fails_and_says_how_to_fix_without_a_device():
    if has_sound_card():
        pytest.skip("this machine has a sound card, so there is a device")
    env = {**os.environ, **NOWHERE}
    doctor = voice_coach("doctor", "--silent", env=env)
    out, err = doctor.communicate(timeout=60)
    assert doctor.returncode == 1, out + err
    assert "FAIL" in out and "output device" in out and "export -o session.wav" in out


@pytest.mark.pulse
def test_a_status_reader_that_stops_early_does_not_stop_the_session(pulse_server, env):
    """`voice-coach run | head -n 1`: the text is for whoever reads it, the session is the
    sound. When `head` goes, the session plays on to its end and exits 0, quietly."""
    result = {}

    def play() -> None:
        run = subprocess.Popen(
            [sys.executable, "-m", "voice_coach", "run", "--reps", "2"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        head = subprocess.run(["head", "-n", "1"], stdin=run.stdout, capture_output=True)
        run.stdout.close()
        result["code"] = run.wait(timeout=120)
        result.update(head=head.stdout.decode(), err=run.stderr.read().decode())

    samples, rate = record_while(play, pulse_server, tail_s=0.5)
    assert result["code"] == 0, result
    assert result["err"] == "", result["err"]
    assert result["head"].count("\n") == 1
    # The whole session was heard, not just its first word: sound in its last seconds.
    script = subprocess.run(
        [sys.executable, "-m", "voice_coach", "script", "--json", "--reps", "2"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    last_cue_s = json.loads(script.stdout)["cues"][-1]["at_s"]
    heard = np.flatnonzero(np.abs(samples) > 0.05)
    assert len(heard) and (heard[-1] - heard[0]) / rate >= last_cue_s - 0.5

"""`voice-coach run` as a user runs it: Ctrl-C, no device, and `doctor`, as real processes."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np
import pytest
from isolation import NOWHERE, has_sound_card
from pulse import RECORD_RATE, HeardKeys, Tap, record_while

from voice_coach.core.clip import AUDIBLE_THRESHOLD


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


def device_latency_s(backend: str) -> float:
    """The output latency the back-end reports for a session's stream on the test sink:
    what ``run`` itself opens (same back-end, same settings), so the same figure."""
    from voice_coach.audio.playback import Player, test_tone

    with Player(test_tone(22050, 0.1), backend) as player:
        return player.output_latency_s


def first_loud(tap: Tap, after: int = 0, level: float = 0.05) -> int | None:
    """The first recorded frame from ``after`` louder than ``level``, if any yet."""
    chunk = tap.read(after, tap.frames() - after)
    loud = np.flatnonzero(np.abs(chunk) > level)
    return after + int(loud[0]) if loud.size else None


def sounding_now(tap: Tap, level: float = 0.05) -> int | None:
    """The recording's now, if its last 5 ms are louder than ``level``."""
    now = tap.frames()
    window = round(0.005 * RECORD_RATE)
    return now if np.max(np.abs(tap.read(now - window, window)), initial=0.0) > level else None


def wait_for(find: Callable[[], int | None], what: str, limit_s: float = 30) -> int:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        found = find()
        if found is not None:
            return found
        time.sleep(0.002)
    raise AssertionError(f"never heard {what}")


# What Ctrl-C may take to be heard to stop, from the moment it lands: the promise (100 ms,
# the fade of 30 ms within it) plus what the device still holds (its reported latency,
# measured in each test) plus how far parecord's count of written frames trails the
# sink (its 20 ms fragment).
STOP_PROMISE_S = 0.100
RECORDER_LAG_S = 0.020
SINK_EXTRA_S = 0.040


@pytest.mark.pulse
def test_ctrl_c_fades_out_within_100_ms_reports_and_exits_130(pulse_server, env):
    """Timed from the recording: SIGINT is sent while the opening words are sounding
    (found in the recording itself, 1.2 s or more after the start tone, with at least
    half a second of them still to come), and the last audible sample must come within
    the promise of that moment: a stop that came late would let the words run on."""
    latency_s = device_latency_s("sounddevice")
    script = subprocess.run(
        [sys.executable, "-m", "voice_coach", "script", "--json"],
        env=env, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    opening = json.loads(script.stdout)["cues"][1]
    result = {}

    def play(tap: Tap) -> None:
        run = voice_coach("run", env=env)
        start = wait_for(lambda: first_loud(tap), "the start tone")
        talking = start + round(1.2 * RECORD_RATE)
        wait_for(lambda: tap.frames() >= talking or None, "1.2 s of the session")
        result["signal_at"] = wait_for(lambda: sounding_now(tap), "the opening words")
        run.send_signal(signal.SIGINT)
        out, err = run.communicate(timeout=30)
        result.update(code=run.returncode, out=out, err=err, start=start)

    samples, rate = record_while(play, pulse_server, tail_s=1.0, tap=True)
    assert result["code"] == 130, result
    assert "Traceback" not in result["err"]
    assert re.fullmatch(r"Stopped at 0:01 of 1:\d\d \(lead-in\)\.\n", result["err"]), result["err"]
    signal_s = (result["signal_at"] - result["start"]) / rate
    assert opening["at_s"] + opening["duration_s"] - signal_s > 0.5, "the words were ending"
    audible = np.flatnonzero(np.abs(samples) > AUDIBLE_THRESHOLD)
    stop_s = (audible[-1] - result["signal_at"]) / rate
    bound_s = STOP_PROMISE_S + latency_s + RECORDER_LAG_S
    print(f"last audible sample {stop_s * 1000:.1f} ms after SIGINT landed "
          f"(device latency {latency_s * 1000:.1f} ms, bound {bound_s * 1000:.1f} ms)")  # fmt: skip
    assert 0 < stop_s <= bound_s, (stop_s, latency_s)


@pytest.mark.pulse
def test_ctrl_c_is_heard_to_stop_within_100_ms(pulse_server, env):
    """Timed from the audio: where the sound ends against what the user was hearing."""
    from voice_coach.live import play_live
    from voice_coach.session import SessionOptions, prepare_session

    session = prepare_session(None, SessionOptions()).render(44100)
    latency_s = device_latency_s("sounddevice")
    result = {}

    def play(tap: Tap) -> None:
        result["keys"] = keys = HeardKeys(tap, [(1.6, "^C")])
        result["live"] = play_live(session, backend="sounddevice", display_mode="quiet", keys=keys)

    samples, rate = record_while(play, pulse_server, tail_s=1.0, tap=True)
    live = result["live"]
    assert live.interrupted and 0.8 < live.at_s < 2.5, live
    loud = np.flatnonzero(np.abs(samples) > 1e-3)
    first, last = loud[0], loud[-1]
    # The start tone sounds at session time 0: the recording's first sound.
    stopped_s = (last - first) / rate
    assert session.timeline.cues[1].at_s < live.at_s < 3.0, "stopped inside the opening words"
    # What the player says was heard at Ctrl-C trails the device's report of its latency;
    # the sink buffers a little beyond that report (SINK_EXTRA_S).
    assert -0.05 <= stopped_s - live.at_s <= STOP_PROMISE_S + SINK_EXTRA_S, (stopped_s, live.at_s)
    [(_key, pressed)] = result["keys"].pressed_at
    after_s = (last - pressed) / rate
    assert 0 < after_s <= STOP_PROMISE_S + latency_s + RECORDER_LAG_S, (after_s, latency_s)


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

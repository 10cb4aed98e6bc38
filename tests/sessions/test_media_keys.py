"""Media keys: `run` as an MPRIS2 player on a real, private D-Bus session bus
(dbus-daemon), driven by the distribution's `playerctl`, heard through the PulseAudio
null sink."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from onsets import expected_onsets, find_onsets
from pulse import RECORD_RATE, Tap, record_while

from voice_coach.coach.log import PracticeLog

pytestmark = pytest.mark.pulse
SESSION = ["--reps", "3", "--hold", "2", "--relax", "2", "--engine", "espeak-ng"]


def playerctl(env, *args: str) -> str:
    done = subprocess.run(
        ["playerctl", "-p", "voice_coach", *args], env=env, capture_output=True, text=True,
        timeout=10,
    )  # fmt: skip
    return done.stdout.strip()


def wait_until(check, what: str, limit_s: float = 30.0):
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"never: {what}")


def loud_at(tap: Tap, frame: int, level: float = 0.02) -> bool:
    window = round(0.05 * RECORD_RATE)
    return bool(np.max(np.abs(tap.read(frame, window)), initial=0.0) > level)


def test_playerctl_pauses_resumes_shows_the_rep_skips_and_stops(bus, tmp_path):
    from voice_coach.audio.playback import DEVICE_LATENCY_S

    bus, server = bus
    result: dict = {}

    def play(tap: Tap) -> None:
        run = subprocess.Popen(
            [sys.executable, "-m", "voice_coach", "run", *SESSION], env=bus,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        wait_until(lambda: playerctl(bus, "status") == "Playing", "a player on the bus")
        assert playerctl(bus, "metadata", "xesam:artist") == "voice-coach"
        wait_until(lambda: "rep 1 of 3" in playerctl(bus, "metadata", "xesam:title"), "rep 1")
        wait_until(lambda: loud_at(tap, tap.frames() - round(0.05 * RECORD_RATE)), "sound")
        result["paused_at"] = tap.frames()
        playerctl(bus, "pause")
        time.sleep(1.5)
        result["status_paused"] = playerctl(bus, "status")
        result["resumed_at"] = tap.frames()
        playerctl(bus, "play")
        time.sleep(1.0)
        result["status_playing"] = playerctl(bus, "status")
        wait_until(lambda: "rep 2 of 3" in playerctl(bus, "metadata", "xesam:title"), "rep 2")
        playerctl(bus, "next")  # the rest of the set: the end
        wait_until(lambda: "end" in playerctl(bus, "metadata", "xesam:title"), "the end")
        playerctl(bus, "stop")
        result["out"], result["err"] = run.communicate(timeout=60)
        result["code"] = run.returncode

    samples, rate = record_while(play, server, tail_s=0.5, tap=True)
    assert result["code"] == 0, result
    assert (result["status_paused"], result["status_playing"]) == ("Paused", "Playing")
    # A pause lets the word being said finish (as space does), then holds silence
    # until play: the last 0.4 s before it are silent, and more than what the device
    # holds has passed since the command.
    assert result["resumed_at"] - result["paused_at"] > round((DEVICE_LATENCY_S + 1.0) * rate)
    held = samples[result["resumed_at"] - round(0.4 * rate) : result["resumed_at"]]
    assert np.max(np.abs(held)) < 1e-3
    # And sound again after play.
    after = samples[result["resumed_at"] : result["resumed_at"] + round(1.0 * rate)]
    assert np.max(np.abs(after)) > 0.02
    with PracticeLog(Path(bus["VOICE_COACH_DATA_DIR"]) / "log.sqlite3", create=False) as log:
        (entry,) = log.entries()
    assert entry.ended == "quit" and entry.skipped == 1, entry


def test_without_a_bus_the_session_plays_and_says_nothing_of_it(pulse_server, warm_cache):
    env = {**os.environ, "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent/bus"}
    done = subprocess.run(
        [sys.executable, "-m", "voice_coach", "run", "--reps", "1", "--no-log", "--quiet",
         "--engine", "espeak-ng"], env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0 and done.stderr == "", done.stderr


def test_doctor_says_whether_media_keys_can_work(bus):
    env, _server = bus
    for environment, expected in [
        (env, "ok    media keys"),
        ({**env, "DBUS_SESSION_BUS_ADDRESS": ""}, "--    media keys            none:"),
    ]:
        done = subprocess.run(
            [sys.executable, "-m", "voice_coach", "doctor", "--silent"], env=environment,
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        line = next(line for line in done.stdout.splitlines() if "media keys" in line)
        assert line.startswith(expected), line


def test_doctor_says_whether_other_sound_can_be_lowered(bus):
    env, _server = bus
    for environment, expected in [
        (env, "ok    other sound           pulseaudio "),
        ({**env, "PULSE_SERVER": "unix:/nonexistent/pulse"}, "--    other sound           none: "
         "no sound server (PulseAudio or PipeWire) reached"),
    ]:  # fmt: skip
        done = subprocess.run(
            [sys.executable, "-m", "voice_coach", "doctor", "--silent"], env=environment,
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        line = next(line for line in done.stdout.splitlines() if "other sound" in line)
        assert line.startswith(expected), line


def silent_from(samples: np.ndarray, frame: int, rate: int) -> int:
    """The first frame from ``frame`` after which 0.1 s stays silent."""
    window = round(0.1 * rate)
    loud = np.flatnonzero(np.abs(samples[frame:]) > 1e-3)
    for index, at in enumerate(loud):
        after = loud[index + 1] if index + 1 < len(loud) else len(samples) - frame
        if after - at > window:
            return frame + int(at) + 1
    return frame


def test_a_media_key_pauses_no_later_than_the_space_key_plus_50_ms(bus):
    """In one session on a terminal: space pauses (and resumes), then `playerctl pause`
    does; each timed from when it was sent to when the recording falls silent."""
    from terminal import Terminal

    env, server = bus
    result: dict = {}

    def play(tap: Tap) -> None:
        terminal = Terminal(["run", *SESSION, "--no-log"], env)
        terminal.wait_for(r"rep 1 of 3", 60)
        time.sleep(0.5)
        result["space_at"] = tap.frames()
        terminal.type(" ")
        terminal.wait_for(r"Paused at", 10)
        time.sleep(1.0)
        terminal.type(" ")
        terminal.wait_for(r"rep 2 of 3", 30)
        time.sleep(0.5)
        result["key_at"] = tap.frames()
        playerctl(env, "pause")
        time.sleep(1.0)
        playerctl(env, "stop")
        result["code"], result["err"] = terminal.finish()

    samples, rate = record_while(play, server, tail_s=0.5, tap=True)
    assert result["code"] == 0, result
    space_s = (silent_from(samples, result["space_at"], rate) - result["space_at"]) / rate
    key_s = (silent_from(samples, result["key_at"], rate) - result["key_at"]) / rate
    print(f"silent {space_s * 1000:.0f} ms after space, {key_s * 1000:.0f} ms after playerctl")
    assert 0 < space_s < 0.5 and 0 < key_s <= space_s + 0.05, (space_s, key_s)


def test_after_playerctl_play_every_cue_keeps_its_place_to_the_sample(bus, tmp_path):
    """A pause by `playerctl` and `play` after it: the session goes on from the start of
    the phase it was paused in, and every cue from there lands where the schedule puts
    it, shifted as one by the pause (within a millisecond of one another)."""
    env, server = bus
    tones = [*SESSION, "--cues", "tones"]
    timeline = json.loads(
        subprocess.run([sys.executable, "-m", "voice_coach", "script", "--json", *tones],
                       env=env, capture_output=True, text=True, check=True).stdout
    )  # fmt: skip
    result: dict = {}

    def play(tap: Tap) -> None:
        run = subprocess.Popen(
            [sys.executable, "-m", "voice_coach", "run", *tones, "--no-log"], env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        wait_until(lambda: "rep 2 of 3" in playerctl(env, "metadata", "xesam:title"), "rep 2")
        time.sleep(0.7)
        result["paused_at"] = tap.frames()
        playerctl(env, "pause")
        time.sleep(1.5)
        result["resumed_at"] = tap.frames()
        playerctl(env, "play")
        run.communicate(timeout=60)
        result["code"] = run.returncode

    samples, rate = record_while(play, server, tail_s=0.5, tap=True)
    assert result["code"] == 0, result
    expected = expected_onsets(timeline["cues"], rate)
    found = find_onsets(samples, rate)
    before = [f for f in found if f < result["paused_at"]]
    after = [f for f in found if f > result["resumed_at"]]
    assert before and len(after) >= 4, (before, after)

    def spread(first: list[int], schedule: list[int]) -> float:
        shifts = np.array(first) - np.array(schedule[: len(first)])
        return float(shifts.max() - shifts.min()) / rate * 1000

    assert spread(before, expected) <= 2.0, "the cues before the pause"
    # The cue the session went on from is one of the schedule's; the rest follow it.
    candidates = [j for j in range(len(expected)) if len(expected) - j == len(after)]
    assert candidates, (len(expected), len(after))
    assert spread(after, expected[candidates[0] :]) <= 2.0, "every cue after play, as one"

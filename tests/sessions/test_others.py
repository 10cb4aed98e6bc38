"""Other sound during `run` (`--others duck|pause|keep`), with a real player: mpv, with
the distribution's mpv-mpris plugin (started without --no-config, so the plugin loads),
plays a tone of known frequency into the test's null sink while a session plays there.

The recording shows the tone lowered under every word and tone and back in the gaps;
every way a session ends puts mpv's stream back to the exact per-channel volume it had;
a volume the user sets meanwhile is theirs; `--others pause` pauses mpv for the session
and resumes it (after `kill -9` too), and leaves a player that was already paused alone.
mpv's state is read with `pactl` (its stream's volume) and mpv's own IPC socket (paused or
not), apart from voice-coach's own D-Bus and pulsectl code.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
from pulse import RECORD_RATE, record_while
from terminal import Terminal

pytestmark = pytest.mark.pulse

MUSIC_HZ = 9500.0  # above almost all of a voice's energy: the music's level reads apart
MUSIC_AMPLITUDE = 0.3
SESSION = ["--hold", "2", "--relax", "4", "--engine", "espeak-ng"]
FRAME = RECORD_RATE // 100  # 10 ms: 9.5 kHz falls on a whole bin


def pactl_json(env: dict[str, str], *args: str) -> list[dict]:
    done = subprocess.run(
        ["pactl", "-f", "json", *args], env=env, capture_output=True, text=True, timeout=10,
        check=True,
    )  # fmt: skip
    return json.loads(done.stdout)


class Mpv:
    """mpv playing a looped tone into the test's sink, with an IPC socket to ask it
    whether it is paused, and its stream on the sound server found by its process."""

    def __init__(self, env: dict[str, str], folder: Path, *, paused: bool = False) -> None:
        assert shutil.which("mpv"), "scripts/setup --dev installs mpv and mpv-mpris"
        folder.mkdir(parents=True, exist_ok=True)
        tone = folder / "tone.wav"
        if not tone.exists():  # 2 s of whole cycles: the loop has no seam
            t = np.arange(2 * RECORD_RATE) / RECORD_RATE
            wave = (MUSIC_AMPLITUDE * np.sin(2 * np.pi * MUSIC_HZ * t)).astype(np.float32)
            soundfile.write(tone, np.stack([wave, wave], axis=1), RECORD_RATE)
        self.env = env
        self.socket = folder / f"mpv-{time.monotonic_ns()}.sock"
        home = folder / "home"  # no user configuration; the system's scripts (mpris.so)
        home.mkdir(exist_ok=True)
        self.process = subprocess.Popen(
            ["mpv", "--no-video", "--ao=pulse", "--loop-file=inf", "--really-quiet",
             f"--input-ipc-server={self.socket}", *(["--pause"] if paused else []), str(tone)],
            env={**env, "HOME": str(home)}, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while (self.index is None or not self.socket.exists()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.index is not None, "mpv's stream never appeared on the sound server"

    def stream(self) -> dict | None:
        for each in pactl_json(self.env, "list", "sink-inputs"):
            if each["properties"].get("application.process.id") == str(self.process.pid):
                return each
        return None

    @property
    def index(self) -> int | None:
        found = self.stream()
        return None if found is None else int(found["index"])

    def volume(self) -> list[int]:
        found = self.stream()
        assert found is not None, "mpv's stream is gone"
        return [channel["value"] for channel in found["volume"].values()]

    def set_volume(self, raw: list[int]) -> None:
        subprocess.run(
            ["pactl", "set-sink-input-volume", str(self.index), *map(str, raw)],
            env=self.env, check=True, timeout=10,
        )  # fmt: skip

    def paused(self) -> bool:
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(str(self.socket))
            client.sendall(b'{"command": ["get_property", "pause"]}\n')
            reply = b""
            while b"\n" not in reply:
                reply += client.recv(4096)
        for line in reply.splitlines():
            answer = json.loads(line)
            if "data" in answer:
                return bool(answer["data"])
        raise AssertionError(f"mpv did not say: {reply!r}")

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def music(bus, tmp_path):
    """mpv playing the tone, and the environment (sound server, bus) it and run share."""
    env, _server = bus
    player = Mpv(env, tmp_path / "mpv")
    yield player
    player.close()


def until(check, what: str, limit_s: float = 30.0, step_s: float = 0.02):
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(step_s)
    raise AssertionError(f"never: {what}")


def script_cues(env: dict[str, str], args: list[str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "voice_coach", "script", "--json", *args], env=env,
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)


def music_db(samples: np.ndarray) -> np.ndarray:
    """The tone's level in each 10 ms frame, in dB of its amplitude (Hann window)."""
    frames = len(samples) // FRAME
    blocks = samples[: frames * FRAME].reshape(frames, FRAME) * np.hanning(FRAME)
    probe = np.exp(-2j * np.pi * MUSIC_HZ * np.arange(FRAME) / RECORD_RATE)
    amplitude = np.abs(blocks @ probe) * 2 / np.hanning(FRAME).sum()
    return 20 * np.log10(np.maximum(amplitude, 1e-9))


def without_music(samples: np.ndarray) -> np.ndarray:
    """The session's own sound: the recording below 3 kHz, where voices and tones are
    loud and the music is not (nor the clicks of its volume's steps)."""
    spectrum = np.fft.rfft(samples)
    spectrum[np.fft.rfftfreq(len(samples), 1 / RECORD_RATE) > 3000] = 0
    return np.fft.irfft(spectrum, len(samples))


def merged(spans: list[tuple[float, float]], hold_s: float) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for start, end in sorted(spans):
        if out and start - out[-1][1] < hold_s:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def power_db(levels_db: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(10 ** (levels_db / 10))))


def test_music_is_lowered_under_every_word_and_tone_and_back_in_the_gaps(bus, music):
    env, server = bus
    args = [*SESSION, "--reps", "2"]
    timeline = script_cues(env, args)

    def play() -> None:
        done = subprocess.run(
            [sys.executable, "-m", "voice_coach", "run", *args, "--no-log", "--quiet",
             "--others", "duck"], env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr

    samples, rate = record_while(play, server, tail_s=1.5)
    level = music_db(samples)
    reference = float(np.median(level[-50:]))  # the last 0.5 s: the session is over
    assert reference > -20, f"the music is not in the recording ({reference:.1f} dB)"
    speech = np.abs(without_music(samples))
    edge = round(0.1 * rate)  # the recording's cut ends ring through the band-stop
    first = edge + int(np.flatnonzero(speech[edge:] > 0.02)[0])  # the start tone: sample 0

    def frames(start_s: float, end_s: float) -> slice:
        start, end = first + round(start_s * rate), first + round(end_s * rate)
        return slice(start // FRAME, end // FRAME)

    under = []
    for cue in timeline["cues"]:
        during = power_db(level[frames(cue["at_s"], cue["at_s"] + cue["duration_s"])])
        under.append((cue["text"] or cue["tone"], reference - during))
    assert all(drop >= 12 for _what, drop in under), under
    spans = merged([(c["at_s"], c["at_s"] + c["duration_s"]) for c in timeline["cues"]], 1.5)
    gaps = [(a[1], b[0]) for a, b in itertools.pairwise(spans) if b[0] - a[1] >= 2]
    assert len(gaps) >= 2, f"the session has too few long gaps to check: {spans}"
    back = [reference - float(level[frames(*gap)].max()) for gap in gaps]
    assert all(drop <= 1 for drop in back), back
    # Before the session, the music at its own level (the duck came with the session).
    assert reference - float(np.median(level[: first // FRAME - 30])) <= 1


def duck_started(music: Mpv, before: list[int]) -> bool:
    now = music.volume()
    return all(n < b for n, b in zip(now, before, strict=True))


def duck_held(music: Mpv, before: list[int]) -> bool:
    """Lowered and still for a while (no ramp moving it)."""
    first = music.volume()
    time.sleep(0.1)
    return duck_started(music, before) and music.volume() == first


@pytest.mark.parametrize("how", ["end", "q", "ctrl-c", "sigterm", "sighup", "kill -9"])
def test_every_way_out_puts_the_music_back_to_its_exact_volume(bus, music, how):
    env, _server = bus
    before = [52_000, 39_000]  # a balance of the user's own: each channel put back
    music.set_volume(before)
    reps = "1" if how == "end" else "3"
    terminal = Terminal(["run", *SESSION, "--reps", reps, "--no-log", "--others", "duck"], env)
    until(lambda: duck_started(music, before), "the music lowered")
    run = terminal.process
    if how == "q":
        terminal.type("q")
    elif how == "ctrl-c":
        os.killpg(run.pid, signal.SIGINT)  # the terminal's Ctrl-C: the whole group
    elif how in ("sigterm", "sighup"):
        run.send_signal(signal.SIGTERM if how == "sigterm" else signal.SIGHUP)
    elif how == "kill -9":
        run.kill()
    code, err = terminal.finish()
    ended = time.monotonic()
    assert code == {"end": 0, "q": 0, "kill -9": -9}.get(how, 130), err
    runtime = Path(env["XDG_RUNTIME_DIR"]) / "voice-coach"
    if how != "kill -9":
        # Put back before the session exited: it waits for its ducking process to do so.
        assert music.volume() == before
        assert not list(runtime.glob("ducked-*"))
        return
    until(lambda: music.volume() == before, "the music back at its volume", limit_s=2.0)
    assert time.monotonic() - ended < 2.0
    until(lambda: not list(runtime.glob("ducked-*")), "the state file removed", limit_s=2.0)


def test_a_volume_the_user_sets_meanwhile_is_theirs(bus, music):
    env, _server = bus
    before = music.volume()
    run = subprocess.Popen(
        [sys.executable, "-m", "voice_coach", "run", *SESSION, "--reps", "1", "--no-log",
         "--quiet", "--others", "duck"], env=env, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    # Set while the duck holds, as a hand at a mixer would between ramps; one set in
    # the instant between a ramp step's read and its write: the test after this one.
    until(lambda: duck_held(music, before), "the music held lowered")
    mine = [19_661, 19_661]  # 30%, set by hand while the session plays
    music.set_volume(mine)
    assert run.wait(timeout=120) == 0
    time.sleep(0.3)
    assert music.volume() == mine


def test_a_volume_the_user_sets_between_the_ducking_s_read_and_its_write_is_theirs(
    bus, music, tmp_path, monkeypatch
):
    """The ducking reads the volumes, writes its state file, then sets the next step of
    the ramp: a volume the user sets in between (here, while the file is written) is
    kept, not overwritten by that step and then "restored" to the one before."""
    from voice_coach.desktop import ducking

    mine = [19_661, 19_661]
    write_state = ducking.write_state
    user_sets: list[list[int]] = [mine]

    def the_user_sets_it_meanwhile(path, streams):
        write_state(path, streams)
        if user_sets:
            music.set_volume(user_sets.pop())

    monkeypatch.setattr(ducking, "write_state", the_user_sets_it_meanwhile)
    pulse = ducking.connect()
    try:
        follower = ducking.Follower(pulse, os.getpid(), 15.0, tmp_path / "ducked.json")
        follower.follow([(0.5, 5.0)])
        follower.clock = (0.5, time.monotonic(), True)
        follower.tick()
        assert not user_sets, "the ducking changed nothing: the test set nothing"
        assert music.volume() == mine
        for _ in range(15):  # the duck goes on, from the user's volume
            time.sleep(ducking.TICK_S)
            follower.tick()
        assert all(now < kept for now, kept in zip(music.volume(), mine, strict=True))
        follower.restore()
    finally:
        pulse.close()
    assert music.volume() == mine


def test_the_next_session_restores_what_a_killed_session_and_ducking_process_left(bus, music):
    """Both the session and its ducking process gone: the state file is all that is left, and
    the next `run` (whatever its --others) puts the music back from it."""
    env, _server = bus
    saved, lowered = [50_000, 50_000], [28_000, 28_000]
    music.set_volume(lowered)
    dead = subprocess.Popen(["true"])
    dead.wait()
    runtime = Path(env["XDG_RUNTIME_DIR"]) / "voice-coach"
    runtime.mkdir(mode=0o700)
    state = runtime / f"ducked-{dead.pid}.json"
    stream = {"index": music.index, "name": "mpv", "saved": saved, "set": lowered, "was": None}
    state.write_text(json.dumps({"pid": dead.pid, "streams": [stream]}))
    done = subprocess.run(
        [sys.executable, "-m", "voice_coach", "run", *SESSION, "--reps", "1", "--no-log",
         "--quiet", "--others", "keep"], env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert music.volume() == saved
    assert not state.exists()


def test_pause_pauses_playing_players_and_resumes_only_those(bus, music, tmp_path):
    env, _server = bus
    already = Mpv(env, tmp_path / "paused-mpv", paused=True)
    try:
        until(lambda: not music.paused(), "mpv playing")
        assert already.paused()
        run = subprocess.Popen(
            [sys.executable, "-m", "voice_coach", "run", *SESSION, "--reps", "1", "--no-log",
             "--quiet", "--others", "pause"], env=env, stdin=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        until(music.paused, "the playing mpv paused for the session")
        assert run.poll() is None, "the session ended before it was seen paused"
        _out, err = run.communicate(timeout=120)
        assert run.returncode == 0 and err == "", err
        until(lambda: not music.paused(), "the playing mpv resumed", limit_s=3)
        assert already.paused(), "a player the user had paused was resumed"
    finally:
        already.close()


@pytest.mark.parametrize("how", ["sigterm", "kill -9"])
def test_pause_resumes_the_players_however_the_session_ends(bus, music, how):
    """The players process resumes them when the session's pipe closes: after SIGTERM
    through the session's own handlers, after ``kill -9`` with none."""
    env, _server = bus
    run = subprocess.Popen(
        [sys.executable, "-m", "voice_coach", "run", *SESSION, "--reps", "3", "--no-log",
         "--quiet", "--others", "pause"], env=env, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    until(music.paused, "the playing mpv paused for the session")
    run.send_signal(signal.SIGTERM if how == "sigterm" else signal.SIGKILL)
    assert run.wait(timeout=30) == (130 if how == "sigterm" else -9)
    ended = time.monotonic()
    until(lambda: not music.paused(), "the playing mpv resumed", limit_s=2.0)
    assert time.monotonic() - ended < 2.0


def test_pause_lets_the_players_play_while_the_session_is_paused(bus, music):
    """As lowered music comes back while the session is paused, so do paused players: space
    resumes mpv, space again pauses it as the session plays on, `q` resumes it for good."""
    env, _server = bus
    terminal = Terminal(["run", *SESSION, "--reps", "3", "--no-log", "--others", "pause"], env)
    until(music.paused, "the playing mpv paused for the session")
    terminal.type(" ")
    terminal.wait_for(r"Paused at \d+:\d\d", 10)
    until(lambda: not music.paused(), "mpv playing while the session is paused", limit_s=2)
    terminal.type(" ")
    until(music.paused, "mpv paused again as the session plays on", limit_s=2)
    terminal.type("q")
    code, err = terminal.finish()
    assert code == 0, err
    until(lambda: not music.paused(), "mpv playing after the session", limit_s=3)


@pytest.fixture
def remembering(bus):
    """The sound server's memory of each application's volume (module-stream-restore,
    which a desktop's PulseAudio loads), for one test: loaded before its players start."""
    env, _server = bus
    loaded = subprocess.run(
        ["pactl", "load-module", "module-stream-restore"], env=env, capture_output=True,
        text=True, check=True, timeout=10,
    )  # fmt: skip
    yield
    unload = ["pactl", "unload-module", loaded.stdout.strip()]
    subprocess.run(unload, env=env, check=True, timeout=10)


def but_gaps(err: str) -> list[str]:
    """What a session said on stderr but the note of a gap heard (the device ran short,
    which a fresh PipeWire on a busy machine can do once): not what these tests test."""
    return [line for line in err.splitlines() if "the audio device ran short" not in line]


@pytest.fixture
def pipewire(bus, tmp_path):
    """PipeWire with WirePlumber (its session manager, which remembers each application's
    volume) and its PulseAudio interface, as most new desktops run them, in folders of
    this test's own, with a null sink: the environment that reaches it and the bus."""
    env, _server = bus
    assert shutil.which("pipewire") and shutil.which("wireplumber"), "scripts/setup --dev"
    home = tmp_path / "pipewire"
    runtime = home / "run"
    runtime.mkdir(parents=True, mode=0o700)
    env = {**env, "XDG_RUNTIME_DIR": str(runtime), "XDG_STATE_HOME": str(home / "state"),
           "XDG_CONFIG_HOME": str(home / "config"),
           "PULSE_SERVER": f"unix:{runtime}/pulse/native"}  # fmt: skip
    env.pop("PULSE_SINK", None)
    interface = Path(__file__).with_name("pipewire-pulse.conf")
    started: list[subprocess.Popen] = []
    with (home / "log").open("w") as log:
        try:
            for command in (["pipewire"], ["wireplumber"], ["pipewire", "-c", str(interface)]):
                started.append(subprocess.Popen(command, env=env, stdout=log, stderr=log))
                if command == ["pipewire"]:
                    until(lambda: (runtime / "pipewire-0").exists(), "PipeWire started")
            answers = ["pactl", "info"]
            until(lambda: subprocess.run(answers, env=env, capture_output=True, timeout=10)
                  .returncode == 0, "PipeWire's PulseAudio interface answering")  # fmt: skip
            subprocess.run(
                ["pactl", "load-module", "module-null-sink", "sink_name=voice_coach_pipewire"],
                env=env, check=True, capture_output=True, timeout=10,
            )  # fmt: skip
            yield {**env, "PULSE_SINK": "voice_coach_pipewire"}
        finally:
            for process in reversed(started):
                process.terminate()
                process.wait(timeout=10)


def test_on_pipewire_the_music_is_lowered_and_put_back_to_its_exact_volume(pipewire, tmp_path):
    env = pipewire
    info = ["pactl", "info"]
    server = subprocess.run(info, env=env, capture_output=True, text=True, timeout=10).stdout
    assert "PipeWire" in server, server
    before = [52_000, 39_000]
    player = Mpv(env, tmp_path / "mpv")
    try:
        player.set_volume(before)
        run = subprocess.Popen(
            [sys.executable, "-m", "voice_coach", "run", *SESSION, "--reps", "1", "--no-log",
             "--quiet", "--others", "duck"], env=env, stdin=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        until(lambda: duck_started(player, before), "the music lowered")
        _out, err = run.communicate(timeout=120)
        assert run.returncode == 0 and but_gaps(err) == [], err
        assert player.volume() == before
    finally:
        player.close()


@pytest.mark.parametrize("server", ["pulseaudio", "pipewire"])
def test_a_player_that_quits_while_lowered_starts_at_its_own_volume_next_time(
    request, server, tmp_path
):
    """The server remembers the volume a player's stream ended with (PulseAudio's
    module-stream-restore; under PipeWire, WirePlumber); quit while lowered, the player
    would start that quiet next time, unless that memory is put back."""
    if server == "pulseaudio":
        env, _server = request.getfixturevalue("bus")
        request.getfixturevalue("remembering")
    else:
        env = request.getfixturevalue("pipewire")
    before = [52_000, 39_000]
    player = Mpv(env, tmp_path / "mpv")
    try:
        player.set_volume(before)
        run = subprocess.Popen(
            [sys.executable, "-m", "voice_coach", "run", *SESSION, "--reps", "1", "--no-log",
             "--quiet", "--others", "duck"], env=env, stdin=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        until(lambda: duck_started(player, before), "the music lowered")
    finally:
        player.close()  # quits while lowered
    _out, err = run.communicate(timeout=120)
    assert run.returncode == 0 and but_gaps(err) == [], err
    again = Mpv(env, tmp_path / "mpv")
    try:
        assert again.volume() == before
    finally:
        again.close()

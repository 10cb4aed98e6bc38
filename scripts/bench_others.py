"""Other sound during a live session, measured from the audio itself.

- The live duck's lead: mpv plays a 9.5 kHz tone into a null sink of the bench's own
  while ``run --others duck`` plays there; in the recording, for every word or tone that
  follows a gap (where the music had come back), how long before the cue's first sound
  the music was already 1 dB down, and how far down it was at that sound.
- Pause to silence: ``run`` on a session bus of the bench's own; ``playerctl -p
  voice_coach pause`` sent as a word begins; how long after the word's last sample the
  recording falls silent (a pause lets the word being said finish, as space does).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from bench_live import RATE, new_sink, record, start_server, unload_sinks, voice_coach  # noqa: E402

MUSIC_HZ = 9500.0
FRAME = RATE // 1000  # 1 ms
SESSION = ["--hold", "2", "--relax", "4", "--engine", "espeak-ng"]  # what script takes too
LIVE = ["--no-log", "--quiet"]


def music_db(samples: np.ndarray, window: int = RATE // 100) -> np.ndarray:
    """The tone's level every millisecond, over a 10 ms Hann window centred there."""
    probe = np.exp(-2j * np.pi * MUSIC_HZ * np.arange(window) / RATE) * np.hanning(window)
    level = np.abs(np.convolve(samples, probe[::-1], mode="same")) * 2 / np.hanning(window).sum()
    return 20 * np.log10(np.maximum(level[::FRAME], 1e-9))


def session_sound(samples: np.ndarray) -> np.ndarray:
    """The recording below 3 kHz: the session's voice and tones without the music."""
    spectrum = np.fft.rfft(samples)
    spectrum[np.fft.rfftfreq(len(samples), 1 / RATE) > 3000] = 0
    return np.abs(np.fft.irfft(spectrum, len(samples)))


def tone_file(folder: Path) -> Path:
    path = folder / "tone.wav"
    t = np.arange(2 * RATE) / RATE
    soundfile.write(path, (0.3 * np.sin(2 * np.pi * MUSIC_HZ * t)).astype(np.float32), RATE)
    return path


def script(args: list[str], env: dict[str, str]) -> dict:
    out = subprocess.run(
        voice_coach(["script", "--json", *args]), env=env, check=True, capture_output=True,
        text=True,
    ).stdout  # fmt: skip
    return json.loads(out)


def duck_leads(server: str, folder: Path, runs: int, reps: int) -> dict[str, object]:
    env = {**os.environ, "PULSE_SERVER": server, "HOME": str(folder)}
    args = [*SESSION, "--reps", str(reps)]
    cues = script(args, env)["cues"]
    leads, depths = [], []
    for run in range(runs):
        sink = new_sink(server, f"bench_duck_{os.getpid()}_{run}_{time.monotonic_ns()}")
        mpv = subprocess.Popen(
            # No scripts: mpv-mpris, with no session bus here, only fills stderr.
            ["mpv", "--no-video", "--ao=pulse", "--loop-file=inf", "--really-quiet",
             "--load-scripts=no", str(tone_file(folder))],
            env={**env, "PULSE_SINK": sink}, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            time.sleep(1.0)
            rec = record(server, sink, folder)
            time.sleep(0.3)
            subprocess.run(
                voice_coach(["run", *args, *LIVE, "--others", "duck"]),
                env={**env, "PULSE_SINK": sink}, check=True, stdin=subprocess.DEVNULL,
            )  # fmt: skip
            time.sleep(0.5)
            samples = rec.stop()
        finally:
            mpv.send_signal(signal.SIGTERM)
            mpv.wait(timeout=10)
        level = music_db(samples)
        sound = session_sound(samples)
        edge = RATE // 10
        first = edge + int(np.flatnonzero(sound[edge:] > 0.02)[0])
        full = float(np.median(level[-300:]))
        end_of_last = -10.0
        for cue in cues:
            if cue["at_s"] - end_of_last >= 2.0:  # the music had come back before it
                onset_ms = (first + round(cue["at_s"] * RATE)) // FRAME
                before = level[onset_ms - 1000 : onset_ms + 1]
                down = np.flatnonzero(before > full - 1.0)
                leads.append((len(before) - 1 - int(down[-1])) / 1000 if down.size else 1.0)
                depths.append(full - float(level[onset_ms]))
            end_of_last = max(end_of_last, cue["at_s"] + cue["duration_s"])
    return {
        "cues": len(leads),
        "lead_s": {"median": float(np.median(leads)), "min": min(leads), "max": max(leads)},
        "down_at_onset_db": {"median": float(np.median(depths)), "min": min(depths)},
    }


def pause_to_silence(server: str, folder: Path, runs: int) -> dict[str, object]:
    """``playerctl pause`` 50 ms into the first rep's word; the recording's last sound
    before 0.1 s of silence, from the command and from the word's last sample."""
    bus = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--print-address=1"], stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True,  # its warning of a file limit it cannot raise
    )  # fmt: skip
    env = {
        **os.environ, "PULSE_SERVER": server,
        "DBUS_SESSION_BUS_ADDRESS": bus.stdout.readline().strip(),  # type: ignore[union-attr]
    }  # fmt: skip
    args = [*SESSION, "--reps", "2"]
    cues = script(args, env)["cues"]
    word = next(c for c in cues if c["rep"] == 1 and c["kind"] == "say")
    from_command, after_word = [], []
    try:
        for run_no in range(runs):
            sink = new_sink(server, f"bench_pause_{os.getpid()}_{run_no}_{time.monotonic_ns()}")
            rec = record(server, sink, folder)
            run = subprocess.Popen(
                voice_coach(["run", *args, *LIVE, "--others", "keep"]),
                env={**env, "PULSE_SINK": sink},
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            )  # fmt: skip
            first = None
            while first is None:
                time.sleep(0.005)
                samples = np.frombuffer(rec.path.read_bytes(), dtype="<f4")
                loud = np.flatnonzero(np.abs(samples) > 0.02)
                first = int(loud[0]) if loud.size else None
            start = first + round((word["at_s"] + 0.05) * RATE)
            while rec.frames() < start:
                time.sleep(0.002)
            sent = rec.frames()
            subprocess.run(["playerctl", "-p", "voice_coach", "pause"], env=env, check=True)
            time.sleep(1.5)
            subprocess.run(["playerctl", "-p", "voice_coach", "stop"], env=env, check=False)
            run.wait(timeout=60)
            samples = rec.stop()
            loud = np.flatnonzero(np.abs(samples[sent:]) > 1e-3)
            gaps = np.flatnonzero(np.diff(loud) > RATE // 10)
            last = sent + int(loud[gaps[0]] if gaps.size else loud[-1])
            word_end = first + round((word["at_s"] + word["duration_s"]) * RATE)
            from_command.append((last - sent) / RATE)
            after_word.append((last - word_end) / RATE)
    finally:
        bus.send_signal(signal.SIGTERM)
        bus.wait(timeout=10)

    def figures(values: list[float]) -> dict[str, float]:
        return {"median": float(np.median(values)), "min": min(values), "max": max(values)}

    return {"runs": runs, "word": word["text"], "from_command_s": figures(from_command),
            "after_the_word_s": figures(after_word)}  # fmt: skip


def bench_others(runs: int, reps: int) -> dict[str, object]:
    server = start_server()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            return {
                "duck": duck_leads(server, folder, runs, reps),
                "pause": pause_to_silence(server, folder, runs),
            }
    finally:
        unload_sinks(server)

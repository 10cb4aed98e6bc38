"""Live playback benchmarks: launch to first sound, and cue timing over a long session.

Everything is measured from the audio itself: each player gets its own PulseAudio null
sink (scripts/start-test-audio starts the server), parecord records the sink's monitor,
and the onset detector of the tests (tests/onsets.py) finds where every sound landed.
The naive peer is what a user might write instead: ``espeak-ng WORD; sleep 3`` in a
loop, which drifts by each word's length plus espeak-ng's start-up, every cycle.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from onsets import cue_onsets, expected_onsets, find_onsets  # noqa: E402

RATE = 48_000
NAIVE_BEAT_S = 3.0


@dataclass
class Recording:
    """parecord on one sink's monitor, writing raw float32 mono to a file."""

    sink: str
    path: Path
    process: subprocess.Popen[bytes]

    def frames(self) -> int:
        return self.path.stat().st_size // 4 if self.path.exists() else 0

    def stop(self) -> np.ndarray:
        self.process.terminate()
        self.process.wait(timeout=10)
        data = self.path.read_bytes()
        return np.frombuffer(data[: len(data) - len(data) % 4], dtype="<f4")


def start_server() -> str:
    out = subprocess.run(
        [str(ROOT / "scripts" / "start-test-audio")], capture_output=True, text=True, check=True
    ).stdout
    found = re.search(r"PULSE_SERVER=(\S+)", out)
    if not found:
        raise SystemExit("bench: the test PulseAudio server did not start")
    return found.group(1)


LOADED: list[str] = []


def new_sink(server: str, name: str) -> str:
    """A null sink of its own, unloaded by ``unload_sinks`` when the bench ends."""
    env = {**os.environ, "PULSE_SERVER": server}
    module = subprocess.run(
        ["pactl", "load-module", "module-null-sink", f"sink_name={name}", "rate=48000"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    LOADED.append(module)
    return name


def unload_sinks(server: str) -> None:
    env = {**os.environ, "PULSE_SERVER": server}
    while LOADED:
        subprocess.run(["pactl", "unload-module", LOADED.pop()], env=env, check=False)


def record(server: str, sink: str, folder: Path) -> Recording:
    path = folder / f"{sink}.raw"
    process = subprocess.Popen(
        [
            "parecord",
            "--raw",
            f"--device={sink}.monitor",
            f"--rate={RATE}",
            "--channels=1",
            "--format=float32le",
            "--latency-msec=10",
            str(path),
        ],
        env={**os.environ, "PULSE_SERVER": server},
    )
    rec = Recording(sink, path, process)
    deadline = time.monotonic() + 10
    while rec.frames() == 0:
        if time.monotonic() > deadline:
            raise SystemExit("bench: parecord delivered nothing")
        time.sleep(0.005)
    return rec


def voice_coach(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "voice_coach", *args]


def launch_to_first_sound(
    server: str, folder: Path, command: list[str], env: dict[str, str], runs: int
) -> list[float]:
    """Seconds from launching ``command`` to its first sound in the recording."""
    results = []
    for run in range(runs):
        sink = new_sink(server, f"bench_first_{os.getpid()}_{run}_{time.monotonic_ns()}")
        rec = record(server, sink, folder)
        time.sleep(0.2)
        launched_frame = rec.frames()
        subprocess.run(
            command,
            env={**env, "PULSE_SINK": sink},
            check=True,
            stdin=subprocess.DEVNULL,
            capture_output=True,
        )
        # parecord writes with about 10 ms of latency, so the frame noted at launch is
        # up to that much early: the figure errs long by at most that.
        samples = rec.stop()
        onsets = find_onsets(samples, RATE)
        if not onsets:
            raise SystemExit("bench: nothing was heard")
        results.append((onsets[0] - launched_frame) / RATE)
    return results


def long_session_errors(
    server: str,
    folder: Path,
    players: dict[str, tuple[list[str], Callable[[np.ndarray], np.ndarray]]],
    env: dict[str, str],
) -> dict[str, dict[str, float]]:
    """Play every player at once, each on its own sink; errors of each cue in ms."""
    running = {}
    for name, (command, _) in players.items():
        slug = re.sub(r"[^A-Za-z0-9]+", "_", name)
        sink = new_sink(server, f"bench_long_{slug}_{os.getpid()}")
        rec = record(server, sink, folder)
        proc = subprocess.Popen(
            command,
            env={**env, "PULSE_SINK": sink},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        running[name] = (rec, proc)
    report = {}
    try:
        for name, (rec, proc) in running.items():
            proc.wait()
            time.sleep(0.5)
            samples = rec.stop()
            try:
                errors_ms = players[name][1](samples)
            except SystemExit:
                # Kept for a look afterwards: the folder it was in goes with the bench.
                kept = Path(tempfile.gettempdir()) / f"voice-coach-bench-{rec.sink}.f32"
                kept.write_bytes(samples.tobytes())
                print(f"bench: {name}: recording kept in {kept} (float32, {RATE} Hz, mono)")
                raise
            report[name] = {
                "cues": len(errors_ms),
                "max_abs_ms": float(np.max(np.abs(errors_ms))),
                "mean_abs_ms": float(np.mean(np.abs(errors_ms))),
                "last_cue_ms": float(errors_ms[-1]),
            }
    finally:  # a failed check stops the players still playing, before their sinks go
        for rec, proc in running.values():
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=10)
            if rec.process.poll() is None:
                rec.process.terminate()
                rec.process.wait(timeout=10)
    return report


def ours(cues: list[dict]) -> Callable[[np.ndarray], np.ndarray]:
    def errors(samples: np.ndarray) -> np.ndarray:
        expected = np.array(expected_onsets(cues, RATE))
        found_all = find_onsets(samples, RATE)
        found = np.array(cue_onsets(found_all, cues, RATE, offset=found_all[0] - expected[0]))
        if len(found) != len(expected):
            raise SystemExit(f"bench: heard {len(found)} cues, expected {len(expected)}")
        return ((found - found[0]) - (expected - expected[0])) * 1000.0 / RATE

    return errors


def naive(beats: int) -> Callable[[np.ndarray], np.ndarray]:
    def errors(samples: np.ndarray) -> np.ndarray:
        found = np.array(find_onsets(samples, RATE)[:beats])
        expected = np.arange(len(found)) * NAIVE_BEAT_S * RATE
        return ((found - found[0]) - expected) * 1000.0 / RATE

    return errors


def bench_first_sound_by_engine(engines: list[str], runs: int) -> dict[str, object]:
    """Launch to first sound of ``run --reps 1`` with a warm cache, for each engine."""
    server = start_server()
    try:
        env = {**os.environ, "PULSE_SERVER": server}
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            env["VOICE_COACH_CACHE_DIR"] = str(folder / "cache")
            report = {}
            for engine in engines:
                args = ["--reps", "1", "--engine", engine]
                subprocess.run(
                    voice_coach(["script", *args]), env=env, check=True, capture_output=True
                )
                times = launch_to_first_sound(
                    server, folder, voice_coach(["run", "--quiet", *args]), env, runs
                )
                report[engine] = {
                    "median": float(np.median(times)),
                    "min": float(min(times)),
                    "max": float(max(times)),
                }
            return report
    finally:
        unload_sinks(server)


def bench_live(reps: int, first_runs: int, backends: list[str]) -> dict[str, object]:
    server = start_server()
    try:
        return _bench_live(server, reps, first_runs, backends)
    finally:
        unload_sinks(server)


def _bench_live(server: str, reps: int, first_runs: int, backends: list[str]) -> dict[str, object]:
    env = {**os.environ, "PULSE_SERVER": server}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env["VOICE_COACH_CACHE_DIR"] = str(folder / "cache")
        script = subprocess.run(
            voice_coach(["script", "--json", "--reps", str(reps), "--engine", "espeak-ng"]),
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        timeline = json.loads(script.stdout)
        first = {
            backend: launch_to_first_sound(
                server,
                folder,
                voice_coach(
                    ["run", "--backend", backend, "--quiet", "--reps", "1", "--engine", "espeak-ng"]
                ),
                env,
                first_runs,
            )
            for backend in backends
        }
        beats = 2 * reps
        loop = (
            f"for i in $(seq {reps}); do espeak-ng Squeeze; sleep 3; espeak-ng relax; sleep 3; done"
        )
        players = {
            backend: (
                voice_coach(
                    [
                        "run",
                        "--backend",
                        backend,
                        "--quiet",
                        "--reps",
                        str(reps),
                        "--engine",
                        "espeak-ng",
                    ]
                ),
                ours(timeline["cues"]),
            )
            for backend in backends
        }
        players["naive: espeak-ng WORD; sleep 3"] = (["bash", "-c", loop], naive(beats))
        long = long_session_errors(server, folder, players, env)
    return {
        "session_s": timeline["duration_s"],
        "reps": reps,
        "launch_to_first_sound_s": {
            name: {"median": float(np.median(v)), "min": float(min(v)), "max": float(max(v))}
            for name, v in first.items()
        },
        "long_session": long,
    }

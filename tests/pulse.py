"""A real PulseAudio server with a null sink, for tests that play live audio.

``scripts/start-test-audio`` starts the server (or finds it running); ``record_while``
records the sink's monitor with ``parecord`` while a function plays, so a test can find
where each sound landed, in samples, in what actually came out.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
START_SCRIPT = ROOT / "scripts" / "start-test-audio"
RECORD_RATE = 48_000


@dataclass(frozen=True)
class PulseServer:
    server: str
    sink: str
    module: str = ""

    @property
    def monitor(self) -> str:
        return f"{self.sink}.monitor"


def missing_tools() -> list[str]:
    return [tool for tool in ("pulseaudio", "pactl", "parecord") if shutil.which(tool) is None]


_started: list[PulseServer] = []


def start_test_audio() -> PulseServer:
    """The test server (started if need be) and a null sink of this process's own.

    ``PULSE_SERVER`` and ``PULSE_SINK`` are set for this process and every child, so
    PortAudio and simpleaudio (through ALSA's pulse plugin) play into that sink and
    nothing else does: test runs on one machine cannot hear each other.
    """
    if _started:
        return _started[0]
    missing = missing_tools()
    if missing:
        pytest.skip(f"PulseAudio is not installed (missing {', '.join(missing)})")
    result = subprocess.run(
        [str(START_SCRIPT)], capture_output=True, text=True, timeout=30, check=False
    )
    found = re.search(r"PULSE_SERVER=(\S+)", result.stdout)
    if result.returncode != 0 or not found:
        pytest.skip(f"the test PulseAudio server did not start: {result.stderr.strip()}")
    assert found is not None
    server = found.group(1)
    sink = f"voice_coach_test_{os.getpid()}"
    loaded = subprocess.run(
        ["pactl", "load-module", "module-null-sink", f"sink_name={sink}",
         f"rate={RECORD_RATE}", "channels=2"],
        env={**os.environ, "PULSE_SERVER": server},
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    if loaded.returncode != 0:
        pytest.skip(f"could not add a null sink to the test server: {loaded.stderr.strip()}")
    os.environ["PULSE_SERVER"] = server
    os.environ["PULSE_SINK"] = sink
    _reload_portaudio()
    _started.append(PulseServer(server, sink, loaded.stdout.strip()))
    atexit.register(stop_test_audio)
    return _started[0]


def stop_test_audio() -> None:
    """Remove this process's sink (the server stays for the next run)."""
    while _started:
        pulse = _started.pop()
        subprocess.run(
            ["pactl", "unload-module", pulse.module],
            env={**os.environ, "PULSE_SERVER": pulse.server},
            capture_output=True, timeout=30, check=False,
        )  # fmt: skip


def _reload_portaudio() -> None:
    """PortAudio lists devices once, when sounddevice is imported; if an earlier test
    imported it before the server was up, it would see no device at all."""
    sd = sys.modules.get("sounddevice")
    if sd is not None:
        sd._terminate()
        sd._initialize()


@dataclass(frozen=True)
class Tap:
    """The recording while it is being made, for a test that must act on what is heard
    (send a signal while a word sounds) and know where in the recording it acted.

    ``frames()`` is the recording's "now": what ``parecord`` has written so far, which
    trails what the sink plays by at most its fragment (``--latency-msec=20``)."""

    path: Path

    def frames(self) -> int:
        return self.path.stat().st_size // 4

    def read(self, start: int, count: int) -> np.ndarray:
        with self.path.open("rb") as raw:
            raw.seek(4 * max(0, start))
            return np.frombuffer(raw.read(4 * count), dtype="<f4")


def record_while(
    play: Callable[[], object] | Callable[[Tap], object],
    server: PulseServer,
    tail_s: float = 0.5,
    rate: int = RECORD_RATE,
    *,
    tap: bool = False,
) -> tuple[np.ndarray, int]:
    """Mono float32 samples of everything the sink played while ``play()`` ran, and the rate.

    Recording starts (and is seen to deliver samples) before ``play`` is called and goes on
    for ``tail_s`` after it returns, so ``play`` should return once its sound has ended.
    With ``tap``, ``play`` is given the recording as it grows (``Tap``).
    """
    out_dir = Path(os.environ.get("TMPDIR", "/tmp"))
    path = out_dir / f"voice-coach-record-{os.getpid()}-{time.monotonic_ns()}.raw"
    recorder = subprocess.Popen(
        [
            "parecord",
            "--raw",
            f"--device={server.monitor}",
            f"--rate={rate}",
            "--channels=1",
            "--format=float32le",
            "--latency-msec=20",
            str(path),
        ],
        env={**os.environ, "PULSE_SERVER": server.server, "PULSE_SINK": server.sink},
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for_samples(path, recorder)
        play(Tap(path)) if tap else play()  # type: ignore[call-arg]
        time.sleep(tail_s)
    finally:
        recorder.terminate()
        try:
            recorder.wait(timeout=5)
        except subprocess.TimeoutExpired:
            recorder.kill()
            recorder.wait()
    data = path.read_bytes()
    path.unlink(missing_ok=True)
    usable = len(data) - len(data) % 4
    return np.frombuffer(data[:usable], dtype="<f4").astype(np.float32), rate


def _wait_for_samples(path: Path, recorder: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if recorder.poll() is not None:
            err = recorder.stderr.read().decode(errors="replace") if recorder.stderr else ""
            raise RuntimeError(f"parecord exited early: {err.strip()}")
        if path.exists() and path.stat().st_size > 0:
            return
        time.sleep(0.01)
    raise RuntimeError("parecord delivered no samples within 10 s")


def loud_runs(
    samples: np.ndarray, rate: int, threshold: float = 0.05, min_gap_s: float = 0.05
) -> list[tuple[int, int]]:
    """(first, last) sample of each stretch louder than ``threshold``; quiet spells shorter
    than ``min_gap_s`` (a sine's zero crossings) do not split a stretch."""
    loud = np.flatnonzero(np.abs(samples) > threshold)
    if loud.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(loud) > min_gap_s * rate)
    firsts = np.concatenate([[loud[0]], loud[breaks + 1]])
    lasts = np.concatenate([loud[breaks], [loud[-1]]])
    return [(int(a), int(b)) for a, b in zip(firsts, lasts, strict=True)]


def max_step(samples: np.ndarray) -> float:
    """The largest jump between neighbouring samples: a click is a jump no tone makes."""
    return float(np.max(np.abs(np.diff(samples)))) if len(samples) > 1 else 0.0


class HeardKeys:
    """A keyboard for ``play_live`` that presses each key once the session has been
    *heard* to reach its time: session time is read from the recording as it grows (the
    first sound is the start tone, session time 0), so a key lands at the same place in
    the session however slowly the machine started it. ``"^C"`` stands for Ctrl-C
    (raised as KeyboardInterrupt, as the signal is in the main thread)."""

    active = True
    listening = True

    def __init__(self, tap: Tap, presses: list[tuple[float, str]], level: float = 0.05) -> None:
        self.tap = tap
        self.presses = sorted(presses)
        self.level = level
        self.start: int | None = None
        self.pressed_at: list[tuple[str, int]] = []  # (key, recording frame)

    def heard_s(self) -> float | None:
        now = self.tap.frames()
        if self.start is None:
            loud = np.flatnonzero(np.abs(self.tap.read(0, now)) > self.level)
            if not loud.size:
                return None
            self.start = int(loud[0])
        return (now - self.start) / RECORD_RATE

    def read(self, timeout_s: float) -> str | None:
        heard = self.heard_s()
        if heard is not None and self.presses and heard >= self.presses[0][0]:
            key = self.presses.pop(0)[1]
            self.pressed_at.append((key, self.tap.frames()))
            if key == "^C":
                raise KeyboardInterrupt
            return key
        time.sleep(min(timeout_s, 0.005))
        return None

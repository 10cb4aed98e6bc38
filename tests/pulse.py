"""A real PulseAudio server with a null sink, for tests that play live audio.

``scripts/start-test-audio`` starts the server (or finds it running); ``record_while``
records the sink's monitor with ``parecord`` while a function plays, so a test can find
where each sound landed, in samples, in what actually came out.
"""

from __future__ import annotations

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
SINK = "voice_coach_null"
RECORD_RATE = 48_000


@dataclass(frozen=True)
class PulseServer:
    server: str
    sink: str

    @property
    def monitor(self) -> str:
        return f"{self.sink}.monitor"


def skip_or_fail(reason: str) -> None:
    """Skip where the machine lacks what a test needs, but never in CI: there a skip
    would hide a live-playback test that silently stopped running."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: this test must run in CI)")
    pytest.skip(reason)


def missing_tools() -> list[str]:
    return [tool for tool in ("pulseaudio", "pactl", "parecord") if shutil.which(tool) is None]


def start_test_audio() -> PulseServer:
    """The test server (started if need be), with ``PULSE_SERVER`` set for this process and
    every child, so PortAudio and simpleaudio (through ALSA's pulse plugin) play into it."""
    missing = missing_tools()
    if missing:
        skip_or_fail(f"PulseAudio is not installed (missing {', '.join(missing)})")
    result = subprocess.run(
        [str(START_SCRIPT)], capture_output=True, text=True, timeout=30, check=False
    )
    found = re.search(r"PULSE_SERVER=(\S+)", result.stdout)
    if result.returncode != 0 or not found:
        skip_or_fail(f"the test PulseAudio server did not start: {result.stderr.strip()}")
    assert found is not None
    os.environ["PULSE_SERVER"] = found.group(1)
    _reload_portaudio()
    return PulseServer(found.group(1), SINK)


def _reload_portaudio() -> None:
    """PortAudio lists devices once, when sounddevice is imported; if an earlier test
    imported it before the server was up, it would see no device at all."""
    sd = sys.modules.get("sounddevice")
    if sd is not None:
        sd._terminate()
        sd._initialize()


def record_while(
    play: Callable[[], object],
    server: PulseServer,
    tail_s: float = 0.5,
    rate: int = RECORD_RATE,
) -> tuple[np.ndarray, int]:
    """Mono float32 samples of everything the sink played while ``play()`` ran, and the rate.

    Recording starts (and is seen to deliver samples) before ``play`` is called and goes on
    for ``tail_s`` after it returns, so ``play`` should return once its sound has ended.
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
        env={**os.environ, "PULSE_SERVER": server.server},
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for_samples(path, recorder)
        play()
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


def find_onsets(
    samples: np.ndarray, rate: int, min_gap_s: float = 0.05, threshold: float = 0.05
) -> list[int]:
    """The sample where each sound starts, after at least ``min_gap_s`` of quiet."""
    return [first for first, _ in loud_runs(samples, rate, threshold, min_gap_s)]


def max_step(samples: np.ndarray) -> float:
    """The largest jump between neighbouring samples: a click is a jump no tone makes."""
    return float(np.max(np.abs(np.diff(samples)))) if len(samples) > 1 else 0.0

"""A soak of live playback under load: many short sessions beside two CPU-bound processes.

Each ``voice-coach run --reps 1`` plays on its own null sink and is recorded; the
recording is compared with the export of the same session (48 kHz, the sink's rate) by
cross-correlation: first where the session starts, then each cue against its own stretch
of the export, so a cue played late (an underrun before it) shows as an error in ms.
The player's own count of underruns comes from ``run``'s note.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile
from bench_live import RATE, new_sink, record, start_server, unload_sinks, voice_coach

SESSION = ["--reps", "1", "--engine", "espeak-ng"]
HOG = "while True: pass"
SEARCH_S = 0.05  # how far from where it belongs a cue is looked for


def bench_soak(sessions: int, backends: list[str]) -> dict[str, object]:
    server = start_server()
    env = {**os.environ, "PULSE_SERVER": server}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        reference = folder / "reference.wav"
        subprocess.run(
            voice_coach(["export", *SESSION, "--sample-rate", str(RATE), "-o", str(reference),
                         "-q"]), env=env, check=True,
        )  # fmt: skip
        expected, _ = soundfile.read(reference, dtype="float32")
        cues = json.loads(
            subprocess.run(
                voice_coach(["script", "--json", *SESSION]),
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )["cues"]
        hogs = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(2)]
        try:
            report = {
                backend: _soak(server, folder, env, backend, sessions, expected, cues)
                for backend in backends
            }
        finally:
            for hog in hogs:
                hog.kill()
                hog.wait()
            unload_sinks(server)
    return {"sessions": sessions, "load": "two CPU-bound processes", "backends": report}


def _soak(
    server: str,
    folder: Path,
    env: dict[str, str],
    backend: str,
    sessions: int,
    expected: np.ndarray,
    cues: list[dict],
) -> dict[str, object]:
    underruns, with_underruns, worst_ms = 0, 0, 0.0
    # One sink for the back-end's sessions: each costs the server file descriptors until
    # the bench ends, and a hundred of them reached its limit.
    sink = new_sink(server, f"soak_{backend}_{os.getpid()}")
    for _number in range(sessions):
        rec = record(server, sink, folder)
        done = subprocess.run(
            voice_coach(["run", *SESSION, "--quiet", "--no-log", "--backend", backend]),
            env={**env, "PULSE_SINK": sink}, stdin=subprocess.DEVNULL, capture_output=True,
            text=True, check=True,
        )  # fmt: skip
        heard = rec.stop()
        rec.path.unlink(missing_ok=True)
        ran_short = re.search(r"ran short (\d+) time", done.stderr)
        count = int(ran_short[1]) if ran_short else 0
        underruns += count
        with_underruns += count > 0
        worst_ms = max(worst_ms, max(abs(e) for e in cue_errors_ms(heard, expected, cues)))
    return {
        "underruns": underruns,
        "sessions_with_underruns": with_underruns,
        "worst_cue_error_ms": worst_ms,
    }


def cue_errors_ms(heard: np.ndarray, expected: np.ndarray, cues: list[dict]) -> list[float]:
    """Each cue's offset in the recording against the export, after aligning the two at
    the start: 0 where the device played every sample when it should."""
    start = _best_lag(heard, expected[:RATE], 0, len(heard) - RATE)
    errors = []
    span = round(SEARCH_S * RATE)
    for cue in cues:
        at = round(cue["at_s"] * RATE)
        piece = expected[at : at + round(0.2 * RATE)]
        if not np.any(np.abs(piece) > 1e-3):
            continue
        found = _best_lag(heard, piece, start + at - span, start + at + span)
        errors.append((found - (start + at)) / RATE * 1000)
    return errors


def _best_lag(heard: np.ndarray, piece: np.ndarray, low: int, high: int) -> int:
    """Where in ``heard`` (from ``low`` to ``high``) ``piece`` matches best: the
    cross-correlation through the FFT (a second of the export against a whole recording
    took seconds directly)."""
    low = max(0, low)
    window = heard[low : high + len(piece)].astype(np.float64)
    if len(window) < len(piece):
        raise SystemExit("bench: the recording is shorter than the session")
    size = 1 << (len(window) + len(piece) - 1).bit_length()
    spectrum = np.fft.rfft(window, size) * np.conj(np.fft.rfft(piece, size))
    scores = np.fft.irfft(spectrum, size)[: len(window) - len(piece) + 1]
    return low + int(np.argmax(scores))

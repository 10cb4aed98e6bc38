"""The start-up tricks of ``voice_coach/cli/startup.py``, each measured by leaving it out.

A warm ``voice-coach script`` and a warm 10-minute WAV export (the phrases already in
the cache), each in a fresh process, by turns: as shipped, then without each trick. A
trick stays where it saves at least 5% of a command's wall time (docs/BENCHMARKS.md).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Both started the same way (python -c), so only the narrowing differs between them.
BY_C = "import sys; from voice_coach.cli import entry_point; sys.argv = ['voice-coach', *sys.argv[1:]]; entry_point()"  # noqa: E501
WHOLE_APP = (
    "import sys; from voice_coach.cli import startup; "
    "startup.narrowed = lambda app, argv: app; "
    "from voice_coach.cli import entry_point; sys.argv = ['voice-coach', *sys.argv[1:]]; "
    "entry_point()"
)
OUT = str(Path(tempfile.gettempdir()) / f"voice-coach-bench-startup-{os.getpid()}.wav")
COMMANDS = {
    "script": ["script"],
    "export": ["export", "--reps", "100", "--cues", "voice", "--engine", "espeak-ng", "-q",
               "-o", OUT, "--force"],
}  # fmt: skip


def variants(command: list[str]) -> dict[str, tuple[list[str], dict[str, str]]]:
    shipped = [sys.executable, "-m", "voice_coach", *command]
    cores = str(os.cpu_count() or 2)
    return {
        "as shipped": (shipped, {}),
        "without the OpenBLAS setting": (shipped, {"OPENBLAS_NUM_THREADS": cores}),
        "without the quick exit": (shipped, {"VOICE_COACH_DEBUG": "1"}),
        "as shipped, started by python -c": ([sys.executable, "-c", BY_C, *command], {}),
        "without building one command only": ([sys.executable, "-c", WHOLE_APP, *command], {}),
    }


def bench_startup(runs: int) -> dict[str, object]:
    try:
        return {name: _bench(command, runs) for name, command in COMMANDS.items()}
    finally:
        Path(OUT).unlink(missing_ok=True)


def _bench(command: list[str], runs: int) -> dict[str, object]:
    chosen = variants(command)
    env = {
        k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
    }
    for argv, extra in chosen.values():  # warm the phrase cache and the page cache
        subprocess.run(argv, env={**env, **extra}, stdout=subprocess.DEVNULL, check=True)
    walls: dict[str, list[float]] = {name: [] for name in chosen}
    for _ in range(runs):
        for name, (argv, extra) in chosen.items():
            started = time.perf_counter()
            subprocess.run(argv, env={**env, **extra}, stdout=subprocess.DEVNULL, check=True)
            walls[name].append(time.perf_counter() - started)
    medians = {name: statistics.median(values) for name, values in walls.items()}
    shipped = medians["as shipped"]
    saves = {name: 1 - shipped / wall for name, wall in medians.items()}
    saves["without building one command only"] = (
        1
        - medians["as shipped, started by python -c"] / medians["without building one command only"]
    )
    saves["as shipped, started by python -c"] = 0.0
    return {
        "command": " ".join(["voice-coach", *command]),
        "runs": runs,
        "median_wall_s": medians,
        "saves": saves,
    }
